/**
 * The FencedResource checker: its write rule, its records, and what its report counts (overlaps, gaps, writes
 * outside a hold, the stale-acceptance audit), on hand-made timelines under TestClock and with real leases.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { ChaosLeaseProvider, FencedResource, StaleWriteError } from "../../src/testing/index.ts"

const managerOn = (provider: LeaseProviderShape, holderId: string) =>
  LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider))

describe("the write rule", () => {
  it.effect(
    "accepts a higher token, the same holder's equal token; rejects lower (stale) and equal-from-another (duplicate)",
    () =>
      Effect.gen(function* () {
        const resource = yield* FencedResource.make()
        const outcomes = []
        outcomes.push((yield* resource.write("a", 1n, "first")).outcome)
        yield* TestClock.adjust("1 second")
        outcomes.push((yield* resource.write("a", 1n)).outcome) // the same holder again
        outcomes.push((yield* resource.write("b", 1n)).outcome) // another holder with the same token
        outcomes.push((yield* resource.write("b", 2n)).outcome)
        outcomes.push((yield* resource.write("a", 1n, "late")).outcome) // the old holder, too late
        outcomes.push((yield* resource.write("c", 5n)).outcome) // tokens may jump (grants that never wrote)
        expect(outcomes).toEqual(["accepted", "accepted", "duplicate", "accepted", "stale", "accepted"])
        const writes = yield* resource.writes
        expect(writes.map((w) => w.at)).toEqual([0, 1000, 1000, 1000, 1000, 1000])
        expect(writes[0]?.payload).toBe("first")
        expect(writes[4]?.highestBefore).toBe(2n)
        expect(yield* resource.highest).toBe(5n)
        const report = yield* resource.report
        expect(report).toMatchObject({
          writes: 6,
          accepted: 4,
          rejected: 2,
          rejectedStale: 1,
          rejectedDuplicate: 1,
          staleAccepted: 0,
          highestToken: 5n
        })
      })
  )

  it.effect("writeOrFail fails with StaleWriteError, as a real resource would refuse the write", () =>
    Effect.gen(function* () {
      const resource = yield* FencedResource.make()
      yield* resource.writeOrFail("b", 2n)
      const error = yield* Effect.flip(resource.writeOrFail("a", 1n))
      assert.instanceOf(error, StaleWriteError)
      expect(error.outcome).toBe("stale")
      expect(error.highest).toBe(2n)
      expect(error.message).toContain("fencing token 1")
    })
  )

  it("the audit never finds an accepted stale token, whatever the order of writes (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.bigInt({ min: 1n, max: 6n })), { maxLength: 60 }),
        (writes) => {
          const report = Effect.runSync(
            Effect.gen(function* () {
              const resource = yield* FencedResource.make()
              for (const [holder, token] of writes) yield* resource.write(holder, token)
              const accepted = (yield* resource.writes).filter((w) => w.accepted).map((w) => w.token)
              // Accepted tokens never decrease.
              for (let i = 1; i < accepted.length; i++) {
                const previous = accepted[i - 1]
                const current = accepted[i]
                if (previous !== undefined && current !== undefined && current < previous) return undefined
              }
              return yield* resource.report
            })
          )
          return (
            report !== undefined && report.staleAccepted === 0 && report.accepted + report.rejected === writes.length
          )
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("holds: overlaps, gaps and writes outside a hold", () => {
  it.effect("two overlapping holders, then a gap, then a third", () =>
    Effect.gen(function* () {
      const resource = yield* FencedResource.make()
      yield* resource.hold("a", 1n) // a: 0–10 s
      yield* TestClock.adjust("5 seconds")
      yield* resource.hold("b", 2n) // b: 5–15 s, overlapping a for 5 s
      yield* TestClock.adjust("5 seconds")
      yield* resource.unhold("a", 1n)
      yield* TestClock.adjust("5 seconds")
      yield* resource.unhold("b", 2n)
      yield* resource.unhold("b", 2n) // idempotent
      yield* TestClock.adjust("5 seconds") // 15–20 s: nobody
      yield* resource.hold("c", 3n) // c: 20–30 s
      yield* TestClock.adjust("10 seconds")
      yield* resource.unhold("c", 3n)
      const report = yield* resource.report
      expect(report).toMatchObject({
        holds: 3,
        overlaps: 1,
        overlapTime: 5_000,
        maxConcurrentHolders: 2,
        gaps: 1,
        gapTime: 5_000,
        longestGap: 5_000,
        from: 0,
        to: 30_000
      })
    })
  )

  it.effect("a holder that keeps writing after its hold ended is counted outside its hold", () =>
    Effect.gen(function* () {
      const resource = yield* FencedResource.make()
      yield* resource.hold("a", 1n)
      yield* resource.write("a", 1n)
      yield* resource.unhold("a", 1n)
      yield* TestClock.adjust("1 second")
      yield* resource.write("a", 1n) // nobody else wrote: accepted, but outside the hold
      yield* resource.hold("b", 2n)
      yield* resource.write("b", 2n)
      yield* resource.write("a", 1n) // now stale
      const report = yield* resource.report
      expect(report.writesOutsideHold).toBe(2)
      expect(report.acceptedOutsideHold).toBe(1)
      expect(report.rejectedStale).toBe(1)
    })
  )

  it.effect("without declared holds, each writer's hold spans its first to last write", () =>
    Effect.gen(function* () {
      const resource = yield* FencedResource.make()
      yield* resource.write("a", 1n)
      yield* TestClock.adjust("4 seconds")
      yield* resource.write("b", 2n) // b: 4–6 s
      yield* resource.write("a", 1n) // a: 0–4 s (rejected, but it still shows a's belief)
      yield* TestClock.adjust("2 seconds")
      yield* resource.write("b", 2n)
      const holds = yield* resource.holds
      expect(holds.map((h) => [h.holderId, h.from, h.to, h.implicit])).toEqual([
        ["a", 0, 4000, true],
        ["b", 4000, 6000, true]
      ])
      const report = yield* resource.report
      expect(report.overlaps).toBe(0)
      expect(report.gaps).toBe(0)
      expect(report.writesOutsideHold).toBe(0)
    })
  )
})

describe("with real leases", () => {
  it.effect("a paused holder's late write is rejected once the next holder wrote; the overlap is counted", () =>
    Effect.gen(function* () {
      const real = yield* MemoryLeaseProvider.make()
      const frozen = yield* ChaosLeaseProvider.make(real, { seed: 1 })
      const a = yield* managerOn(frozen.provider, "a")
      const b = yield* managerOn(real, "b")
      const resource = yield* FencedResource.make()

      const scopeA = yield* Scope.make()
      const leaseA = yield* a.acquire("orders", { duration: "10 seconds" }).pipe(Scope.provide(scopeA))
      // Hold for the whole time A believes it holds the lease: until its scope closes (not until loss), as a
      // paused process would.
      yield* resource.hold(leaseA.holderId, leaseA.fencingToken)
      yield* resource.write(leaseA.holderId, leaseA.fencingToken, "before the pause")

      // A's process freezes: none of its calls reach the store, and its work sleeps past the lease.
      yield* frozen.pause()
      const lateWrite = yield* Effect.forkChild(
        Effect.sleep("15 seconds").pipe(Effect.andThen(resource.write(leaseA.holderId, leaseA.fencingToken, "late")))
      )
      const leaseB = yield* b.acquire("orders", { duration: "10 seconds" }).pipe(Effect.forkChild)
      yield* TestClock.adjust("11 seconds") // the store's grant to A runs out at 10 s; B takes over just after
      const lease = yield* Fiber.join(leaseB)
      expect(lease.fencingToken).toBe(leaseA.fencingToken + 1n)
      yield* resource.track(lease)
      yield* resource.write(lease.holderId, lease.fencingToken, "b's first write")
      yield* TestClock.adjust("4 seconds")
      const late = yield* Fiber.join(lateWrite)
      expect(late.accepted).toBe(false)
      expect(late.outcome).toBe("stale")
      yield* resource.unhold(leaseA.holderId, leaseA.fencingToken)
      yield* frozen.resume
      yield* Scope.close(scopeA, Exit.void)

      const report = yield* resource.report
      expect(report.staleAccepted).toBe(0)
      expect(report.rejectedStale).toBe(1)
      expect(report.overlaps).toBe(1) // A (paused, still believing) and B held at once: fencing was needed
      expect(report.overlapTime).toBe(4_000) // from B's hold at 11 s to A's late write at 15 s
    })
  )

  it.effect("track holds at once and unholds at the moment of loss, or when the scope closes", () =>
    Effect.gen(function* () {
      const real = yield* MemoryLeaseProvider.make()
      const chaos = yield* ChaosLeaseProvider.make(real, { seed: 1 })
      const manager = yield* managerOn(chaos.provider, "a")
      const resource = yield* FencedResource.make()

      yield* Effect.scoped(
        Effect.gen(function* () {
          const lease = yield* manager.acquire("job", { duration: "9 seconds" })
          yield* resource.track(lease)
          yield* TestClock.adjust("2 seconds")
        })
      )
      const lost = yield* Effect.scoped(
        Effect.gen(function* () {
          const lease = yield* manager.acquire("job", { duration: "9 seconds" })
          yield* resource.track(lease)
          yield* chaos.partition()
          yield* TestClock.adjust("20 seconds") // declared lost at its safety deadline, 8.1 s after the grant
          return lease
        })
      )
      yield* chaos.heal
      const holds = yield* resource.holds
      expect(holds.map((h) => [h.token, h.from, h.to])).toEqual([
        [1n, 0, 2000],
        [lost.fencingToken, 2000, 10_100]
      ])
      expect(lost.lostError?.reason).toBe("unconfirmed")
    })
  )
})
