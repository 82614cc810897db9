/**
 * Which credentials a token mode uses, in which order: the plan, as data.
 *
 * `Auto` tries, in order:
 *
 * 1. **environment credentials**: a client secret (`AZURE_CLIENT_SECRET`) or certificate
 *    (`AZURE_CLIENT_CERTIFICATE_PATH`, with `AZURE_CLIENT_CERTIFICATE_PASSWORD`), with `AZURE_TENANT_ID` and
 *    `AZURE_CLIENT_ID`;
 * 2. **workload identity**, when `AZURE_FEDERATED_TOKEN_FILE` is set (with `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`);
 * 3. **managed identity**: the `managedIdentityClientId` / `managedIdentityResourceId` option, else
 *    `AZURE_CLIENT_ID`, else system-assigned;
 * 4. **developer tools** (Azure CLI, Azure Developer CLI, VS Code), only outside production and unless
 *    `developerTools: false`.
 *
 * The chain is built here from explicit credentials, never with `DefaultAzureCredential`, whose own fallbacks
 * reach developer tools whatever the environment (the hole in the original library's guard). Half-configured
 * variables (a secret without a tenant, a secret *and* a certificate, a token file without a client id) are
 * errors rather than silently skipped links.
 *
 * @since 0.1.0
 */
import { constants } from "node:fs"
import { access } from "node:fs/promises"
import { Effect } from "effect"
import type { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import type {
  AuthMode,
  AutoOptions,
  ClientCertificateOptions,
  ClientSecretOptions,
  DeveloperToolsOptions,
  FieldLabel,
  ManagedIdentityOptions,
  WorkloadIdentityOptions
} from "./AzureAuthOptions.ts"
import {
  type AzureEnvironment,
  type AzureEnvironmentVariables,
  type ProductionStatus,
  permitDeveloperTools,
  withOption
} from "./AzureEnvironment.ts"
import {
  type ClientCertificateRecipe,
  type CredentialRecipe,
  developerTools,
  type ManagedIdentityRecipe,
  type WorkloadIdentityRecipe
} from "./CredentialFactory.ts"
import { type CertificateFields, checkCertificate, readCertificateFile } from "./internal/certificate.ts"
import { invalid } from "./internal/errors.ts"

/**
 * The options of the modes that produce a `TokenCredential`.
 *
 * @since 0.1.0
 */
export type TokenModeOptions =
  | AutoOptions
  | ManagedIdentityOptions
  | WorkloadIdentityOptions
  | ClientSecretOptions
  | ClientCertificateOptions
  | DeveloperToolsOptions

/**
 * The credentials to build for a mode, in the order they are tried.
 *
 * @since 0.1.0
 */
export interface CredentialPlan {
  readonly mode: AuthMode
  readonly recipes: ReadonlyArray<CredentialRecipe>
  readonly status: ProductionStatus
}

const identity: FieldLabel = (field) => field

const certificateRecipe = Effect.fnUntraced(function* (args: {
  readonly source: ClientCertificateRecipe["source"]
  readonly tenantId: string
  readonly clientId: string
  readonly certificate: ClientCertificateRecipe["certificate"]
  readonly certificatePassword: ClientCertificateRecipe["certificatePassword"]
  readonly sendCertificateChain: boolean
  readonly authorityHost: string | undefined
  readonly fields: CertificateFields
}) {
  const { certificate, certificatePassword, fields } = args
  // Checked now, not on the first token request: a wrong path or password is a startup error naming its field.
  const pem = certificate._tag === "Path" ? yield* readCertificateFile(certificate.path, fields) : certificate.pem
  yield* checkCertificate(pem, certificatePassword, certificate._tag === "Path" ? fields.path : fields.content, fields)
  const recipe: ClientCertificateRecipe = {
    _tag: "ClientCertificate",
    source: args.source,
    tenantId: args.tenantId,
    clientId: args.clientId,
    certificate,
    certificatePassword,
    sendCertificateChain: args.sendCertificateChain,
    authorityHost: args.authorityHost
  }
  return recipe
})

const checkReadable = (path: string, field: string): Effect.Effect<void, InvalidLeaseOptionsError> =>
  Effect.tryPromise({
    try: () => access(path, constants.R_OK),
    catch: () => invalid(field, `cannot read the file ${JSON.stringify(path)}`)
  })

const sendChain = (value: string | undefined): boolean => value === "true" || value === "1"

/**
 * Step 1 of `Auto`: a service principal described by the standard variables, if any.
 *
 * @since 0.1.0
 */
export const environmentRecipe = (
  variables: AzureEnvironmentVariables
): Effect.Effect<CredentialRecipe | undefined, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const secret = variables.AZURE_CLIENT_SECRET
    const certificatePath = variables.AZURE_CLIENT_CERTIFICATE_PATH
    if (secret === undefined && certificatePath === undefined) return undefined
    if (secret !== undefined && certificatePath !== undefined) {
      return yield* invalid(
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH are both set: set one of them (a secret or a certificate)"
      )
    }
    const what = secret !== undefined ? "AZURE_CLIENT_SECRET" : "AZURE_CLIENT_CERTIFICATE_PATH"
    const tenantId = variables.AZURE_TENANT_ID
    if (tenantId === undefined) return yield* invalid("AZURE_TENANT_ID", `is required with ${what}`)
    const clientId = variables.AZURE_CLIENT_ID
    if (clientId === undefined) return yield* invalid("AZURE_CLIENT_ID", `is required with ${what}`)
    const authorityHost = variables.AZURE_AUTHORITY_HOST
    if (secret !== undefined) {
      const recipe: CredentialRecipe = {
        _tag: "ClientSecret",
        source: "environment",
        tenantId,
        clientId,
        clientSecret: secret,
        authorityHost
      }
      return recipe
    }
    return yield* certificateRecipe({
      source: "environment",
      tenantId,
      clientId,
      certificate: { _tag: "Path", path: certificatePath ?? "" },
      certificatePassword: variables.AZURE_CLIENT_CERTIFICATE_PASSWORD,
      sendCertificateChain: sendChain(variables.AZURE_CLIENT_SEND_CERTIFICATE_CHAIN),
      authorityHost,
      fields: {
        path: "AZURE_CLIENT_CERTIFICATE_PATH",
        content: "AZURE_CLIENT_CERTIFICATE_PATH",
        password: "AZURE_CLIENT_CERTIFICATE_PASSWORD"
      }
    })
  })

