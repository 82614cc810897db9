/**
 * The options of the Promise API, written for plain TypeScript callers.
 *
 * They are the options of the Effect API (`LeaseOptions` in the core) with the types a Promise caller uses:
 * durations are milliseconds or strings such as `"30 seconds"`, and `acquire` also takes an `AbortSignal`.
 * They are handed to the core unchanged (minus `signal`), so validation, defaults and error messages are the
 * core's: there is no second set of rules here.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import type { LeaseOptions as CoreLeaseOptions } from "../LeaseOptions.ts"

/**
 * A duration: a number of milliseconds, a string such as `"30 seconds"`, `"5 minutes"` or `"250 millis"`,
 * `"Infinity"`, or an Effect `Duration`.
 *
 * @since 0.1.0
 */
export type DurationInput = number | `${number} ${Duration.Unit}` | "Infinity" | Duration.Duration

/**
 * Options of one lease. Every field is optional; the defaults are those of the Effect API.
 *
 * @since 0.1.0
 */
export interface LeaseOptions {
  /** How long a grant lasts without renewal. Default 60 s. */
  readonly duration?: DurationInput | undefined
  /** Renew automatically in the background while the lease is held. Default `true`. */
  readonly autoRenew?: boolean | undefined
  /** Time from a confirmed grant to the next renewal. Default 2/3 of `duration`. */
  readonly renewInterval?: DurationInput | undefined
  /** First delay between renewal retries; it doubles on each retry. Default: derived so the retries fit. */
  readonly retryInterval?: DurationInput | undefined
  /** Renewal retries after a failed renewal attempt. Default 3. */
  readonly maxRetries?: number | undefined
  /** Fraction of `duration` after which an unconfirmed lease is declared lost. Default 0.9, allowed 0.5–0.95. */
  readonly safetyThreshold?: number | undefined
  /** How long `acquire` waits while the lease is held elsewhere. Default: forever; `0` means one attempt. */
  readonly timeout?: DurationInput | undefined
  /** First backoff between acquire attempts when the holder's expiry is unknown. Default 100 ms. */
  readonly acquireRetryInterval?: DurationInput | undefined
  /** Longest backoff between acquire attempts. Default 5 s (or `duration` if shorter). */
  readonly maxAcquireRetryInterval?: DurationInput | undefined
  /** Consecutive store failures tolerated while waiting before `acquire` gives up. Default 10. */
  readonly maxConsecutiveFailures?: number | undefined
  /** Bound on one store call (acquire, renew or release). Default 10% of `duration`, from 50 ms to 10 s. */
  readonly attemptTimeout?: DurationInput | undefined
  /** Key/value pairs stored with the lease by providers that support metadata (see `inspect`). */
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /** Who holds the lease. Default: the client's holder id (`host:pid:random`). */
  readonly holderId?: string | undefined
}

/**
 * Options of `acquire`, `tryAcquire` and `withLease`: the lease options and an `AbortSignal`.
 *
 * @since 0.1.0
 */
export interface AcquireOptions extends LeaseOptions {
  /**
   * Cancels the call: a wait for the lease stops at once and nothing is left held; the call rejects with
   * `signal.reason`. In `withLease`, aborting while the callback runs releases the lease (and aborts
   * `lease.signal`) without waiting for the callback.
   */
  readonly signal?: AbortSignal | undefined
}

/**
 * The core options for `options`: `signal` and `undefined` fields left out (the core decodes and validates the
 * rest, so a JavaScript caller's wrong value becomes an `InvalidLeaseOptionsError` naming the field).
 *
 * @internal
 */
export const toCoreOptions = (options: AcquireOptions | undefined): CoreLeaseOptions | undefined => {
  if (options === undefined) return undefined
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    if (key !== "signal" && value !== undefined) out[key] = value
  }
  return out as CoreLeaseOptions
}
