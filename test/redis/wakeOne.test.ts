/**
 * The Redis release notifier wakes one waiter per release message, the oldest first, and never loses the turn: a
 * woken registration that ends by interruption or failure passes it on. A reconnect of the subscriber and the
 * provider's shutdown still wake every registration. Real redis-server, real time, 10 s leases: a wake-up that
 * comes from an expiry instead of a push would show up as a timeout.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import { LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import * as ReleaseNotifier from "../../src/redis/ReleaseNotifier.ts"
import { counting, increasing, takeTurns, waiters } from "../support/waiters.ts"
import { buildProvider, eventually, rawClient, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()

const grant = (name: string, leaseId: string) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.seconds(10)
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

type Registered = { readonly scope: Scope.Closeable; readonly fiber: Fiber.Fiber<void> }

/** Which registrations are woken, once the messages sent so far had ample time to arrive (localhost). */
const woken = (registrations: ReadonlyArray<Registered>) =>
  Effect.map(Effect.sleep("150 millis"), () => registrations.map((r) => r.fiber.pollUnsafe() !== undefined))

/** A release of `name` (and so one message): take it, then give it back. */
const releaseOnce = (provider: LeaseProviderShape, name: string, leaseId: string) =>
  Effect.gen(function* () {
    expect((yield* provider.tryAcquire(grant(name, leaseId)))._tag).toBe("Acquired")
    expect(yield* provider.release({ name, leaseId })).toBe(true)
  })

