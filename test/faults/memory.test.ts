/**
 * The fault suite on the memory provider under TestClock: 8 contenders, every fault mix, three seeds each, over
 * thousands of acquire → work → release cycles of 1 s leases in virtual time. Prints one summary line per run.
 *
 * Asserted per run (see `violations` in harness.ts): no stale token accepted and no token reused; every loss
 * reported before the lease's expiry; a loss that was not a theft found the store still holding the lease for us
 * (or freed with nobody granted since); no loss learnt after the fact unless leases were being stolen; progress
 * after the heal. Asserted per mix: the fault really happened (losses, thefts, overlaps, rejected stale writes).
 * And the whole run is reproducible: the same seed gives the same counts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { type Backend, type Outcome, runScenario, type Scenario, summary, violations } from "./harness.ts"
import * as Scenarios from "./scenarios.ts"

const scale: Scenarios.Scale = { lease: 1_000, faultMs: 100_000, healMs: 20_000, minCyclesAfterHeal: 10 }
const seeds = [1, 2, 3]

/** Runs a scenario on a fresh memory store, under a fresh TestClock (so a run does not depend on the ones before). */
const run = (scenario: Scenario, seed: number) =>
  Effect.gen(function* () {
    const testClock = yield* Clock.Clock
    const store = yield* MemoryLeaseProvider.make()
    const backend: Backend = {
      name: "memory",
      providerFor: () => store,
      checker: store,
      advance: (ms) => TestClock.adjust(Duration.millis(ms)).pipe(Effect.provideService(Clock.Clock, testClock))
    }
    return yield* Effect.scoped(runScenario(scenario, backend, seed))
  }).pipe(Effect.provide(TestClock.layer()))

const runAll = (scenario: Scenario) =>
  Effect.gen(function* () {
    const outcomes: Array<Outcome> = []
    for (const seed of seeds) {
      const outcome = yield* run(scenario, seed)
      console.log(summary(outcome))
      expect(violations(scenario, outcome)).toEqual([])
      outcomes.push(outcome)
    }
    const total = (f: (o: Outcome) => number) => outcomes.reduce((n, o) => n + f(o), 0)
    return { outcomes, total }
  })

describe("fault suite on memory (TestClock, 8 contenders, 3 seeds)", () => {
  // The counts are deterministic (see the replay test); the bounds below sit well under them, so that they catch a
  // fault that stopped firing, not a small change in the core's timing.
  it.effect("latency: calls slower than attemptTimeout and late replies cost cycles, never safety", () =>
    Effect.gen(function* () {
      const { total } = yield* runAll(Scenarios.latency(scale))
      expect(total((o) => o.cycles)).toBeGreaterThan(300)
      expect(total((o) => o.faults.Latency ?? 0)).toBeGreaterThan(2_500)
      expect(total((o) => o.rules.slow ?? 0)).toBeGreaterThan(250)
      expect(total((o) => o.rules["late reply"] ?? 0)).toBeGreaterThan(250)
    })
  )

  it.effect("errors: every mapped error, retryable or not, before or after the store applied the call", () =>
    Effect.gen(function* () {
      const { total } = yield* runAll(Scenarios.errors(scale))
      expect(total((o) => o.cycles)).toBeGreaterThan(300)
      expect(total((o) => o.faults.Failure ?? 0)).toBeGreaterThan(400)
      expect(total((o) => o.faults.Timeout ?? 0)).toBeGreaterThan(40)
      expect(total((o) => o.failures.ProviderUnavailableError ?? 0)).toBeGreaterThan(10) // non-retryable ones
      expect(total((o) => o.lossReasons.expired ?? 0)).toBeGreaterThan(2) // injected `lost` answers
    })
  )

  it.effect("renewal outages longer than the safety margin: losses reported in time, while the store still held", () =>
    Effect.gen(function* () {
      const { outcomes, total } = yield* runAll(Scenarios.renewalOutage(scale))
      expect(total((o) => o.cycles)).toBeGreaterThan(300)
      expect(total((o) => o.lossReasons.unconfirmed ?? 0)).toBeGreaterThan(5)
      for (const o of outcomes) {
        // An outage is a client-side failure: the store still had the lease every time it was given up.
        expect(o.losses.every((l) => l.store === "ours" || l.store === "freed-ours")).toBe(true)
      }
    })
  )

  it.effect(
    "theft: learnt at the next renewal, before expiry; the overlap is where fencing rejects the old holder",
    () =>
      Effect.gen(function* () {
        const { total } = yield* runAll(Scenarios.theft(scale))
        expect(total((o) => o.cycles)).toBeGreaterThan(300)
        expect(total((o) => o.faults.Theft ?? 0)).toBeGreaterThan(120)
        expect(total((o) => (o.lossReasons.stolen ?? 0) + (o.lossReasons.broken ?? 0))).toBeGreaterThan(60)
        expect(total((o) => o.report.overlaps)).toBeGreaterThan(150)
        expect(total((o) => o.report.rejectedStale)).toBeGreaterThan(100)
      })
  )

  it.effect("holder paused past its lease: its late write is rejected once the next holder has written", () =>
    Effect.gen(function* () {
      const { total } = yield* runAll(Scenarios.holderPause(scale))
      expect(total((o) => o.cycles)).toBeGreaterThan(300)
      expect(total((o) => o.blockedWrites)).toBeGreaterThan(25)
      expect(total((o) => o.blockedRejected)).toBeGreaterThan(20)
      expect(total((o) => o.report.rejectedStale)).toBeGreaterThanOrEqual(total((o) => o.blockedRejected))
      expect(total((o) => o.lossReasons.unconfirmed ?? 0)).toBeGreaterThan(15)
    })
  )

  it.effect("store partitions, whole or partial, failing or hanging: progress resumes after each", () =>
    Effect.gen(function* () {
      const { total } = yield* runAll(Scenarios.partition(scale))
      expect(total((o) => o.cycles)).toBeGreaterThan(300)
      expect(total((o) => o.faults.PartitionStarted ?? 0)).toBeGreaterThan(100)
      expect(total((o) => o.faults.Partitioned ?? 0)).toBeGreaterThan(300)
      expect(total((o) => o.lossReasons.unconfirmed ?? 0)).toBeGreaterThan(3)
    })
  )

  it.effect("the same seed replays the same run, to the count", () =>
    Effect.gen(function* () {
      const scenario = { ...Scenarios.theft({ ...scale, faultMs: 60_000, healMs: 10_000 }), name: "theft (replay)" }
      const first = yield* run(scenario, 11)
      const again = yield* run(scenario, 11)
      // Lease ids are random UUIDs (the core makes them); everything else must match, times included.
      const shape = (o: Outcome) => ({ ...o, losses: o.losses.map((l) => ({ ...l, leaseId: "" })) })
      expect(shape(again)).toEqual(shape(first))
      expect(first.cycles).toBeGreaterThan(100)
      const other = yield* run(scenario, 12)
      expect(shape(other)).not.toEqual(shape(first))
    })
  )
})
