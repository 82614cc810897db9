/**
 * Leader election on the memory provider under TestClock: one leader among replicas, failover within the lease
 * duration plus one renew interval when the leader dies, resign with handoff, the observed leader stream, and
 * runWhileLeader interrupting work on loss.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Option, Scope, Stream, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import { LeaderElection, LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { withFaults } from "../conformance/faults.ts"

const replica = (provider: LeaseProviderShape, holderId: string, options = {}) =>
  Effect.gen(function* () {
    const manager = yield* LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider))
    return yield* LeaderElection.make("leader", { duration: "15 seconds", ...options }).pipe(
      Effect.provideService(LeaseManager, manager)
    )
  })

/** A replica whose store connection can be cut, as when its process dies or hangs. */
const mortal = (real: LeaseProviderShape, holderId: string) =>
  Effect.gen(function* () {
    const faults = withFaults(real)
    const election = yield* replica(faults.provider, holderId)
    const die = Effect.sync(() => {
      faults.failRenew = true
      faults.failAcquire = true
    })
    return { election, die }
  })

describe("LeaderElection", () => {
  it.effect("one leader among three replicas; failover within duration + renew interval after the leader dies", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const replicas = yield* Effect.forEach(["r1", "r2", "r3"], (id) => mortal(real, id))
      const campaigns = yield* Effect.forEach(replicas, (r) =>
        Effect.forkChild(r.election.campaign, { startImmediately: true })
      )
      yield* TestClock.adjust("1 second")
      const leaders = []
      for (const r of replicas) if (yield* SubscriptionRef.get(r.election.isLeader)) leaders.push(r)
      expect(leaders.length).toBe(1)
      const first = leaders[0]
      assert.isDefined(first)
      if (first === undefined) return

      // Let it lead for a while (renewing), then it dies: no more renewals, no release.
      yield* TestClock.adjust("30 seconds")
      expect(yield* SubscriptionRef.get(first.election.isLeader)).toBe(true)
      const diedAt = yield* Clock.currentTimeMillis
      yield* first.die

      const others = replicas.filter((r) => r !== first)
      let takeoverAt: number | undefined
      for (let step = 0; step < 400 && takeoverAt === undefined; step++) {
        yield* TestClock.adjust("100 millis")
        for (const r of others) {
          if (yield* SubscriptionRef.get(r.election.isLeader)) takeoverAt = yield* Clock.currentTimeMillis
        }
      }
      assert.isDefined(takeoverAt)
      const failover = (takeoverAt ?? 0) - diedAt
      console.log(`memory, 15 s lease: failover ${failover} ms after the leader died`)
      // duration 15 s + renew interval 10 s bounds it; in fact the store expiry comes at most 15 s after death.
      expect(failover).toBeLessThanOrEqual(15_000 + 10_000)
      expect(failover).toBeLessThanOrEqual(15_000 + 200)
      // The dead leader stopped believing it leads before the new one took over.
      expect(yield* SubscriptionRef.get(first.election.isLeader)).toBe(false)
      let leadersNow = 0
      for (const r of others) if (yield* SubscriptionRef.get(r.election.isLeader)) leadersNow++
      expect(leadersNow).toBe(1)
      yield* Effect.forEach(campaigns, Fiber.interrupt)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("resign with a successor hands leadership over with no gap; resign alone releases", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const a = yield* replica(real, "a")
      const b = yield* replica(real, "b")
      const lease = yield* a.campaign
      const token = yield* a.resign("b")
      assert.isTrue(Option.isSome(token))
      expect(yield* SubscriptionRef.get(a.isLeader)).toBe(false)
      expect((yield* real.inspect("leader")).holderId).toBe("b")
      const manager = yield* LeaseManager.make({ holderId: "b" }).pipe(Effect.provideService(LeaseProvider, real))
      const claimed = yield* manager.claim("leader", Option.getOrThrow(token), { duration: "15 seconds" })
      expect(claimed.fencingToken).toBeGreaterThan(lease.fencingToken)
      yield* claimed.release
      // Plain resign releases: the next campaign wins at once.
      yield* b.campaign
      expect(yield* b.resign()).toEqual(Option.none())
      expect((yield* real.inspect("leader")).held).toBe(false)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("followers see the current leader through the leader stream, within one renew interval", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const a = yield* replica(real, "a")
      const follower = yield* replica(real, "f")
      const seen = yield* follower.leader.pipe(
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )
      yield* TestClock.adjust("1 second")
      yield* a.campaign
      yield* TestClock.adjust("10 seconds") // one renew interval of a 15 s lease
      yield* a.resign()
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(seen)).toEqual([Option.none(), Option.some("a"), Option.none()])
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("runWhileLeader interrupts the work when leadership is lost, then campaigns again", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const a = yield* replica(real, "a")
      let runs = 0
      let interrupted = 0
      const work = Effect.sync(() => runs++).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Effect.sync(() => interrupted++))
      )
      const running = yield* Effect.forkChild(a.runWhileLeader(work), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      expect(runs).toBe(1)
      // An operator breaks the lease: the next renewal finds it gone, the work is interrupted, and the replica
      // campaigns again and wins (nobody else wants it).
      yield* real.breakLease("leader")
      yield* TestClock.adjust("12 seconds")
      expect(interrupted).toBe(1)
      expect(runs).toBe(2)
      expect(yield* SubscriptionRef.get(a.isLeader)).toBe(true)
      yield* Fiber.interrupt(running)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("runWhileLeader returns the work's result and releases leadership; closing the scope resigns", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const scope = yield* Scope.make()
      const a = yield* replica(real, "a").pipe(Scope.provide(scope))
      const result = yield* a.runWhileLeader(Effect.succeed(42))
      expect(result).toBe(42)
      expect((yield* real.inspect("leader")).held).toBe(false)
      yield* a.campaign
      expect((yield* real.inspect("leader")).held).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect((yield* real.inspect("leader")).held).toBe(false)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )
})
