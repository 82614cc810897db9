/**
 * Timeouts and timers for the hot path, cheaper than the general combinators on the real clock.
 *
 * `Effect.timeoutOrElse` races the effect against a sleep: two forked fibers and a timer for every store call, a
 * tenth of an uncontended acquire + release on the memory provider. On Effect's default clock, whose sleeps are
 * plain `setTimeout`s, the same guarantee costs one fiber and one `setTimeout`, and no timer at all when the store
 * answers synchronously. Under any other clock (`TestClock`, a user's own) the general combinators are used, so
 * tests drive these timeouts exactly as before.
 *
 * @internal
 */
import { Clock, Context, Duration, Effect, type Exit } from "effect"

/** The prototype of Effect's default clock: every instance of it shares its `sleep`, a `setTimeout`. */
const realClockPrototype: unknown = Object.getPrototypeOf(Clock.Clock.defaultValue())

/**
 * Whether `clock` is Effect's default clock (real time, sleeps are `setTimeout`s).
 *
 * @internal
 */
export const isRealClock = (clock: Clock.Clock): boolean => Object.getPrototypeOf(clock) === realClockPrototype

/**
 * `Effect.timeoutOrElse` with the same meaning: `self` runs (in a child fiber, interruptible as forked), and if it
 * has not finished after `duration` it is interrupted, without waiting for the interruption to end, and `orElse`
 * runs instead.
 *
 * @internal
 */
export const timeoutOrElse = <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  options: { readonly duration: Duration.Duration; readonly orElse: () => Effect.Effect<A2, E2, R2> }
): Effect.Effect<A | A2, E | E2, R | R2> =>
  Effect.withFiber((parent) => {
    if (!isRealClock(parent.getRef(Clock.Clock))) return Effect.timeoutOrElse(self, options)
    const millis = Duration.toMillis(options.duration)
    return Effect.flatMap(Effect.forkChild(self, { startImmediately: true }), (fiber) => {
      const done = fiber.pollUnsafe()
      if (done !== undefined) return done
      // `register` takes only `resume`: with a second parameter Effect would allocate an AbortController per call.
      return Effect.callback<A | A2, E | E2, R | R2>((resume) => {
        // Resume before interrupting: the interrupted fiber may report its exit synchronously, and the first
        // resume wins.
        const handle = setTimeout(() => {
          resume(options.orElse())
          fiber.interruptUnsafe()
        }, millis)
        fiber.addObserver((exit: Exit.Exit<A, E>) => {
          clearTimeout(handle)
          resume(exit)
        })
        return Effect.sync(() => {
          clearTimeout(handle)
          fiber.interruptUnsafe()
        })
      })
    })
  })

/**
 * A cancellable one-shot timer that runs `effect` (in a fiber of its own, from `context`) once `millis` have passed
 * on the clock of `context`. Returns the cancel function.
 *
 * @internal
 */
export const schedule = (
  context: Context.Context<never>,
  millis: number,
  effect: Effect.Effect<void>
): (() => void) => {
  const run = Effect.runForkWith(context)
  // Never a zero delay: at least one microsecond, so the clock (and TestClock) moves on.
  const delay = Math.max(0.001, millis)
  if (isRealClock(Context.get(context, Clock.Clock))) {
    const handle = setTimeout(() => run(effect), delay)
    return () => clearTimeout(handle)
  }
  const fiber = run(Effect.andThen(Effect.sleep(Duration.millis(delay)), Effect.uninterruptible(effect)))
  return () => fiber.interruptUnsafe()
}
