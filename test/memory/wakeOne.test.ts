/**
 * The memory provider's push wake-up wakes one waiter per release, the oldest first, and never loses the turn: a
 * woken registration that ends by interruption or failure passes it on. Under TestClock, with leases far longer
 * than the time each test lets pass, so only pushes (never an expiry) can wake anyone.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import { LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { counting, increasing, takeTurns, waiters } from "../support/waiters.ts"

const grant = (name: string, leaseId: string) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.seconds(60)
})

type Wait = NonNullable<LeaseProviderShape["waitForRelease"]>

const waitOf = (provider: LeaseProviderShape): Wait => {
  const wait = provider.waitForRelease
  if (wait === undefined) throw new Error("waitForRelease missing")
  return wait
}

/** A registration in a scope of its own, with a fiber already awaiting it. */
const register = (wait: Wait, name: string) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const released = yield* wait(name).pipe(Scope.provide(scope))
    const fiber = yield* Effect.forkChild(released, { startImmediately: true })
    return { scope, fiber }
  })

/** Lets woken fibers run (no clock movement needed: wake-ups are pushed). */
const settle = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const woken = (registrations: ReadonlyArray<{ readonly fiber: Fiber.Fiber<void> }>) =>
  Effect.map(settle, () => registrations.map((r) => r.fiber.pollUnsafe() !== undefined))

/** A release of `name`: take it, then give it back. */
const releaseOnce = (provider: LeaseProviderShape, name: string, leaseId: string) =>
  Effect.gen(function* () {
    expect((yield* provider.tryAcquire(grant(name, leaseId)))._tag).toBe("Acquired")
    expect(yield* provider.release({ name, leaseId })).toBe(true)
  })

