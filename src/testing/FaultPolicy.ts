/**
 * When to inject a fault: probabilistic (seeded), deterministic (the Nth call, every Nth call, a scripted
 * sequence), threshold (after N calls, the first N calls) and time windows ("for 5 s every 30 s", by Effect's
 * `Clock`, so `TestClock` drives them).
 *
 * A policy is a pure function of a `DecisionContext`. The chaos provider builds that context **once per call** for
 * each rule and asks the rule's policy **once**: the original library evaluated each policy twice per call, so a
 * probability p became p², `FailFirstN(3)` let the 2nd call through and thresholds counted double. Here `call` is the
 * 1-based index of the call among those the rule has seen, `random` draws from the provider's seeded generator,
 * and nothing else is consulted, so a run is reproducible from its seed.
 *
 * ```ts
 * import { FaultPolicy } from "distributed-leasing/testing"
 *
 * FaultPolicy.probability(0.1)                                   // 10% of calls, reproducible from the seed
 * FaultPolicy.nth(3)                                             // the 3rd call only
 * FaultPolicy.afterCalls(100)                                    // from the 101st call on
 * FaultPolicy.window({ every: "30 seconds", for: "5 seconds" }) // intermittent outage
 * FaultPolicy.and(FaultPolicy.window({ every: "1 minute", for: "10 seconds" }), FaultPolicy.probability(0.5))
 * ```
 *
 * Constructors throw a `RangeError` on arguments that cannot mean anything (a probability of 2, a window longer
 * than its period): a mistake in a test's setup, reported where it is made.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

/**
 * The provider operations the chaos kit can fault.
 *
 * @since 0.1.0
 */
export type ChaosOperation = "acquire" | "renew" | "release" | "inspect" | "break"

/**
 * Every operation, in SPI order.
 *
 * @since 0.1.0
 */
export const operations: ReadonlyArray<ChaosOperation> = ["acquire", "renew", "release", "inspect", "break"]

/**
 * What a policy sees when it decides about one call.
 *
 * @since 0.1.0
 */
export interface DecisionContext {
  readonly operation: ChaosOperation
  /** The lease name of the call. */
  readonly name: string
  /** The lease id of the call (acquire: the requested id; inspect and break: `undefined`). */
  readonly leaseId: string | undefined
  /** The name of the wrapped provider (`"memory"`, `"redis"`, ...). */
  readonly provider: string
  /** 1-based index of this call among the calls this rule has seen (the rule's own counter). */
  readonly call: number
  /** `Clock` time in milliseconds (wall clock, so `TestClock` sets it). */
  readonly now: number
  /** Milliseconds since the chaos provider was built. */
  readonly elapsed: number
  /** A number in [0, 1) from the chaos provider's seeded generator. Each call of it draws one. */
  readonly random: () => number
}

/**
 * A decision rule. Build one with the constructors below, or write `decide` yourself (keep it a function of the
 * context only, or runs stop being reproducible).
 *
 * @since 0.1.0
 */
export interface FaultPolicy {
  readonly _tag: "FaultPolicy"
  /** Shown in events and docs, e.g. `probability(0.1)`. */
  readonly description: string
  readonly decide: (context: DecisionContext) => boolean
}

/**
 * A policy from a function.
 *
 * @since 0.1.0
 */
export const make = (description: string, decide: (context: DecisionContext) => boolean): FaultPolicy => ({
  _tag: "FaultPolicy",
  description,
  decide
})

const positiveInt = (what: string, n: number): number => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`)
  return n
}

const nonNegativeInt = (what: string, n: number): number => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`)
  return n
}

/**
 * Every call.
 *
 * @since 0.1.0
 */
export const always: FaultPolicy = make("always", () => true)

/**
 * No call (a rule switched off without removing it).
 *
 * @since 0.1.0
 */
export const never: FaultPolicy = make("never", () => false)

/**
 * Each call independently with probability `p`, drawn from the provider's seeded generator (one draw per call).
 *
 * @since 0.1.0
 */
