/**
 * What the Azure providers receive: a `TokenCredential`, or one of the shared-key forms some services take.
 *
 * | form | Blob | Cosmos DB | Redis (Entra ID) |
 * | --- | --- | --- | --- |
 * | `TokenCredential` | yes | yes | yes |
 * | `ConnectionString` | yes | no | no |
 * | `AccountKey` | yes (`StorageSharedKeyCredential`) | yes (`key`) | no |
 * | `Sas` | yes | no | no |
 *
 * Every form is safe to print: secrets are `Redacted`, and the `TokenCredential` is a wrapper that hides the
 * `@azure/identity` object (which keeps a client secret or certificate password as a plain field, visible to
 * `util.inspect`) and scrubs secret values from any error the SDK raises.
 *
 * @since 0.1.0
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth"
import { Effect, Redacted } from "effect"
import type { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { ProviderUnavailableError } from "../../LeaseError.ts"
import type { AuthMode } from "./AzureAuthOptions.ts"
import { invalid, providerName } from "./internal/errors.ts"
import { type Secrets, scrubError } from "./internal/secrets.ts"

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom")

/**
 * A `TokenCredential` that is safe to log. `getToken` delegates to the wrapped credential; errors are scrubbed
 * of the secrets the credential was built from, keeping their class and `name`.
 *
 * @since 0.1.0
 */
export class SafeTokenCredential implements TokenCredential {
  // ES private fields are invisible to util.inspect, JSON.stringify and structured logging.
  readonly #inner: TokenCredential
  readonly #secrets: Secrets
  /** What this credential is, without secrets, e.g. `ClientSecret(options, tenant …, client …)`. */
  readonly description: string

  constructor(inner: TokenCredential, options: { readonly description: string; readonly secrets?: Secrets }) {
    this.#inner = inner
    this.#secrets = options.secrets ?? []
    this.description = options.description
  }