describe("memory push wake-up: one waiter per release", () => {
  it.effect("one release wakes exactly one registration, the oldest; the next release the next one", () =>
    Effect.gen(function* () {
      const provider = yield* MemoryLeaseProvider.make()
      const wait = waitOf(provider)
      const name = "fifo"
      const other = yield* register(wait, "another-name")
      const oldest = yield* register(wait, name)
      const registrations = [oldest]
      for (let i = 0; i < 4; i++) registrations.push(yield* register(wait, name))
      expect(yield* woken(registrations)).toEqual([false, false, false, false, false])

      yield* releaseOnce(provider, name, "a")
      expect(yield* woken(registrations)).toEqual([true, false, false, false, false])
      // The woken one's scope ends normally (its owner goes on to attempt): it consumed the turn.
      yield* Scope.close(oldest.scope, Exit.void)
      expect(yield* woken(registrations)).toEqual([true, false, false, false, false])

      yield* releaseOnce(provider, name, "b")
      expect(yield* woken(registrations)).toEqual([true, true, false, false, false])
      // A woken registration still open is skipped: the next release goes to the oldest not woken yet.
      expect((yield* provider.tryAcquire(grant(name, "c")))._tag).toBe("Acquired")
      expect(yield* provider.breakLease(name)).toBe(true)
      expect(yield* woken(registrations)).toEqual([true, true, true, false, false])
      expect(yield* woken([other])).toEqual([false])
    })
  )

  it.effect("a wake delivered before anyone awaits is kept: awaiting completes at once", () =>
    Effect.gen(function* () {
      const provider = yield* MemoryLeaseProvider.make()
      const wait = waitOf(provider)
      const outcome = yield* Effect.scoped(
        Effect.gen(function* () {
          const first = yield* wait("early")
          const second = yield* wait("early")
          yield* releaseOnce(provider, "early", "a")
          const fiber = yield* Effect.forkChild(second, { startImmediately: true })
          yield* settle
          const secondWoken = fiber.pollUnsafe() !== undefined
          const firstFiber = yield* Effect.forkChild(first, { startImmediately: true })
          yield* settle
          return { first: firstFiber.pollUnsafe() !== undefined, second: secondWoken }
        })
      )
      expect(outcome).toEqual({ first: true, second: false })
    })
  )

  it.effect("a release with no registration is not stored for later registrations", () =>
    Effect.gen(function* () {
      const provider = yield* MemoryLeaseProvider.make()
      const wait = waitOf(provider)
      yield* releaseOnce(provider, "nobody", "a")
      const late = yield* register(wait, "nobody")
      expect(yield* woken([late])).toEqual([false])
      yield* releaseOnce(provider, "nobody", "b")
      expect(yield* woken([late])).toEqual([true])
    })
  )

  it.effect("a woken registration whose owner is interrupted passes the turn to the next", () =>
    Effect.gen(function* () {
      const provider = yield* MemoryLeaseProvider.make()
      const wait = waitOf(provider)
      const name = "interrupted"
      // An owner that registered and is busy (as if attempting) when the wake arrives, then is interrupted.
      const registered = yield* Deferred.make<void>()
      const owner = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            yield* wait(name)
            yield* Deferred.succeed(registered, undefined)
            return yield* Effect.never
          })
        ),
        { startImmediately: true }
      )
      yield* Deferred.await(registered)
      const next = [yield* register(wait, name), yield* register(wait, name)]
      yield* releaseOnce(provider, name, "a")
      expect(yield* woken(next)).toEqual([false, false])
      yield* Fiber.interrupt(owner)
      expect(yield* woken(next)).toEqual([true, false])
    })
  )

  it.effect("a woken registration whose scope fails passes the turn; one that was never woken passes nothing", () =>
    Effect.gen(function* () {
      const provider = yield* MemoryLeaseProvider.make()
      const wait = waitOf(provider)
      const name = "failed"
      const notWoken = yield* register(wait, name)
      const first = yield* register(wait, name)
      const second = yield* register(wait, name)
      const third = yield* register(wait, name)
      const rest = [second, third]
      // Interrupting a registration that was not woken wakes nobody...
      yield* Scope.close(notWoken.scope, Exit.failCause(Cause.interrupt()))
      expect(yield* woken([first, ...rest])).toEqual([false, false, false])
      // ...and the release then goes to the oldest remaining one.
      yield* releaseOnce(provider, name, "a")
      expect(yield* woken([first, ...rest])).toEqual([true, false, false])
      yield* Scope.close(first.scope, Exit.fail("the attempt failed"))
      expect(yield* woken(rest)).toEqual([true, false])
      // The passed turn is consumed normally: nobody else wakes.
      yield* Scope.close(second.scope, Exit.void)
      expect(yield* woken(rest)).toEqual([true, false])
      // With nobody left to pass to, a passed turn is dropped (like a release nobody waits for).
      yield* Scope.close(third.scope, Exit.void)
      const last = yield* register(wait, name)
      yield* releaseOnce(provider, name, "b")
      yield* Scope.close(last.scope, Exit.failCause(Cause.interrupt()))
      const later = yield* register(wait, name)
      expect(yield* woken([later])).toEqual([false])
    })
  )

  it.effect("8 waiters through LeaseManager get the lease in turn, with one attempt per handoff", () =>
    Effect.gen(function* () {
      const { provider, stats } = counting(yield* MemoryLeaseProvider.make())
      const opts = { duration: Duration.seconds(60) }
      const name = "queue"
      const holderScope = yield* Scope.make()
      const holder = yield* LeaseManager.make({ holderId: "holder" }).pipe(
        Effect.provideService(LeaseProvider, provider)
      )
      const first = yield* holder.acquire(name, opts).pipe(Scope.provide(holderScope))
      const turns = yield* takeTurns(provider, name, opts, first.fencingToken)
      const step = TestClock.adjust(Duration.millis(1))
      for (let i = 0; i < 1_000 && stats.registered < waiters; i++) yield* step
      expect(stats.registered).toBe(waiters)

      const before = stats.attempts
      yield* Scope.close(holderScope, Exit.void)
      // At most 2 s of test time: far from the 60 s expiry, so only push wake-ups can hand the lease on.
      for (let i = 0; i < 2_000 && turns.order.length < waiters; i++) yield* step
      expect([...turns.order].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      expect(turns.maxInside()).toBe(1)
      expect(increasing(turns.tokens)).toBe(true)
      for (const fiber of turns.fibers) assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      // One attempt per handoff; waking every waiter on each release would make 8 + 7 + ... + 1 = 36.
      const attempts = stats.attempts - before
      expect(attempts).toBeGreaterThanOrEqual(waiters)
      expect(attempts).toBeLessThanOrEqual(waiters + 2)
      expect(stats.registered).toBe(0)
    })
  )
})