describe("Redis push wake-up: one waiter per release", () => {
  it.live("one release wakes exactly one registration, the oldest; the next release the next one", () =>
    Effect.gen(function* () {
      const holder = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const waiter = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const wait = waitOf(waiter.provider)
      const name = uniqueName("fifo")
      const other = yield* register(wait, uniqueName("other"))
      const oldest = yield* register(wait, name)
      const registrations = [oldest]
      for (let i = 0; i < 4; i++) registrations.push(yield* register(wait, name))

      yield* releaseOnce(holder.provider, name, "a")
      expect(yield* woken(registrations)).toEqual([true, false, false, false, false])
      // Its scope ends normally (the owner goes on to attempt): the turn is consumed.
      yield* Scope.close(oldest.scope, Exit.void)
      expect(yield* woken(registrations)).toEqual([true, false, false, false, false])

      yield* releaseOnce(holder.provider, name, "b")
      expect(yield* woken(registrations)).toEqual([true, true, false, false, false])
      // A woken registration still open is skipped; a break wakes the next, like a release.
      expect((yield* holder.provider.tryAcquire(grant(name, "c")))._tag).toBe("Acquired")
      expect(yield* holder.provider.breakLease(name)).toBe(true)
      expect(yield* woken(registrations)).toEqual([true, true, true, false, false])
      expect(yield* woken([other])).toEqual([false])
      yield* holder.close
      yield* waiter.close
    })
  )

  it.live("a woken registration whose owner is interrupted, or whose scope fails, passes the turn on", () =>
    Effect.gen(function* () {
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const wait = waitOf(built.provider)
      const name = uniqueName("interrupted")
      // An owner busy (as if attempting) when its wake arrives, then interrupted: it will never attempt.
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
      const first = yield* register(wait, name)
      const second = yield* register(wait, name)
      const third = yield* register(wait, name)
      const next = [first, second, third]
      yield* releaseOnce(built.provider, name, "a")
      expect(yield* woken(next)).toEqual([false, false, false])
      yield* Fiber.interrupt(owner)
      expect(yield* woken(next)).toEqual([true, false, false])
      // A failure ends the turn's owner just as well.
      yield* Scope.close(first.scope, Exit.fail("the attempt failed"))
      expect(yield* woken(next)).toEqual([true, true, false])
      // A registration never woken passes nothing when interrupted.
      yield* Scope.close(third.scope, Exit.failCause(Cause.interrupt()))
      yield* Scope.close(second.scope, Exit.void)
      const later = yield* register(wait, name)
      expect(yield* woken([later])).toEqual([false])
      yield* built.close
    })
  )

  it.live("registrations() counts live registrations, woken or not, and a wake before the await is kept", () =>
    Effect.gen(function* () {
      const subscriber = yield* rawClient(server())
      const publisher = yield* rawClient(server())
      const channel = `wake-one-${Date.now()}:released`
      const notifierScope = yield* Scope.make()
      const notifier = yield* ReleaseNotifier.make(subscriber, channel).pipe(Scope.provide(notifierScope))
      const name = uniqueName("count")
      const scopes = [yield* Scope.make(), yield* Scope.make(), yield* Scope.make()] as const
      const [firstScope, secondScope, thirdScope] = scopes
      const first = yield* notifier.waitForRelease(name).pipe(Scope.provide(firstScope))
      const second = yield* notifier.waitForRelease(name).pipe(Scope.provide(secondScope))
      yield* notifier.waitForRelease(name).pipe(Scope.provide(thirdScope))
      expect(notifier.registrations()).toBe(3)
      // Nobody awaits yet: the message wakes the oldest, which completes at once when it awaits later.
      yield* Effect.promise(() => publisher.publish(channel, name))
      yield* Effect.sleep("150 millis")
      expect(notifier.registrations()).toBe(3)
      expect((yield* Effect.timeoutOption(first, "50 millis"))._tag).toBe("Some")
      expect((yield* Effect.timeoutOption(second, "50 millis"))._tag).toBe("None")
      yield* Scope.close(firstScope, Exit.void)
      yield* Scope.close(thirdScope, Exit.void)
      expect(notifier.registrations()).toBe(1)
      // The shutdown of the notifier wakes whoever is left.
      yield* Scope.close(notifierScope, Exit.void)
      expect((yield* Effect.timeoutOption(second, "50 millis"))._tag).toBe("Some")
      yield* Scope.close(secondScope, Exit.void)
      expect(notifier.registrations()).toBe(0)
    })
  )

  it.live("a subscriber reconnect and the provider's shutdown still wake every registration", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server())
      const connectionName = `wake-all-${Date.now()}`
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url, connectionName }))
      const wait = waitOf(built.provider)
      const name = uniqueName("reconnect")
      const registrations = [yield* register(wait, name), yield* register(wait, name), yield* register(wait, name)]
      const elsewhere = yield* register(wait, uniqueName("elsewhere"))
      yield* Effect.promise(() =>
        observer.call("CLIENT", "KILL", "USER", "default", "SKIPME", "yes").then(() => undefined)
      )
      yield* eventually(
        Effect.sync(() => [...registrations, elsewhere].every((r) => r.fiber.pollUnsafe() !== undefined)),
        "every registration is woken after the reconnect"
      )
      const afterReconnect = [yield* register(wait, name), yield* register(wait, name)]
      expect(yield* woken(afterReconnect)).toEqual([false, false])
      yield* built.close
      expect(yield* woken(afterReconnect)).toEqual([true, true])
    })
  )

  it.live("8 waiters through LeaseManager get the lease in turn, with about one attempt per handoff", () =>
    Effect.gen(function* () {
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const { provider, stats } = counting(built.provider)
      const opts = { duration: Duration.seconds(10) }
      const name = uniqueName("queue")
      const holderScope = yield* Scope.make()
      const holder = yield* LeaseManager.make({ holderId: "holder" }).pipe(
        Effect.provideService(LeaseProvider, provider)
      )
      const first = yield* holder.acquire(name, opts).pipe(Scope.provide(holderScope))
      const turns = yield* takeTurns(provider, name, opts, first.fencingToken)
      yield* eventually(
        Effect.sync(() => stats.registered === waiters),
        "every waiter is registered and asleep"
      )

      const before = stats.attempts
      const releasedAt = Date.now()
      yield* Scope.close(holderScope, Exit.void)
      // Far below the 10 s expiry: only push wake-ups can have handed the lease on in that time.
      yield* eventually(
        Effect.sync(() => turns.order.length === waiters),
        "every waiter got the lease in turn",
        "5 seconds"
      )
      expect(Date.now() - releasedAt).toBeLessThan(5_000)
      expect([...turns.order].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      expect(turns.maxInside()).toBe(1)
      expect(increasing(turns.tokens)).toBe(true)
      for (const fiber of turns.fibers) assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      // About one attempt per handoff; waking every waiter on each release would make 8 + 7 + ... + 1 = 36.
      const attempts = stats.attempts - before
      expect(attempts).toBeGreaterThanOrEqual(waiters)
      expect(attempts).toBeLessThanOrEqual(waiters + 4)
      yield* eventually(
        Effect.sync(() => stats.registered === 0),
        "no registration is left"
      )
      yield* built.close
    })
  )

  it.live("a provider subscribes on its first wait, not before: a worker that never waits reads no releases", () =>
    Effect.gen(function* () {
      const admin = yield* rawClient(server())
      const channel = "lease:released"
      const subscribers = () =>
        Effect.promise(() => admin.pubsub("NUMSUB", channel)).pipe(Effect.map((reply) => Number(reply[1])))
      const before = yield* subscribers()
      const worker = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const name = uniqueName("lazy")
      yield* releaseOnce(worker.provider, name, "a")
      yield* releaseOnce(worker.provider, name, "b")
      expect(yield* subscribers()).toBe(before)
      // The first wait subscribes before it returns, so a release right after it is delivered.
      const waiting = yield* register(waitOf(worker.provider), name)
      expect(yield* subscribers()).toBe(before + 1)
      const other = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      yield* releaseOnce(other.provider, name, "c")
      expect(yield* woken([waiting])).toEqual([true])
      yield* Scope.close(waiting.scope, Exit.void)
      yield* other.close
      yield* worker.close
    }).pipe(Effect.scoped)
  )
})
