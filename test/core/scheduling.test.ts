/**
 * The core's timing primitives: the real-clock timeout (`internal/timer.ts`) and the shared renewal scheduler
 * (`internal/renewalScheduler.ts`). The timeout has two paths, a `setTimeout` on Effect's default clock and
 * `Effect.timeoutOrElse` under any other; both are checked here, the real one with real (short) time.
 */
import { afterEach, assert, beforeEach, describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { LeaseManager, LeaseProvider } from "../../src/index.ts"
import * as Scheduler from "../../src/internal/renewalScheduler.ts"
import * as Timer from "../../src/internal/timer.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"

const timedOut = { _tag: "timed-out" } as const
const withTimeout = <A, E>(effect: Effect.Effect<A, E>, ms: number) =>
  Timer.timeoutOrElse(effect, { duration: Duration.millis(ms), orElse: () => Effect.succeed(timedOut) })

/**
 * Timers set and not yet fired or cleared, counted by wrapping the global `setTimeout` / `clearTimeout` (which
 * Effect's default clock and the core's timer call at the time of the call). Node's own resource list also holds
 * the test runner's timers, so it cannot tell ours apart.
 */
const pending = new Set<unknown>()
const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout
beforeEach(() => {
  pending.clear()
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    const handle = realSetTimeout(() => {
      pending.delete(handle)
      handler()
    }, ms)
    pending.add(handle)
    return handle
  }) as typeof setTimeout
  globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
    pending.delete(handle)
    realClearTimeout(handle)
  }) as typeof clearTimeout
})
afterEach(() => {
  globalThis.setTimeout = realSetTimeout
  globalThis.clearTimeout = realClearTimeout
})
const activeTimeouts = () => pending.size

describe("Timer.timeoutOrElse on the real clock", () => {
  it.live("a synchronous effect answers at once, with no timer left behind", () =>
    Effect.gen(function* () {
      const before = activeTimeouts()
      expect(yield* withTimeout(Effect.succeed(42), 1_000)).toBe(42)
      expect(activeTimeouts()).toBe(before)
    })
  )

  it.live("an effect that never answers gives orElse after the duration, not an interruption", () =>
    Effect.gen(function* () {
      const started = performance.now()
      const exit = yield* Effect.exit(withTimeout(Effect.never, 30))
      assert.isTrue(Exit.isSuccess(exit))
      expect(Exit.isSuccess(exit) ? exit.value : undefined).toEqual(timedOut)
      expect(performance.now() - started).toBeGreaterThanOrEqual(25)
    })
  )

  it.live("the timed-out effect is interrupted (its finalizer runs)", () =>
    Effect.gen(function* () {
      const interrupted = yield* Deferred.make<void>()
      const slow = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      expect(yield* withTimeout(slow, 10)).toEqual(timedOut)
      yield* Deferred.await(interrupted).pipe(Effect.timeout("1 second"))
    })
  )

  it.live("an asynchronous answer before the duration wins, and its timer is cleared", () =>
    Effect.gen(function* () {
      const before = activeTimeouts()
      expect(yield* withTimeout(Effect.as(Effect.sleep("5 millis"), "late enough"), 1_000)).toBe("late enough")
      expect(activeTimeouts()).toBe(before)
    })
  )

  it.live("failures and defects of the effect pass through", () =>
    Effect.gen(function* () {
      const failed = yield* Effect.exit(withTimeout(Effect.andThen(Effect.sleep("1 millis"), Effect.fail("nope")), 500))
      expect(failed).toEqual(Exit.fail("nope"))
      const died = yield* Effect.exit(withTimeout(Effect.die("boom"), 500))
      assert.isTrue(Exit.hasDies(died))
    })
  )

  it.live("interrupting the caller interrupts the effect and clears the timer", () =>
    Effect.gen(function* () {
      const before = activeTimeouts()
      const interrupted = yield* Deferred.make<void>()
      const slow = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      const fiber = yield* Effect.forkChild(withTimeout(slow, 60_000))
      yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(interrupted).pipe(Effect.timeout("1 second"))
      expect(activeTimeouts()).toBe(before)
    })
  )
})

describe("Timer.timeoutOrElse under TestClock", () => {
  it.effect("follows the test clock, not real time", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(withTimeout(Effect.never, 10_000))
      yield* TestClock.adjust("9999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toEqual(timedOut)
    })
  )
})

