/**
 * The lease durations Azure Blob Storage can hold: whole seconds from 15 to 60 (or infinite, which this provider
 * does not offer: a lease that never expires on its own would outlive a crashed holder forever).
 *
 * The provider declares these bounds in its capabilities, so the core rejects other durations with an
 * `InvalidLeaseOptionsError` before any request. A duration with a fraction of a second is rounded *down*: the
 * grant reported to the core is then never longer than what Azure holds.
 *
 * @internal
 */
import { Duration, Effect } from "effect"
import { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { providerName } from "./errors.ts"

/** @internal */
export const minSeconds = 15
/** @internal */
export const maxSeconds = 60

/** @internal */
export const minDuration: Duration.Duration = Duration.seconds(minSeconds)
/** @internal */
export const maxDuration: Duration.Duration = Duration.seconds(maxSeconds)

/**
 * The whole seconds to request for `duration`, or an `InvalidLeaseOptionsError` when Azure cannot hold it.
 *
 * @internal
 */
export const leaseSeconds = (
  duration: Duration.Duration,
  leaseName: string
): Effect.Effect<number, InvalidLeaseOptionsError> => {
  const seconds = Math.floor(Duration.toMillis(duration) / 1000)
  return Number.isFinite(seconds) && seconds >= minSeconds && seconds <= maxSeconds
    ? Effect.succeed(seconds)
    : Effect.fail(
        new InvalidLeaseOptionsError({
          leaseName,
          provider: providerName,
          field: "duration",
          detail: `Azure Blob leases last ${minSeconds} to ${maxSeconds} s (whole seconds), got ${Duration.format(duration)}`
        })
      )
}

/**
 * What a renewal grants. Azure renews for the duration given at acquire (the request carries none); the core always
 * renews with that same duration, so this is the same rounding. Capped at 60 s, and never more than asked: an
 * under-estimate is safe, an over-estimate would not be.
 *
 * @internal
 */
export const renewedTtl = (duration: Duration.Duration): Duration.Duration => {
  const seconds = Math.floor(Duration.toMillis(duration) / 1000)
  return Duration.seconds(Number.isFinite(seconds) ? Math.min(maxSeconds, Math.max(0, seconds)) : maxSeconds)
}
