/**
 * The core's reading of Effect's monotonic clock, and the one comparison every deadline check uses.
 *
 * @internal
 */
import { Clock, Effect } from "effect"

/**
 * Monotonic milliseconds from the Effect clock, rounded *up* to whole microseconds. Deadlines are sums of these and
 * of option durations; comparing them exactly would let float rounding leave a deadline one ulp in the future after
 * sleeping "until" it, and a loop would then sleep zero and spin. Rounding up makes every computed sleep end at or
 * just before its target (never after it), and comparisons use `reached` below, which tolerates that microsecond.
 *
 * @internal
 */
export const monotonicMillis: Effect.Effect<number> = Effect.map(Clock.monotonicTimeNanos, (n) => nanosToMillis(n))

/**
 * The same reading as `monotonicMillis`, synchronously, from a `Clock` at hand (the renewal scheduler arms its timer
 * outside any fiber).
 *
 * @internal
 */
export const monotonicMillisOf = (clock: Clock.Clock): number => nanosToMillis(clock.monotonicTimeNanosUnsafe())

const nanosToMillis = (nanos: bigint): number => Math.ceil(Number(nanos) / 1e3) / 1e3

/**
 * Whether `now` has reached `at`, with one microsecond of tolerance for float rounding.
 *
 * @internal
 */
export const reached = (now: number, at: number): boolean => now >= at - 0.001
