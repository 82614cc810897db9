/**
 * The `LEASING_*` settings that are not about a particular provider: which provider, the holder id, and default
 * lease options.
 *
 * Every setting has one fixed variable name (`LEASING_DURATION`, not a path that a `ConfigProvider` may spell in
 * several ways), so that an error can name exactly the variable to fix, with `ConfigProvider.fromEnv` as with
 * `ConfigProvider.fromUnknown({ LEASING_DURATION: "30 seconds" })`.
 *
 * Default lease options are checked as a whole when the configuration is read, with the same rules as a lease's
 * own options: a `LEASING_RENEW_INTERVAL` that does not fit in `LEASING_DURATION` fails the layer with a
 * `ConfigError` naming `LEASING_RENEW_INTERVAL`, at startup rather than at the first `acquire`.
 *
 * @since 0.1.0
 */
import { Config, Effect, Option, Schema, SchemaIssue } from "effect"
import * as LeaseOptions from "../LeaseOptions.ts"

/**
 * The providers `LEASING_PROVIDER` can name.
 *
 * @since 0.1.0
 */
export type ProviderKind = "memory" | "redis" | "azure-blob" | "azure-cosmos"

/**
 * The providers `LEASING_PROVIDER` can name, in documentation order.
 *
 * @since 0.1.0
 */
export const providerKinds: ReadonlyArray<ProviderKind> = ["memory", "redis", "azure-blob", "azure-cosmos"]

/**
 * The variable that chooses the provider.
 *
 * @since 0.1.0
 */
export const providerVariable = "LEASING_PROVIDER"

/**
 * The variable that sets the holder id.
 *
 * @since 0.1.0
 */
export const holderIdVariable = "LEASING_HOLDER_ID"

type OptionField = Exclude<keyof LeaseOptions.LeaseOptions, "metadata" | "holderId">

/**
 * The variable of each default lease option.
 *
 * @since 0.1.0
 */
export const optionVariables: { readonly [K in OptionField]: string } = {
  duration: "LEASING_DURATION",
  autoRenew: "LEASING_AUTO_RENEW",
  renewInterval: "LEASING_RENEW_INTERVAL",
  retryInterval: "LEASING_RETRY_INTERVAL",
  maxRetries: "LEASING_MAX_RETRIES",
  safetyThreshold: "LEASING_SAFETY_THRESHOLD",
  timeout: "LEASING_TIMEOUT",
  acquireRetryInterval: "LEASING_ACQUIRE_RETRY_INTERVAL",
  maxAcquireRetryInterval: "LEASING_MAX_ACQUIRE_RETRY_INTERVAL",
  maxConsecutiveFailures: "LEASING_MAX_CONSECUTIVE_FAILURES",
  attemptTimeout: "LEASING_ATTEMPT_TIMEOUT"
}

/**
 * What the settings hold once read.
 *
 * @since 0.1.0
 */
export interface LeasingSettings {
  readonly provider: ProviderKind
  readonly holderId?: string | undefined
  /** Default lease options from the `LEASING_*` option variables (only those that are set). */
  readonly defaults: LeaseOptions.LeaseOptions
}

/**
 * A `ConfigError` at `variable` with a message of ours.
 *
 * @since 0.1.0
 */
export const configError = (variable: string, message: string): Config.ConfigError =>
  new Config.ConfigError(
    new Schema.SchemaError(new SchemaIssue.Pointer([variable], new SchemaIssue.InvalidValue({ message })))
  )

/**
 * An optional setting: absent is `undefined`, present but invalid is a `ConfigError`.
 *
 * @since 0.1.0
 */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * A duration setting: a number of milliseconds (`"45000"`) or a duration string (`"45 seconds"`). Read as text
 * and handed to the lease options as given (a number or the text), after checking it parses as their durations do.
 */
const durationSetting = (variable: string): Config.Config<LeaseOptions.DurationInput | undefined> =>
  Config.mapEffect(optional(Config.String(variable)), (text) => {
    if (text === undefined) return Effect.succeed(undefined)
    const trimmed = text.trim()
    const value = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed
    return Option.isSome(decodeDuration(value))
      ? Effect.succeed(value)
      : Effect.fail(
          configError(variable, `Expected milliseconds or a duration such as "30 seconds", got ${JSON.stringify(text)}`)
        )
  })

const decodeDuration = Schema.decodeUnknownOption(LeaseOptions.DurationInput)

const providerSetting: Config.Config<ProviderKind> = Config.mapEffect(
  optional(Config.String(providerVariable)),
  (value) => {
    const expected = providerKinds.join(", ")
    if (value === undefined) {
      return Effect.fail(configError(providerVariable, `Missing: set ${providerVariable} to one of ${expected}`))
    }
    const kind = providerKinds.find((candidate) => candidate === value.trim().toLowerCase())
    return kind === undefined
      ? Effect.fail(configError(providerVariable, `Expected one of ${expected}, got ${JSON.stringify(value)}`))
      : Effect.succeed(kind)
  }
)

const optionSettings = Config.all({
  duration: durationSetting(optionVariables.duration),
  autoRenew: optional(Config.Boolean(optionVariables.autoRenew)),
  renewInterval: durationSetting(optionVariables.renewInterval),
  retryInterval: durationSetting(optionVariables.retryInterval),
  maxRetries: optional(Config.Int(optionVariables.maxRetries)),
  safetyThreshold: optional(Config.Finite(optionVariables.safetyThreshold)),
  timeout: durationSetting(optionVariables.timeout),
  acquireRetryInterval: durationSetting(optionVariables.acquireRetryInterval),
  maxAcquireRetryInterval: durationSetting(optionVariables.maxAcquireRetryInterval),
  maxConsecutiveFailures: optional(Config.Int(optionVariables.maxConsecutiveFailures)),
  attemptTimeout: durationSetting(optionVariables.attemptTimeout)
})

const constantCase = (field: string): string => `LEASING_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`

const isOptionField = (field: string): field is OptionField => Object.hasOwn(optionVariables, field)

/**
 * Checks default options as a whole, with the rules of a lease's options; a clash names the variable to fix.
 * `base` holds the defaults given in code, under which the variables apply.
 */
const checkDefaults = (
  defaults: LeaseOptions.LeaseOptions,
  base: LeaseOptions.LeaseOptions | undefined
): Effect.Effect<LeaseOptions.LeaseOptions, Config.ConfigError> =>
  LeaseOptions.resolve(LeaseOptions.merge(base, defaults)).pipe(
    Effect.as(defaults),
    Effect.mapError((error) =>
      // Named after the option's variable even when the clashing value came from the code's defaults: setting that
      // variable is one way to fix it, and the message gives the numbers that clash.
      configError(isOptionField(error.field) ? optionVariables[error.field] : constantCase(error.field), error.message)
    )
  )

/**
 * Reads the settings. `base` holds defaults given in code: the variables override them, and the result is
 * checked as a whole.
 *
 * @since 0.1.0
 */
export const settings = (base?: LeaseOptions.LeaseOptions | undefined): Config.Config<LeasingSettings> =>
  Config.mapEffect(
    Config.all({
      provider: providerSetting,
      holderId: optional(Config.NonEmptyString(holderIdVariable)),
      options: optionSettings
    }),
    ({ provider, holderId, options }) => {
      const defaults: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(options)) {
        if (value !== undefined) defaults[key] = value
      }
      return checkDefaults(defaults as LeaseOptions.LeaseOptions, base).pipe(
        Effect.map((checked): LeasingSettings => ({ provider, holderId, defaults: checked }))
      )
    }
  )
