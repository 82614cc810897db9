/**
 * The `AzureCredentials` service: Azure authentication for the Blob, Cosmos DB and Redis (Entra ID) providers.
 *
 * It turns `AzureAuthOptions` (given directly, or read from `Config` / the environment) into an
 * {@link AzureCredential}: a `TokenCredential`, or a connection string, account key or SAS token for the services
 * that take them.
 *
 * ```ts
 * // From options
 * const Credentials = AzureCredentials.layer({ mode: "ManagedIdentity", clientId: "…" })
 * // From AZURE_AUTH_MODE, AZURE_TENANT_ID, … (Auto when AZURE_AUTH_MODE is unset)
 * const FromEnv = AzureCredentials.layerConfig()
 * // Without layers
 * const credential = yield* makeCredential({ mode: "Auto" })
 * ```
 *
 * The production rule: when `NODE_ENV=production` (or `staging`), or `AZURE_ENVIRONMENT` / the `environment`
 * option name a non-development environment, no path reaches a developer credential. `Auto` leaves developer
 * tools out of its chain; `DeveloperTools` fails with an `InvalidLeaseOptionsError`. See `CredentialPlan` and
 * docs/authentication.md.
 *
 * Credentials are built when the layer is built. Certificate files and workload-identity token files are checked
 * then, so a wrong path or password fails at startup, naming the field. No token is requested: the first
 * request happens when a provider first talks to Azure.
 *
 * @since 0.1.0
 */
import type { TokenCredential } from "@azure/core-auth"
import { type Config, Context, Effect, Layer } from "effect"
import type { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { fromEnvironment, variableLabel } from "./AzureAuthConfig.ts"
import { type AzureAuthOptionsInput, decode, type FieldLabel } from "./AzureAuthOptions.ts"
import {
  type AzureCredential,
  fromTokenCredential,
  SafeTokenCredential,
  type TokenCredentialForm
} from "./AzureCredential.ts"
import * as AzureEnvironment from "./AzureEnvironment.ts"
import {
  CredentialFactory,
  type CredentialFactoryShape,
  describe,
  isDeveloperTool,
  secretsOf
} from "./CredentialFactory.ts"
import { type CredentialPlan, plan } from "./CredentialPlan.ts"
import { invalid } from "./internal/errors.ts"
import { scrubText } from "./internal/secrets.ts"
import { checkAccountKey, checkConnectionString, normalizeSasToken } from "./internal/storage.ts"

const identity: FieldLabel = (field) => field

const build = (
  credentialPlan: CredentialPlan,
  factory: CredentialFactoryShape,
  fieldLabel: FieldLabel
): Effect.Effect<TokenCredentialForm, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const { mode, recipes, status } = credentialPlan
    // Defence in depth: planning cannot produce this (a developer recipe needs a permit production never
    // issues), so meeting it here means a bug, and a bug must not hand out a developer credential.
    for (const recipe of recipes) {
      if (isDeveloperTool(recipe) && (status.production || !AzureEnvironment.DeveloperToolsPermit.is(recipe.permit))) {
        return yield* Effect.die(new Error(`BUG: a ${recipe._tag} credential was planned in production`))
      }
    }
    const secrets = recipes.flatMap(secretsOf)
    const credentials = yield* Effect.forEach(recipes, (recipe) =>
      Effect.try({
        try: () => factory.create(recipe),
        catch: (cause) =>
          invalid(
            fieldLabel("mode"),
            scrubText(
              `@azure/identity rejected the ${recipe._tag} settings: ${cause instanceof Error ? cause.message : String(cause)}`,
              secrets
            )
          )
      })
    )
    const [first, ...rest] = credentials
    const inner = first !== undefined && rest.length === 0 ? first : factory.chain(credentials)
    const description = `${mode}: ${recipes.map(describe).join(" -> ")}`
    return {
      _tag: "TokenCredential",
      mode,
      credential: new SafeTokenCredential(inner, { description, secrets }),
      description
    } satisfies TokenCredentialForm
  })