  async getToken(scopes: string | Array<string>, options?: GetTokenOptions): Promise<AccessToken | null> {
    try {
      return await this.#inner.getToken(scopes, options)
    } catch (error) {
      throw scrubError(error, this.#secrets)
    }
  }

  toString(): string {
    return `AzureTokenCredential(${this.description})`
  }

  toJSON(): { readonly _tag: "AzureTokenCredential"; readonly description: string } {
    return { _tag: "AzureTokenCredential", description: this.description }
  }

  [inspectSymbol](): string {
    return this.toString()
  }
}

/**
 * A credential for Microsoft Entra ID tokens.
 *
 * @since 0.1.0
 */
export interface TokenCredentialForm {
  readonly _tag: "TokenCredential"
  /** The mode it was built from (`Auto` also for a chain). */
  readonly mode: AuthMode | "Custom"
  readonly credential: TokenCredential
  /** The credentials tried, in order, without secrets. */
  readonly description: string
}

/**
 * A storage connection string.
 *
 * @since 0.1.0
 */
export interface ConnectionStringForm {
  readonly _tag: "ConnectionString"
  readonly connectionString: Redacted.Redacted<string>
  /** `AccountName`, when the string has one. */
  readonly accountName?: string | undefined
  /** `BlobEndpoint`, when the string has one. */
  readonly blobEndpoint?: string | undefined
}

/**
 * An account name and shared key.
 *
 * @since 0.1.0
 */
export interface AccountKeyForm {
  readonly _tag: "AccountKey"
  readonly accountName: string
  readonly accountKey: Redacted.Redacted<string>
  readonly endpoint?: string | undefined
}

/**
 * A shared access signature (the query string, without a leading `?`).
 *
 * @since 0.1.0
 */
export interface SasForm {
  readonly _tag: "Sas"
  readonly sasToken: Redacted.Redacted<string>
  readonly endpoint?: string | undefined
}

/**
 * What `AzureCredentials` provides.
 *
 * @since 0.1.0
 */
export type AzureCredential = TokenCredentialForm | ConnectionStringForm | AccountKeyForm | SasForm

/**
 * Wraps any `TokenCredential` (a fake in tests, one built by the application) as a credential form.
 *
 * @since 0.1.0
 */
export const fromTokenCredential = (
  credential: TokenCredential,
  options?: { readonly description?: string; readonly mode?: AuthMode | "Custom" }
): TokenCredentialForm => {
  const description =
    options?.description ?? (credential instanceof SafeTokenCredential ? credential.description : "custom")
  return {
    _tag: "TokenCredential",
    mode: options?.mode ?? "Custom",
    credential:
      credential instanceof SafeTokenCredential ? credential : new SafeTokenCredential(credential, { description }),
    description
  }
}

/**
 * The `TokenCredential`, or an error for services that accept nothing else (Redis with Entra ID).
 *
 * @since 0.1.0
 */
export const requireTokenCredential = (
  credential: AzureCredential,
  service: string
): Effect.Effect<TokenCredential, InvalidLeaseOptionsError> =>
  credential._tag === "TokenCredential"
    ? Effect.succeed(credential.credential)
    : Effect.fail(
        invalid(
          "mode",
          `${service} needs a token credential (Auto, ManagedIdentity, WorkloadIdentity, ClientSecret, ClientCertificate or DeveloperTools), not ${credential._tag}`
        )
      )

/**
 * A storage connection string for a shared-key form: the string itself, or one built from an account key or a
 * SAS token and an endpoint. Without an endpoint, an account key targets the public cloud
 * (`EndpointSuffix=core.windows.net`).
 *
 * @since 0.1.0
 */
export const toConnectionString = (
  credential: AzureCredential
): Effect.Effect<Redacted.Redacted<string>, InvalidLeaseOptionsError> => {
  switch (credential._tag) {
    case "ConnectionString":
      return Effect.succeed(credential.connectionString)
    case "AccountKey": {
      const { accountName, endpoint } = credential
      const protocol = endpoint === undefined ? "https" : new URL(endpoint).protocol.replace(":", "")
      const location = endpoint === undefined ? "EndpointSuffix=core.windows.net" : `BlobEndpoint=${endpoint}`
      return Effect.succeed(
        Redacted.make(
          `DefaultEndpointsProtocol=${protocol};AccountName=${accountName};` +
            `AccountKey=${Redacted.value(credential.accountKey)};${location};`
        )
      )
    }
    case "Sas":
      return credential.endpoint === undefined
        ? Effect.fail(invalid("endpoint", "is required to build a connection string from a SAS token"))
        : Effect.succeed(
            Redacted.make(
              `BlobEndpoint=${credential.endpoint};SharedAccessSignature=${Redacted.value(credential.sasToken)}`
            )
          )
    case "TokenCredential":
      return Effect.fail(invalid("mode", "a token credential has no connection string"))
  }
}

const statusOf = (error: unknown): number | undefined => {
  const status: unknown = typeof error === "object" && error !== null ? Reflect.get(error, "statusCode") : undefined
  return typeof status === "number" ? status : undefined
}

const nameOf = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined)

// Not configured (no managed identity here, not signed in) and rejected credentials do not heal by retrying;
// throttling, server errors and network failures may.
const isRetryable = (error: unknown): boolean => {
  const name = nameOf(error)
  if (name === "CredentialUnavailableError" || name === "AggregateAuthenticationError") return false
  const status = statusOf(error)
  if (status !== undefined) return status === 408 || status === 429 || status >= 500
  return name !== "AuthenticationError"
}

/**
 * Gets a token as an Effect, interruptibly. Failures become a `ProviderUnavailableError` (operation `connect`),
 * with `isRetryable` false when the credential is not configured or was rejected.
 *
 * @since 0.1.0
 */
export const getToken = (
  credential: TokenCredential,
  scopes: string | ReadonlyArray<string>,
  options?: { readonly provider?: string }
): Effect.Effect<AccessToken, ProviderUnavailableError> => {
  const provider = options?.provider ?? providerName
  return Effect.tryPromise({
    try: (signal) => credential.getToken(typeof scopes === "string" ? scopes : [...scopes], { abortSignal: signal }),
    catch: (cause) =>
      new ProviderUnavailableError({
        provider,
        operation: "connect",
        isRetryable: isRetryable(cause),
        // A SafeTokenCredential has already scrubbed the error of its secrets.
        detail: `could not get a Microsoft Entra ID token: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  }).pipe(
    Effect.flatMap((token) =>
      token === null
        ? Effect.fail(
            new ProviderUnavailableError({
              provider,
              operation: "connect",
              isRetryable: false,
              detail: "the credential returned no token"
            })
          )
        : Effect.succeed(token)
    )
  )
}