interface Entry extends Scheduler.Schedulable {
  readonly id: string
}

describe("RenewalScheduler", () => {
  it.effect("visits entries in the order of their instants, each once, and only when due", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const visited: Array<[string, number]> = []
      const scheduler = Scheduler.make<Entry>((entry, now) => {
        visited.push([entry.id, now])
      })
      const entry = (id: string): Entry => ({ id, wakeAt: 0, heapIndex: -1, context })
      const [a, b, c, d] = [entry("a"), entry("b"), entry("c"), entry("d")]
      scheduler.schedule(c, 3_000)
      scheduler.schedule(a, 1_000)
      scheduler.schedule(d, 4_000)
      scheduler.schedule(b, 2_000)
      scheduler.schedule(d, 500) // moved earlier
      scheduler.unschedule(c)
      scheduler.unschedule(c) // idempotent
      expect(scheduler.size()).toBe(3)
      yield* TestClock.adjust("499 millis")
      expect(visited).toEqual([])
      yield* TestClock.adjust("10 seconds")
      expect(visited.map(([id]) => id)).toEqual(["d", "a", "b"])
      expect(visited.map(([, at]) => at)).toEqual([500, 1_000, 2_000])
      expect(scheduler.size()).toBe(0)
    })
  )

  it.effect("an entry rescheduled from its own visit is visited again at its new instant", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const visits: Array<number> = []
      const scheduler: Scheduler.RenewalScheduler<Entry> = Scheduler.make<Entry>((entry, now) => {
        visits.push(now)
        if (visits.length < 3) scheduler.schedule(entry, now + 1_000)
      })
      scheduler.schedule({ id: "x", wakeAt: 0, heapIndex: -1, context }, 1_000)
      yield* TestClock.adjust("1 minute")
      expect(visits).toEqual([1_000, 2_000, 3_000])
    })
  )

  it.effect("coalescing: entries due within the window are visited in the same tick, with the horizon", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const visited: Array<[string, number, number]> = []
      const scheduler = Scheduler.make<Entry>((entry, now, horizon) => {
        visited.push([entry.id, now, horizon])
      }, 10)
      const entry = (id: string): Entry => ({ id, wakeAt: 0, heapIndex: -1, context })
      scheduler.schedule(entry("a"), 1_000)
      scheduler.schedule(entry("b"), 1_005)
      scheduler.schedule(entry("c"), 1_020)
      yield* TestClock.adjust("1 second")
      expect(visited).toEqual([
        ["a", 1_000, 1_010],
        ["b", 1_000, 1_010]
      ])
      yield* TestClock.adjust("1 minute")
      expect(visited.map(([id]) => id)).toEqual(["a", "b", "c"])
    })
  )

  it.live("on the real clock, emptying the heap cancels the timer (nothing keeps the process alive)", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const before = activeTimeouts()
      const scheduler = Scheduler.make<Entry>(() => {})
      const entry: Entry = { id: "x", wakeAt: 0, heapIndex: -1, context }
      scheduler.schedule(entry, performance.now() + 60_000)
      expect(activeTimeouts()).toBe(before + 1)
      scheduler.unschedule(entry)
      expect(activeTimeouts()).toBe(before)
    })
  )

  it.live("10,000 leases of one manager share one timer", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager.make({ holderId: "many" })
      const before = activeTimeouts()
      yield* Effect.scoped(
        Effect.gen(function* () {
          for (let i = 0; i < 10_000; i++) yield* manager.acquire(`many-${i}`, { duration: "1 minute" })
          expect(yield* Effect.map(manager.held, (held) => held.length)).toBe(10_000)
          // One renewal timer for the whole manager (the memory provider keeps no timers of its own).
          expect(activeTimeouts() - before).toBe(1)
        })
      )
      expect(activeTimeouts()).toBe(before)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )
})

describe("renewal through the shared scheduler", () => {
  const layer = LeaseManager.layer.pipe(Layer.provide(MemoryLeaseProvider.layer()))

  it.effect("leases of different durations renew on their own schedules from one timer", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      yield* Effect.scoped(
        Effect.gen(function* () {
          const short = yield* manager.acquire("short", { duration: "3 seconds" })
          const long = yield* manager.acquire("long", { duration: "30 seconds" })
          yield* TestClock.adjust("2 seconds") // short's renewal is due at 2 s
          expect([short.renewalCount, long.renewalCount]).toEqual([1, 0])
          yield* TestClock.adjust("18 seconds") // 20 s: long's first renewal; short renewed every 2 s
          expect([short.renewalCount, long.renewalCount]).toEqual([10, 1])
          expect([short.state, long.state]).toEqual(["held", "held"])
        })
      )
    }).pipe(Effect.provide(layer))
  )
})