/**
 * Step 2 of `Auto`: workload identity, if `AZURE_FEDERATED_TOKEN_FILE` is set.
 *
 * @since 0.1.0
 */
export const workloadIdentityFromEnvironment = (
  variables: AzureEnvironmentVariables
): Effect.Effect<WorkloadIdentityRecipe | undefined, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const tokenFilePath = variables.AZURE_FEDERATED_TOKEN_FILE
    if (tokenFilePath === undefined) return undefined
    const tenantId = variables.AZURE_TENANT_ID
    if (tenantId === undefined) return yield* invalid("AZURE_TENANT_ID", "is required with AZURE_FEDERATED_TOKEN_FILE")
    const clientId = variables.AZURE_CLIENT_ID
    if (clientId === undefined) return yield* invalid("AZURE_CLIENT_ID", "is required with AZURE_FEDERATED_TOKEN_FILE")
    const recipe: WorkloadIdentityRecipe = {
      _tag: "WorkloadIdentity",
      source: "environment",
      tenantId,
      clientId,
      tokenFilePath,
      authorityHost: variables.AZURE_AUTHORITY_HOST
    }
    return recipe
  })

const autoManagedIdentity = (options: AutoOptions, variables: AzureEnvironmentVariables): ManagedIdentityRecipe =>
  options.managedIdentityClientId !== undefined
    ? { _tag: "ManagedIdentity", source: "options", clientId: options.managedIdentityClientId }
    : options.managedIdentityResourceId !== undefined
      ? { _tag: "ManagedIdentity", source: "options", resourceId: options.managedIdentityResourceId }
      : // Same convention as the Azure SDKs: AZURE_CLIENT_ID names a user-assigned identity.
        variables.AZURE_CLIENT_ID !== undefined
        ? { _tag: "ManagedIdentity", source: "environment", clientId: variables.AZURE_CLIENT_ID }
        : { _tag: "ManagedIdentity", source: "options" }

/**
 * The refusal of developer tools in production. The message says which settings made it production.
 *
 * @since 0.1.0
 */
export const developerToolsRefused = (status: ProductionStatus, field: string): InvalidLeaseOptionsError =>
  invalid(
    field,
    `DeveloperTools (Azure CLI, Azure Developer CLI, VS Code) is refused in production (${status.signals.join(", ")}); ` +
      "use ManagedIdentity, WorkloadIdentity, ClientSecret or ClientCertificate"
  )

