/**
 * What the process environment says about Azure authentication, read through Effect `Config`.
 *
 * Two things come from here:
 *
 * - **Whether this is production.** It is when `NODE_ENV` is `production` (or `staging`), or when
 *   `AZURE_ENVIRONMENT` or the `environment` option names anything other than a development environment
 *   (`development`, `dev`, `local`, `test`, `testing`). Every signal can only *add* production: an option cannot
 *   switch a production process back to development. An unknown name counts as production, so a typo fails closed.
 *   The original library treated an unset or unknown environment as development.
 * - **The standard `AZURE_*` variables** used by the `Auto` chain and by `WorkloadIdentity`.
 *
 * Everything is read from the current `ConfigProvider` (by default `process.env`), never from `process.env`
 * directly, so tests use `ConfigProvider.fromEnv({ env })` instead of mutating the process.
 *
 * @since 0.1.0
 */
import { Config, Effect, Option, Redacted } from "effect"
import type { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { invalid } from "./internal/errors.ts"

/**
 * Whether the process runs in production, and which signals said so.
 *
 * @since 0.1.0
 */
export interface ProductionStatus {
  readonly production: boolean
  /** The settings that made it production, e.g. `["NODE_ENV=production"]`; empty outside production. */
  readonly signals: ReadonlyArray<string>
}

/**
 * The standard variables, as read (trimmed; empty counts as unset).
 *
 * @since 0.1.0
 */
export interface AzureEnvironmentVariables {
  readonly NODE_ENV?: string | undefined
  readonly AZURE_ENVIRONMENT?: string | undefined
  readonly AZURE_TENANT_ID?: string | undefined
  readonly AZURE_CLIENT_ID?: string | undefined
  readonly AZURE_CLIENT_SECRET?: Redacted.Redacted<string> | undefined
  readonly AZURE_CLIENT_CERTIFICATE_PATH?: string | undefined
  readonly AZURE_CLIENT_CERTIFICATE_PASSWORD?: Redacted.Redacted<string> | undefined
  readonly AZURE_CLIENT_SEND_CERTIFICATE_CHAIN?: string | undefined
  readonly AZURE_FEDERATED_TOKEN_FILE?: string | undefined
  readonly AZURE_AUTHORITY_HOST?: string | undefined
}

/**
 * The names of {@link AzureEnvironmentVariables}.
 *
 * @since 0.1.0
 */
export const variableNames = [
  "NODE_ENV",
  "AZURE_ENVIRONMENT",
  "AZURE_TENANT_ID",
  "AZURE_CLIENT_ID",
  "AZURE_CLIENT_SECRET",
  "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
  "AZURE_FEDERATED_TOKEN_FILE",
  "AZURE_AUTHORITY_HOST"
] as const

const productionNodeEnvs = new Set(["production", "staging"])
const developmentNames = new Set(["development", "dev", "local", "test", "testing"])

/**
 * Decides whether the process is in production. Pure, so the rule is testable on its own.
 *
 * @since 0.1.0
 */
export const productionStatus = (settings: {
  readonly nodeEnv?: string | undefined
  readonly azureEnvironment?: string | undefined
  /** The `environment` option of `Auto` / `DeveloperTools`. */
  readonly option?: string | undefined
}): ProductionStatus => {
  const signals: Array<string> = []
  const nodeEnv = settings.nodeEnv?.trim()
  if (nodeEnv !== undefined && productionNodeEnvs.has(nodeEnv.toLowerCase())) signals.push(`NODE_ENV=${nodeEnv}`)
  // Fail closed: only a recognised development name keeps an explicit environment out of production.
  const azureEnvironment = settings.azureEnvironment?.trim()
  if (
    azureEnvironment !== undefined &&
    azureEnvironment !== "" &&
    !developmentNames.has(azureEnvironment.toLowerCase())
  ) {
    signals.push(`AZURE_ENVIRONMENT=${azureEnvironment}`)
  }
  const option = settings.option?.trim()
  if (option !== undefined && option !== "" && !developmentNames.has(option.toLowerCase())) {
    signals.push(`option environment=${option}`)
  }
  return { production: signals.length > 0, signals }
}

/**
 * Proof that developer credentials may be built: only {@link permitDeveloperTools} issues one, and only outside
 * production. Every developer-tool credential recipe must carry one, so no code path (a fallback included) can
 * build a developer credential without having passed the production check.
 *
 * @since 0.1.0
 */
export class DeveloperToolsPermit {
  readonly #issued = true
  private constructor() {}
  /** @internal */
  static issue(status: ProductionStatus): DeveloperToolsPermit | undefined {
    return status.production ? undefined : new DeveloperToolsPermit()
  }
  /** Whether this value really is a permit (not a look-alike object). */
  static is(u: unknown): u is DeveloperToolsPermit {
    return typeof u === "object" && u !== null && #issued in u
  }
}

/**
 * A permit to build developer credentials, or `undefined` in production.
 *
 * @since 0.1.0
 */
export const permitDeveloperTools = (status: ProductionStatus): DeveloperToolsPermit | undefined =>
  DeveloperToolsPermit.issue(status)

const optionalString = (name: string): Config.Config<string | undefined> =>
  Config.String(name).pipe(
    Config.option,
    Config.map((value) =>
      Option.getOrUndefined(
        Option.filter(
          Option.map(value, (s) => s.trim()),
          (s) => s !== ""
        )
      )
    )
  )

// Secrets are not trimmed (a password may end in a space); an empty one still counts as unset.
const optionalSecret = (name: string): Config.Config<Redacted.Redacted<string> | undefined> =>
  Config.String(name).pipe(
    Config.option,
    Config.map((value) =>
      Option.getOrUndefined(
        Option.map(
          Option.filter(value, (s) => s.trim() !== ""),
          (s) => Redacted.make(s)
        )
      )
    )
  )

/**
 * The standard variables as a `Config`.
 *
 * @since 0.1.0
 */
export const variablesConfig: Config.Config<AzureEnvironmentVariables> = Config.all({
  NODE_ENV: optionalString("NODE_ENV"),
  AZURE_ENVIRONMENT: optionalString("AZURE_ENVIRONMENT"),
  AZURE_TENANT_ID: optionalString("AZURE_TENANT_ID"),
  AZURE_CLIENT_ID: optionalString("AZURE_CLIENT_ID"),
  // A client secret copied from a file or portal often ends in a newline; Azure secrets never end in blanks.
  AZURE_CLIENT_SECRET: optionalString("AZURE_CLIENT_SECRET").pipe(
    Config.map((s) => (s === undefined ? undefined : Redacted.make(s)))
  ),
  AZURE_CLIENT_CERTIFICATE_PATH: optionalString("AZURE_CLIENT_CERTIFICATE_PATH"),
  AZURE_CLIENT_CERTIFICATE_PASSWORD: optionalSecret("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: optionalString("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"),
  AZURE_FEDERATED_TOKEN_FILE: optionalString("AZURE_FEDERATED_TOKEN_FILE"),
  AZURE_AUTHORITY_HOST: optionalString("AZURE_AUTHORITY_HOST")
})

/**
 * Maps a `Config` failure to the library's error. The `ConfigError` itself is dropped: we only read plain
 * strings, so it can only be a failing provider, and its text is not ours to forward.
 *
 * @internal
 */
export const configFailure = (field: string) => (error: Config.ConfigError) =>
  invalid(field, `could not be read from the configuration provider (${error.cause._tag})`)

/**
 * The environment as seen through the current `ConfigProvider`.
 *
 * @since 0.1.0
 */
export interface AzureEnvironment {
  readonly variables: AzureEnvironmentVariables
  /** Production status from the variables alone; modes that take an `environment` option add it on top. */
  readonly status: ProductionStatus
}

/**
 * Reads the environment through the current `ConfigProvider`.
 *
 * @since 0.1.0
 */
export const read: Effect.Effect<AzureEnvironment, InvalidLeaseOptionsError> = Effect.map(
  Effect.mapError(variablesConfig, configFailure("environment")),
  (variables) => ({
    variables,
    status: productionStatus({ nodeEnv: variables.NODE_ENV, azureEnvironment: variables.AZURE_ENVIRONMENT })
  })
)

/**
 * Adds the `environment` option of a mode to the status read from the environment.
 *
 * @since 0.1.0
 */
export const withOption = (environment: AzureEnvironment, option: string | undefined): ProductionStatus =>
  productionStatus({
    nodeEnv: environment.variables.NODE_ENV,
    azureEnvironment: environment.variables.AZURE_ENVIRONMENT,
    option
  })