describe("release while a renewal is in flight", () => {
  it.effect(
    "the release goes out at once, and the attempt in flight is interrupted (its answer no longer counts)",
    () =>
      Effect.gen(function* () {
        const real = yield* MemoryLeaseProvider.make()
        const events: Array<string> = []
        const provider = {
          ...real,
          renew: (request: Parameters<typeof real.renew>[0]) =>
            Effect.andThen(
              Effect.sync(() => events.push("renew sent")),
              // A store that answers renewals only after 3 s (the lease's safety deadline is at 9 s).
              Effect.delay(real.renew(request), "3 seconds")
            ).pipe(Effect.onInterrupt(() => Effect.sync(() => events.push("renew interrupted")))),
          release: (request: Parameters<typeof real.release>[0]) =>
            Effect.andThen(
              Effect.sync(() => events.push("release sent")),
              real.release(request)
            )
        }
        const manager = yield* LeaseManager.make({ holderId: "slow" }).pipe(
          Effect.provideService(LeaseProvider, provider)
        )
        const scope = yield* Scope.make()
        const lease = yield* manager.acquire("slow-renew", { duration: "10 seconds" }).pipe(Scope.provide(scope))
        yield* TestClock.adjust("7 seconds") // renewal due at 6.67 s: sent, and waiting for its answer
        expect(events).toEqual(["renew sent"])
        // No time passes: the release does not wait for the renewal in flight.
        yield* Scope.close(scope, Exit.void)
        expect(events).toEqual(["renew sent", "renew interrupted", "release sent"])
        expect(lease.state).toBe("released")
        expect((yield* real.inspect("slow-renew")).holderId).toBeUndefined()
        // Nothing is left scheduled: no renewal or loss later on.
        yield* TestClock.adjust("1 minute")
        expect(events).toEqual(["renew sent", "renew interrupted", "release sent"])
        expect(lease.state).toBe("released")
      })
  )
})

describe("courtesy to waiters of the same manager", () => {
  it.effect("a new acquire of a name its manager already waits for lets other fibers run before its attempt", () =>
    Effect.gen(function* () {
      const real = yield* MemoryLeaseProvider.make()
      const order: Array<string> = []
      const recording = {
        ...real,
        tryAcquire: (request: Parameters<typeof real.tryAcquire>[0]) =>
          Effect.andThen(
            Effect.sync(() => order.push(`attempt by ${request.holderId}`)),
            real.tryAcquire(request)
          )
      }
      const mine = yield* LeaseManager.make({ holderId: "mine" }).pipe(Effect.provideService(LeaseProvider, recording))
      const other = yield* LeaseManager.make({ holderId: "other" }).pipe(Effect.provideService(LeaseProvider, real))
      const scope = yield* Scope.make()
      yield* other.acquire("courtesy", { duration: "1 minute" }).pipe(Scope.provide(scope))
      // A waiter of `mine`: its first attempt finds the lease held, and it waits.
      const waiter = yield* Effect.forkChild(Effect.scoped(mine.acquire("courtesy", { duration: "1 minute" })), {
        startImmediately: true
      })
      expect(order).toEqual(["attempt by mine", "attempt by mine"]) // fast path, then the re-check after registering
      // A fiber scheduled now, and a newcomer of the same manager: the newcomer yields once, so the scheduled fiber
      // runs before its attempt. (A newcomer of a manager with no waiters would attempt at once.)
      yield* Effect.forkChild(Effect.sync(() => order.push("scheduled fiber")))
      const newcomer = yield* Effect.forkChild(
        Effect.scoped(mine.tryAcquire("courtesy-free")).pipe(
          Effect.andThen(Effect.scoped(mine.acquire("courtesy", { duration: "1 minute", timeout: 0 })))
        ),
        { startImmediately: true }
      )
      yield* Fiber.await(newcomer)
      expect(order.slice(2)).toEqual(["attempt by mine", "scheduled fiber", "attempt by mine"])
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(waiter)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )
})