const make = (input: unknown, fieldLabel: FieldLabel): Effect.Effect<AzureCredential, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const options = yield* decode(input, fieldLabel)
    yield* Effect.annotateCurrentSpan("azure.auth.mode", options.mode)
    switch (options.mode) {
      case "ConnectionString": {
        const info = yield* checkConnectionString(options.connectionString, fieldLabel("connectionString"))
        return { _tag: "ConnectionString", connectionString: options.connectionString, ...info } as const
      }
      case "AccountKey": {
        yield* checkAccountKey(options.accountKey, fieldLabel("accountKey"))
        return {
          _tag: "AccountKey",
          accountName: options.accountName,
          accountKey: options.accountKey,
          endpoint: options.endpoint
        } as const
      }
      case "Sas": {
        const sasToken = yield* normalizeSasToken(options.sasToken, fieldLabel("sasToken"))
        return { _tag: "Sas", sasToken, endpoint: options.endpoint } as const
      }
      default: {
        const environment = yield* AzureEnvironment.read
        const credentialPlan = yield* plan(options, environment, fieldLabel)
        const factory = yield* CredentialFactory
        const credential = yield* build(credentialPlan, factory, fieldLabel)
        yield* Effect.annotateCurrentSpan("azure.auth.credentials", credential.description)
        yield* Effect.logDebug("Azure credential ready").pipe(
          Effect.annotateLogs({
            "azure.auth.mode": credential.mode,
            "azure.auth.credentials": credential.description,
            "azure.auth.production": credentialPlan.status.production ? credentialPlan.status.signals.join(", ") : "no"
          })
        )
        return credential
      }
    }
  }).pipe(Effect.withSpan("AzureCredentials.make"))

/**
 * Builds a credential from options, without layers. Reads the environment (production status, the standard
 * `AZURE_*` variables) through the current `ConfigProvider`.
 *
 * @since 0.1.0
 */
export const makeCredential = (
  options?: AzureAuthOptionsInput
): Effect.Effect<AzureCredential, InvalidLeaseOptionsError> => make(options, identity)

/**
 * Builds a credential from the standard environment variables (see `AzureAuthConfig`), or from a `Config`
 * yielding options in their input form. Errors name the variable at fault when reading the environment.
 *
 * @since 0.1.0
 */
export const makeCredentialConfig = (
  config?: Config.Config<unknown>
): Effect.Effect<AzureCredential, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const source = config ?? fromEnvironment
    const label = config === undefined ? variableLabel : identity
    const input = yield* Effect.mapError(source, AzureEnvironment.configFailure(label("mode")))
    return yield* make(input, label)
  })

/**
 * The Azure credential for the Blob, Cosmos DB and Redis providers.
 *
 * @since 0.1.0
 */
export class AzureCredentials extends Context.Service<AzureCredentials, AzureCredential>()(
  "distributed-leasing/AzureCredentials"
) {
  /** {@link makeCredential}. */
  static readonly make = makeCredential

  /** A layer built from options. */
  static layer(options?: AzureAuthOptionsInput): Layer.Layer<AzureCredentials, InvalidLeaseOptionsError> {
    return Layer.effect(AzureCredentials, makeCredential(options))
  }

  /** A layer built from the standard environment variables, or from the given `Config`. */
  static layerConfig(config?: Config.Config<unknown>): Layer.Layer<AzureCredentials, InvalidLeaseOptionsError> {
    return Layer.effect(AzureCredentials, makeCredentialConfig(config))
  }

  /** A layer holding a given credential: a `TokenCredential` of your own (or a fake in tests), or any form. */
  static layerCredential(credential: AzureCredential | TokenCredential): Layer.Layer<AzureCredentials> {
    return Layer.succeed(AzureCredentials, "_tag" in credential ? credential : fromTokenCredential(credential))
  }
}
