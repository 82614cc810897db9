/**
 * How long an added latency lasts: fixed, or drawn from a distribution with the chaos provider's seeded generator.
 *
 * The delay itself is an `Effect.sleep`, so it runs on Effect's `Clock`: under `TestClock` a 300 ms latency costs
 * nothing but a `TestClock.adjust`, and the core's per-attempt timeout interrupts it like a real slow call.
 *
 * ```ts
 * import { Fault, Latency } from "distributed-leasing/testing"
 *
 * Fault.latency("50 millis")                                     // fixed
 * Fault.latency(Latency.uniform("10 millis", "200 millis"))      // uniform in [10, 200) ms
 * Fault.latency(Latency.exponential("30 millis", { max: "1 second" })) // long tail, capped
 * ```
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

/**
 * A latency distribution. `sample` draws from the generator it is given (never from elsewhere, so runs are
 * reproducible from the seed).
 *
 * @since 0.1.0
 */
export interface Latency {
  readonly _tag: "Latency"
  readonly description: string
  readonly sample: (random: () => number) => Duration.Duration
}

const ms = (input: Duration.Input, what: string): number => {
  const value = Duration.toMillis(Duration.fromInputUnsafe(input))
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${what} must be a finite, non-negative duration`)
  return value
}

/**
 * A distribution from a sampling function.
 *
 * @since 0.1.0
 */
export const make = (description: string, sample: (random: () => number) => Duration.Duration): Latency => ({
  _tag: "Latency",
  description,
  sample
})

/**
 * Always the same delay (draws nothing).
 *
 * @since 0.1.0
 */
export const fixed = (delay: Duration.Input): Latency => {
  const value = ms(delay, "a fixed latency")
  const duration = Duration.millis(value)
  return make(`fixed(${value} ms)`, () => duration)
}

/**
 * Uniform in [`min`, `max`) (one draw).
 *
 * @since 0.1.0
 */
export const uniform = (min: Duration.Input, max: Duration.Input): Latency => {
  const lo = ms(min, "min")
  const hi = ms(max, "max")
  if (hi < lo) throw new RangeError(`uniform latency needs min <= max, got ${lo} > ${hi}`)
  return make(`uniform(${lo} ms, ${hi} ms)`, (random) => Duration.millis(lo + (hi - lo) * random()))
}

/**
 * Exponential with the given mean, optionally capped at `max` (one draw): mostly short, sometimes long, which is
 * what real network latency looks like.
 *
 * @since 0.1.0
 */
export const exponential = (
  mean: Duration.Input,
  options: { readonly max?: Duration.Input | undefined } = {}
): Latency => {
  const m = ms(mean, "mean")
  const cap = options.max === undefined ? Number.POSITIVE_INFINITY : ms(options.max, "max")
  return make(`exponential(mean ${m} ms${Number.isFinite(cap) ? `, max ${cap} ms` : ""})`, (random) =>
    // 1 - random() is in (0, 1], so the logarithm is finite.
    Duration.millis(Math.min(cap, -m * Math.log(1 - random())))
  )
}

/**
 * The input of `Fault.latency`: a fixed duration or a distribution.
 *
 * @since 0.1.0
 */
export const fromInput = (input: Duration.Input | Latency): Latency => (isLatency(input) ? input : fixed(input))

/**
 * Whether a value is a `Latency` distribution.
 *
 * @since 0.1.0
 */
export const isLatency = (u: unknown): u is Latency =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "Latency"