export const probability = (p: number): FaultPolicy => {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability must be between 0 and 1, got ${p}`)
  return make(`probability(${p})`, (context) => context.random() < p)
}

/**
 * Exactly the listed calls (1-based), e.g. `nth(3)` or `nth(1, 4, 9)`.
 *
 * @since 0.1.0
 */
export const nth = (...calls: ReadonlyArray<number>): FaultPolicy => {
  const set = new Set(calls.map((n) => positiveInt("a call number", n)))
  return make(`nth(${calls.join(", ")})`, (context) => set.has(context.call))
}

/**
 * Every `n`th call: calls `n`, `2n`, `3n`, ... (shifted by `offset`: calls `n + offset`, `2n + offset`, ...).
 *
 * @since 0.1.0
 */
export const every = (n: number, options: { readonly offset?: number | undefined } = {}): FaultPolicy => {
  positiveInt("every", n)
  const offset = nonNegativeInt("offset", options.offset ?? 0)
  return make(
    `every(${n}${offset === 0 ? "" : `, offset ${offset}`})`,
    (context) => context.call > offset && (context.call - offset) % n === 0
  )
}

/**
 * A scripted sequence: call `i` is faulted when `pattern[i - 1]` is true. After the end of the pattern it starts
 * over (`repeat: true`, the default) or stops faulting (`repeat: false`).
 *
 * @since 0.1.0
 */
export const sequence = (
  pattern: ReadonlyArray<boolean>,
  options: { readonly repeat?: boolean | undefined } = {}
): FaultPolicy => {
  if (pattern.length === 0) throw new RangeError("a sequence needs at least one step")
  const repeat = options.repeat ?? true
  const script = pattern.map((b) => (b ? "x" : ".")).join("")
  return make(`sequence(${script}${repeat ? ", repeat" : ""})`, (context) => {
    const index = context.call - 1
    if (!repeat && index >= pattern.length) return false
    return pattern[index % pattern.length] === true
  })
}

/**
 * The first `n` calls (a store that is down at start-up).
 *
 * @since 0.1.0
 */
export const firstCalls = (n: number): FaultPolicy => {
  nonNegativeInt("firstCalls", n)
  return make(`firstCalls(${n})`, (context) => context.call <= n)
}

/**
 * Threshold: every call after the first `n` (a store that degrades after a while).
 *
 * @since 0.1.0
 */
export const afterCalls = (n: number): FaultPolicy => {
  nonNegativeInt("afterCalls", n)
  return make(`afterCalls(${n})`, (context) => context.call > n)
}

/**
 * Calls `from` to `to`, inclusive (1-based).
 *
 * @since 0.1.0
 */
export const betweenCalls = (from: number, to: number): FaultPolicy => {
  positiveInt("from", from)
  positiveInt("to", to)
  if (to < from) throw new RangeError(`betweenCalls needs from <= to, got ${from} > ${to}`)
  return make(`betweenCalls(${from}, ${to})`, (context) => context.call >= from && context.call <= to)
}

/**
 * An intermittent window by `Clock` time: faulted for `for` out of every `every`, counted from when the chaos
 * provider was built, shifted by `offset`. "Fail for 5 s every 30 s" is `window({ every: "30 seconds", for:
 * "5 seconds" })`: faulted during [0, 5 s), [30 s, 35 s), ... With `offset: "10 seconds"`: [10 s, 15 s), [40 s, 45 s), ...
 *
 * @since 0.1.0
 */
export const window = (options: {
  readonly every: Duration.Input
  readonly for: Duration.Input
  readonly offset?: Duration.Input | undefined
}): FaultPolicy => {
  const period = Duration.toMillis(Duration.fromInputUnsafe(options.every))
  const length = Duration.toMillis(Duration.fromInputUnsafe(options.for))
  const offset = options.offset === undefined ? 0 : Duration.toMillis(Duration.fromInputUnsafe(options.offset))
  if (!(period > 0) || !Number.isFinite(period)) throw new RangeError("window: `every` must be positive and finite")
  if (!(length >= 0) || length > period) throw new RangeError("window: `for` must be between 0 and `every`")
  if (!(offset >= 0) || !Number.isFinite(offset)) throw new RangeError("window: `offset` must be zero or positive")
  return make(`window(${length} ms every ${period} ms${offset === 0 ? "" : `, offset ${offset} ms`})`, (context) => {
    const t = context.elapsed - offset
    if (t < 0) return false
    return t % period < length
  })
}

/**
 * A single stretch of time, counted from when the chaos provider was built: faulted in [`from`, `to`).
 *
 * @since 0.1.0
 */
export const during = (options: { readonly from: Duration.Input; readonly to: Duration.Input }): FaultPolicy => {
  const from = Duration.toMillis(Duration.fromInputUnsafe(options.from))
  const to = Duration.toMillis(Duration.fromInputUnsafe(options.to))
  if (!(to >= from)) throw new RangeError("during: `to` must not be before `from`")
  return make(`during(${from} ms, ${to} ms)`, (context) => context.elapsed >= from && context.elapsed < to)
}

/**
 * Faulted when every policy says so. All of them are evaluated on every call (no short cut), so the number of
 * random draws per call does not depend on the outcome and runs stay reproducible.
 *
 * @since 0.1.0
 */
export const and = (...policies: ReadonlyArray<FaultPolicy>): FaultPolicy =>
  make(`and(${policies.map((p) => p.description).join(", ")})`, (context) => {
    let result = true
    for (const policy of policies) result = policy.decide(context) && result
    return result
  })

/**
 * Faulted when any policy says so. All of them are evaluated on every call, as in `and`.
 *
 * @since 0.1.0
 */
export const or = (...policies: ReadonlyArray<FaultPolicy>): FaultPolicy =>
  make(`or(${policies.map((p) => p.description).join(", ")})`, (context) => {
    let result = false
    for (const policy of policies) result = policy.decide(context) || result
    return result
  })

/**
 * The opposite of a policy.
 *
 * @since 0.1.0
 */
export const not = (policy: FaultPolicy): FaultPolicy =>
  make(`not(${policy.description})`, (context) => !policy.decide(context))