/**
 * Plans the credentials for a token mode. `fieldLabel` renames option fields in errors (see
 * `AzureAuthOptions.decode`).
 *
 * @since 0.1.0
 */
export const plan = (
  options: TokenModeOptions,
  environment: AzureEnvironment,
  fieldLabel: FieldLabel = identity
): Effect.Effect<CredentialPlan, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const variables = environment.variables
    switch (options.mode) {
      case "Auto": {
        const status = withOption(environment, options.environment)
        const recipes: Array<CredentialRecipe> = []
        const fromEnvironment = yield* environmentRecipe(variables)
        if (fromEnvironment !== undefined) recipes.push(fromEnvironment)
        const workload = yield* workloadIdentityFromEnvironment(variables)
        if (workload !== undefined) recipes.push(workload)
        recipes.push(autoManagedIdentity(options, variables))
        // The only way to a developer credential: a permit, which production never issues.
        const permit = permitDeveloperTools(status)
        if (permit !== undefined && options.developerTools !== false) {
          for (const tool of developerTools) recipes.push({ _tag: tool, tenantId: options.tenantId, permit })
        }
        return { mode: options.mode, recipes, status }
      }
      case "ManagedIdentity": {
        const recipe: ManagedIdentityRecipe = {
          _tag: "ManagedIdentity",
          source: "options",
          clientId: options.clientId,
          resourceId: options.resourceId
        }
        return { mode: options.mode, recipes: [recipe], status: environment.status }
      }
      case "WorkloadIdentity": {
        const tenantId = options.tenantId ?? variables.AZURE_TENANT_ID
        if (tenantId === undefined) {
          return yield* invalid(fieldLabel("tenantId"), "is required: give tenantId or set AZURE_TENANT_ID")
        }
        const clientId = options.clientId ?? variables.AZURE_CLIENT_ID
        if (clientId === undefined) {
          return yield* invalid(fieldLabel("clientId"), "is required: give clientId or set AZURE_CLIENT_ID")
        }
        const tokenFilePath = options.tokenFilePath ?? variables.AZURE_FEDERATED_TOKEN_FILE
        if (tokenFilePath === undefined) {
          return yield* invalid(
            fieldLabel("tokenFilePath"),
            "is required: give tokenFilePath or set AZURE_FEDERATED_TOKEN_FILE"
          )
        }
        yield* checkReadable(
          tokenFilePath,
          options.tokenFilePath === undefined ? "AZURE_FEDERATED_TOKEN_FILE" : fieldLabel("tokenFilePath")
        )
        const recipe: WorkloadIdentityRecipe = {
          _tag: "WorkloadIdentity",
          source: "options",
          tenantId,
          clientId,
          tokenFilePath,
          authorityHost: options.authorityHost ?? variables.AZURE_AUTHORITY_HOST
        }
        return { mode: options.mode, recipes: [recipe], status: environment.status }
      }
      case "ClientSecret":
        return {
          mode: options.mode,
          recipes: [
            {
              _tag: "ClientSecret",
              source: "options",
              tenantId: options.tenantId,
              clientId: options.clientId,
              clientSecret: options.clientSecret,
              authorityHost: options.authorityHost
            }
          ],
          status: environment.status
        }
      case "ClientCertificate": {
        const recipe = yield* certificateRecipe({
          source: "options",
          tenantId: options.tenantId,
          clientId: options.clientId,
          certificate:
            options.certificate !== undefined
              ? { _tag: "Content", pem: options.certificate }
              : { _tag: "Path", path: options.certificatePath ?? "" },
          certificatePassword: options.certificatePassword,
          sendCertificateChain: options.sendCertificateChain ?? false,
          authorityHost: options.authorityHost,
          fields: {
            path: fieldLabel("certificatePath"),
            content: fieldLabel("certificate"),
            password: fieldLabel("certificatePassword")
          }
        })
        return { mode: options.mode, recipes: [recipe], status: environment.status }
      }
      case "DeveloperTools": {
        const status = withOption(environment, options.environment)
        const permit = permitDeveloperTools(status)
        if (permit === undefined) return yield* developerToolsRefused(status, fieldLabel("mode"))
        return {
          mode: options.mode,
          recipes: developerTools.map((tool) => ({ _tag: tool, tenantId: options.tenantId, permit })),
          status
        }
      }
    }
  })
