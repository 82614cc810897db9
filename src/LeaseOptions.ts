/**
 * Lease options: what a caller may pass, the defaults, and the rules that make a set of options safe.
 *
 * Options are decoded with a `Schema` (types, integers, durations given as milliseconds or strings such as
 * `"30 seconds"`), then completed with defaults derived from *this lease's* duration, then checked as a whole:
 * the renewal and its whole retry schedule must fit before the safety deadline. A set that cannot fit is an
 * `InvalidLeaseOptionsError` whose message names the clashing values (the original library checked only part of
 * this, and its defaults did not fit their own rule).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema } from "effect"
import { InvalidLeaseOptionsError } from "./LeaseError.ts"

/**
 * A duration given as a `Duration`, a number of milliseconds, or a string such as `"30 seconds"`.
 *
 * @since 0.1.0
 */
export const DurationInput = Schema.Union([Schema.Duration, Schema.DurationFromMillis, Schema.DurationFromString])

/**
 * The encoded form of a duration option.
 *
 * @since 0.1.0
 */
export type DurationInput = typeof DurationInput.Encoded

/**
 * The options a caller may pass. Every field is optional.
 *
 * @since 0.1.0
 */
export const LeaseOptionsSchema = Schema.Struct({
  /** Who holds the lease; defaults to the manager's holder id (`host:pid:random`). */
  holderId: Schema.optionalKey(Schema.NonEmptyString),
  /** How long a grant lasts without renewal. Default 60 s. */
  duration: Schema.optionalKey(DurationInput),
  /** Renew automatically in the background. Default `true`. */
  autoRenew: Schema.optionalKey(Schema.Boolean),
  /** Time from a confirmed grant (counted from when its request was sent) to the next renewal. Default 2/3 of `duration` (less if `safetyThreshold` < 0.87, so that 20% of the duration is left for retries). */
  renewInterval: Schema.optionalKey(DurationInput),
  /** First delay between renewal retries; it doubles on each retry. Default: derived so the retries fit (see `resolve`). */
  retryInterval: Schema.optionalKey(DurationInput),
  /** Renewal retries after a failed renewal attempt. Default 3. */
  maxRetries: Schema.optionalKey(Schema.Int),
  /** Fraction of `duration` after which an unconfirmed lease is declared lost. Default 0.9, allowed 0.5–0.95. */
  safetyThreshold: Schema.optionalKey(Schema.Finite),
  /** How long `acquire` waits while the lease is held elsewhere. Default infinite; 0 means one attempt. */
  timeout: Schema.optionalKey(DurationInput),
  /** First backoff between acquire attempts when the holder's expiry is unknown. Default 100 ms. */
  acquireRetryInterval: Schema.optionalKey(DurationInput),
  /** Longest backoff between acquire attempts. Default 5 s (or `duration` if shorter). */
  maxAcquireRetryInterval: Schema.optionalKey(DurationInput),
  /** Consecutive store failures tolerated while waiting before `acquire` gives up. Default 10. */
  maxConsecutiveFailures: Schema.optionalKey(Schema.Int),
  /** Bound on one store call (acquire, renew or release). Default 10% of `duration`, at least 50 ms and at most 10 s. */
  attemptTimeout: Schema.optionalKey(DurationInput),
  /** Key/value pairs stored with the lease by providers that support metadata. */
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

/**
 * Lease options as a caller writes them.
 *
 * @since 0.1.0
 */
export type LeaseOptions = typeof LeaseOptionsSchema.Encoded

/**
 * Fully resolved options: every default filled in, every rule checked.
 *
 * @since 0.1.0
 */
export interface ResolvedLeaseOptions {
  readonly holderId?: string | undefined
  readonly duration: Duration.Duration
  readonly autoRenew: boolean
  readonly renewInterval: Duration.Duration
  readonly retryInterval: Duration.Duration
  readonly maxRetries: number
  readonly safetyThreshold: number
  readonly timeout: Duration.Duration
  readonly acquireRetryInterval: Duration.Duration
  readonly maxAcquireRetryInterval: Duration.Duration
  readonly maxConsecutiveFailures: number
  readonly attemptTimeout: Duration.Duration
  /** Allowance for clock drift subtracted from every grant: max(1% of duration, 2 ms). */
  readonly drift: Duration.Duration
  readonly metadata?: Readonly<Record<string, string>> | undefined
}

/**
 * The defaults of the original library, where they are safe.
 *
 * @since 0.1.0
 */
export const defaults = {
  duration: Duration.seconds(60),
  autoRenew: true,
  maxRetries: 3,
  safetyThreshold: 0.9,
  timeout: Duration.infinity,
  acquireRetryInterval: Duration.millis(100),
  maxAcquireRetryInterval: Duration.seconds(5),
  maxConsecutiveFailures: 10
} as const

/** @since 0.1.0 */
export const minSafetyThreshold = 0.5
/** @since 0.1.0 */
export const maxSafetyThreshold = 0.95
/** Renewal retries beyond this make no sense (2^20 × retryInterval) and would overflow the schedule math. */
const maxMaxRetries = 20

const fmt = (ms: number): string => (Number.isFinite(ms) ? `${+ms.toFixed(3)} ms` : "infinite")

const decode = Schema.decodeUnknownEffect(LeaseOptionsSchema)

/**
 * Resolves and validates options: decode, fill defaults from the lease's own duration, check the whole.
 *
 * `retryInterval` defaults to `(safetyThreshold × duration − renewInterval) / 2^maxRetries`, so the renewal at
 * `renewInterval` and its retries at `+r`, `+3r`, `+7r`, … all fall before the safety deadline with one `r` to
 * spare for the last attempt. For a 60 s lease: renew at 40 s, retries at 41.75 s, 45.25 s and 52.25 s, loss
 * declared at 54 s.
 *
 * @since 0.1.0
 */
export const resolve = (
  input: unknown,
  leaseName?: string
): Effect.Effect<ResolvedLeaseOptions, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const fail = (field: string, detail: string) =>
      Effect.fail(new InvalidLeaseOptionsError({ leaseName, field, detail }))
    const options = yield* decode(input ?? {}).pipe(
      Effect.mapError(
        (error) =>
          new InvalidLeaseOptionsError({
            leaseName,
            field: fieldOf(error),
            detail: error.message
          })
      )
    )

    const duration = options.duration ?? defaults.duration
    const durationMs = Duration.toMillis(duration)
    if (!Duration.isFinite(duration) || durationMs <= 0) {
      return yield* fail("duration", `must be a positive, finite duration, got ${fmt(durationMs)}`)
    }
    if (durationMs < 10) {
      return yield* fail("duration", `must be at least 10 ms to be renewable, got ${fmt(durationMs)}`)
    }

    const safetyThreshold = options.safetyThreshold ?? defaults.safetyThreshold
    if (!(safetyThreshold >= minSafetyThreshold && safetyThreshold <= maxSafetyThreshold)) {
      return yield* fail(
        "safetyThreshold",
        `must be between ${minSafetyThreshold} and ${maxSafetyThreshold}, got ${safetyThreshold}`
      )
    }
    const safetyMs = durationMs * safetyThreshold

    const maxRetries = options.maxRetries ?? defaults.maxRetries
    if (maxRetries < 0 || maxRetries > maxMaxRetries) {
      return yield* fail("maxRetries", `must be an integer from 0 to ${maxMaxRetries}, got ${maxRetries}`)
    }

    const autoRenew = options.autoRenew ?? defaults.autoRenew
    // 2/3 of the duration (the original's rule), but never so late that less than 20% of the duration is left
    // for retries before the safety deadline (which happens with a low safetyThreshold).
    const renewInterval = options.renewInterval ?? Duration.millis(durationMs * Math.min(2 / 3, safetyThreshold - 0.2))
    const renewMs = Duration.toMillis(renewInterval)
    if (!(renewMs > 0) || !Number.isFinite(renewMs)) {
      return yield* fail("renewInterval", `must be a positive, finite duration, got ${fmt(renewMs)}`)
    }
    if (autoRenew && renewMs >= safetyMs) {
      return yield* fail(
        "renewInterval",
        `renewInterval (${fmt(renewMs)}) must be shorter than the safety deadline ` +
          `safetyThreshold × duration = ${safetyThreshold} × ${fmt(durationMs)} = ${fmt(safetyMs)}`
      )
    }

    // Without auto-renewal the retry schedule is unused; keep the default positive anyway.
    const retryWindow = renewMs < safetyMs ? safetyMs - renewMs : safetyMs
    // Rounded down to whole nanoseconds (Duration's resolution), so the derived schedule fits exactly.
    const retryInterval =
      options.retryInterval ??
      Duration.nanos(BigInt(Math.max(1, Math.floor((retryWindow * 1e6) / 2 ** Math.max(1, maxRetries)))))
    const retryMs = Duration.toMillis(retryInterval)
    if (!(retryMs > 0) || !Number.isFinite(retryMs)) {
      return yield* fail("retryInterval", `must be a positive, finite duration, got ${fmt(retryMs)}`)
    }

    if (autoRenew) {
      // The retries happen at renewInterval + r, + 3r, + 7r, ..., the last at renewInterval + r·(2^maxRetries − 1).
      const lastRetryMs = renewMs + retryMs * (2 ** maxRetries - 1)
      if (maxRetries > 0 && lastRetryMs >= safetyMs) {
        return yield* fail(
          "retryInterval",
          `the renewal schedule does not fit before the safety deadline: renewInterval (${fmt(renewMs)}) + ` +
            `retryInterval (${fmt(retryMs)}) × (2^maxRetries − 1) with maxRetries = ${maxRetries} ` +
            `puts the last retry at ${fmt(lastRetryMs)}, not before safetyThreshold × duration = ` +
            `${safetyThreshold} × ${fmt(durationMs)} = ${fmt(safetyMs)}. ` +
            `Lower retryInterval, maxRetries or renewInterval, or raise duration`
        )
      }
    }

    const timeout = options.timeout ?? defaults.timeout
    if (Duration.isNegative(timeout)) {
      return yield* fail("timeout", `must be zero, positive or infinite, got ${fmt(Duration.toMillis(timeout))}`)
    }

    const maxAcquireRetryInterval =
      options.maxAcquireRetryInterval ?? Duration.min(defaults.maxAcquireRetryInterval, duration)
    const acquireRetryInterval =
      options.acquireRetryInterval ?? Duration.min(defaults.acquireRetryInterval, maxAcquireRetryInterval)
    const acquireRetryMs = Duration.toMillis(acquireRetryInterval)
    const maxAcquireRetryMs = Duration.toMillis(maxAcquireRetryInterval)
    if (!(acquireRetryMs > 0) || !Number.isFinite(acquireRetryMs)) {
      return yield* fail("acquireRetryInterval", `must be a positive, finite duration, got ${fmt(acquireRetryMs)}`)
    }
    if (!(maxAcquireRetryMs >= acquireRetryMs) || !Number.isFinite(maxAcquireRetryMs)) {
      return yield* fail(
        "maxAcquireRetryInterval",
        `must be finite and at least acquireRetryInterval (${fmt(acquireRetryMs)}), got ${fmt(maxAcquireRetryMs)}`
      )
    }

    const maxConsecutiveFailures = options.maxConsecutiveFailures ?? defaults.maxConsecutiveFailures
    if (maxConsecutiveFailures < 1) {
      return yield* fail("maxConsecutiveFailures", `must be an integer of at least 1, got ${maxConsecutiveFailures}`)
    }

    const attemptTimeout =
      options.attemptTimeout ?? Duration.millis(Math.min(10_000, Math.max(50, Math.round(durationMs / 10))))
    const attemptMs = Duration.toMillis(attemptTimeout)
    if (!(attemptMs > 0) || !Number.isFinite(attemptMs)) {
      return yield* fail("attemptTimeout", `must be a positive, finite duration, got ${fmt(attemptMs)}`)
    }

    if (options.metadata !== undefined) {
      for (const key of Object.keys(options.metadata)) {
        if (key.length === 0) return yield* fail("metadata", "keys must be non-empty strings")
      }
    }

    if (options.holderId !== undefined && options.holderId.length > 255) {
      return yield* fail("holderId", `must be at most 255 characters, got ${options.holderId.length}`)
    }

    const resolved: ResolvedLeaseOptions = {
      holderId: options.holderId,
      duration,
      autoRenew,
      renewInterval,
      retryInterval,
      maxRetries,
      safetyThreshold,
      timeout,
      acquireRetryInterval,
      maxAcquireRetryInterval,
      maxConsecutiveFailures,
      attemptTimeout,
      drift: Duration.millis(Math.max(durationMs * 0.01, 2)),
      metadata: options.metadata
    }
    return resolved
  })

/**
 * Merges option layers: later layers override earlier ones, field by field (`metadata` is merged too).
 *
 * @since 0.1.0
 */
export const merge = (...layers: ReadonlyArray<LeaseOptions | undefined>): LeaseOptions => {
  let out: Record<string, unknown> = {}
  for (const layer of layers) {
    if (layer === undefined) continue
    const metadata =
      layer.metadata !== undefined && out.metadata !== undefined
        ? { ...(out.metadata as Record<string, string>), ...layer.metadata }
        : (layer.metadata ?? out.metadata)
    out = { ...out, ...stripUndefined(layer) }
    if (metadata !== undefined) out.metadata = metadata
  }
  return out as LeaseOptions
}

const stripUndefined = (o: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

const fieldOf = (error: Schema.SchemaError): string => {
  // The first path segment the schema complains about, e.g. `["maxRetries"]` → "maxRetries".
  const match = /at \["([^"\]]+)"/.exec(error.message)
  return match?.[1] ?? "options"
}
