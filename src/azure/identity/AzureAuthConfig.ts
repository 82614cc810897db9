/**
 * `AzureAuthOptions` read from configuration: by default the process environment, with the standard variable
 * names of the Azure SDKs and CLIs.
 *
 * | option | variable |
 * | --- | --- |
 * | `mode` | `AZURE_AUTH_MODE` (default `Auto`) |
 * | `tenantId` | `AZURE_TENANT_ID` |
 * | `clientId` | `AZURE_CLIENT_ID` |
 * | `clientSecret` | `AZURE_CLIENT_SECRET` |
 * | `certificatePath` | `AZURE_CLIENT_CERTIFICATE_PATH` |
 * | `certificatePassword` | `AZURE_CLIENT_CERTIFICATE_PASSWORD` |
 * | `sendCertificateChain` | `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` |
 * | `tokenFilePath` | `AZURE_FEDERATED_TOKEN_FILE` |
 * | `authorityHost` | `AZURE_AUTHORITY_HOST` |
 * | `resourceId`, `managedIdentityResourceId` | `AZURE_MANAGED_IDENTITY_RESOURCE_ID` |
 * | `developerTools` (`Auto`) | `AZURE_AUTH_DEVELOPER_TOOLS` |
 * | `connectionString` | `AZURE_STORAGE_CONNECTION_STRING` |
 * | `accountName`, `accountKey` | `AZURE_STORAGE_ACCOUNT`, `AZURE_STORAGE_KEY` |
 * | `sasToken` | `AZURE_STORAGE_SAS_TOKEN` |
 * | `endpoint` | `AZURE_STORAGE_ENDPOINT` |
 *
 * Only the variables of the selected mode are read, plus, for `ClientSecret` and `ClientCertificate`, the other
 * one's secret variable, so that a process with both a secret and a certificate configured is an error rather
 * than a silent choice. Errors name the variable (`AZURE_TENANT_ID`), not the option.
 *
 * @since 0.1.0
 */
import { Config, Option } from "effect"
import { type AuthMode, type FieldLabel, parseAuthMode } from "./AzureAuthOptions.ts"

/**
 * The variable each option is read from.
 *
 * @since 0.1.0
 */
export const variableOf: { readonly [option: string]: string } = {
  mode: "AZURE_AUTH_MODE",
  tenantId: "AZURE_TENANT_ID",
  clientId: "AZURE_CLIENT_ID",
  clientSecret: "AZURE_CLIENT_SECRET",
  certificatePath: "AZURE_CLIENT_CERTIFICATE_PATH",
  certificatePassword: "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  sendCertificateChain: "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
  tokenFilePath: "AZURE_FEDERATED_TOKEN_FILE",
  authorityHost: "AZURE_AUTHORITY_HOST",
  resourceId: "AZURE_MANAGED_IDENTITY_RESOURCE_ID",
  managedIdentityResourceId: "AZURE_MANAGED_IDENTITY_RESOURCE_ID",
  developerTools: "AZURE_AUTH_DEVELOPER_TOOLS",
  connectionString: "AZURE_STORAGE_CONNECTION_STRING",
  accountName: "AZURE_STORAGE_ACCOUNT",
  accountKey: "AZURE_STORAGE_KEY",
  sasToken: "AZURE_STORAGE_SAS_TOKEN",
  endpoint: "AZURE_STORAGE_ENDPOINT"
}

/**
 * Names variables instead of options in errors.
 *
 * @since 0.1.0
 */
export const variableLabel: FieldLabel = (field) => variableOf[field] ?? field

// Which options each mode reads from the environment. WorkloadIdentity reads none: its missing options fall
// back to the standard variables anyway, and reading them here would hide which one was missing.
const optionsByMode: { readonly [M in AuthMode]: ReadonlyArray<string> } = {
  Auto: ["managedIdentityResourceId", "developerTools"],
  ManagedIdentity: ["clientId", "resourceId"],
  WorkloadIdentity: [],
  ClientSecret: ["tenantId", "clientId", "clientSecret", "authorityHost", "certificatePath"],
  ClientCertificate: [
    "tenantId",
    "clientId",
    "certificatePath",
    "certificatePassword",
    "sendCertificateChain",
    "authorityHost",
    "clientSecret"
  ],
  DeveloperTools: ["tenantId"],
  ConnectionString: ["connectionString"],
  AccountKey: ["accountName", "accountKey", "endpoint"],
  Sas: ["sasToken", "endpoint"]
}

const booleanOptions = new Set(["developerTools", "sendCertificateChain"])
// Not trimmed: a password may end in a space.
const untrimmed = new Set(["certificatePassword"])

const readBoolean = (value: string): boolean | string => {
  const lower = value.toLowerCase()
  if (lower === "true" || lower === "1" || lower === "yes") return true
  if (lower === "false" || lower === "0" || lower === "no") return false
  // Left as a string: decoding then reports "Expected boolean" against the variable.
  return value
}

const readOption = (option: string): Config.Config<readonly [string, unknown] | undefined> =>
  Config.String(variableOf[option] ?? option).pipe(
    Config.option,
    Config.map((found) => {
      if (Option.isNone(found)) return undefined
      const value = untrimmed.has(option) ? found.value : found.value.trim()
      if (value.trim() === "") return undefined
      return [option, booleanOptions.has(option) ? readBoolean(value) : value] as const
    })
  )

/**
 * The options in their input form (as `AzureAuthOptions.decode` takes them), read from the standard variables.
 * Values are not validated here; decoding does that and names the variable at fault.
 *
 * @since 0.1.0
 */
export const fromEnvironment: Config.Config<{ readonly [option: string]: unknown }> = Config.String(
  "AZURE_AUTH_MODE"
).pipe(
  Config.withDefault("Auto"),
  Config.flatMap((name) => {
    const mode = parseAuthMode(name)
    // An unknown mode is passed through as is: decoding reports it, naming AZURE_AUTH_MODE.
    if (mode === undefined) return Config.succeed({ mode: name })
    return Config.all(optionsByMode[mode].map(readOption)).pipe(
      Config.map((entries) => {
        const options: { [option: string]: unknown } = { mode: name }
        for (const entry of entries) if (entry !== undefined) options[entry[0]] = entry[1]
        return options
      })
    )
  })
)
