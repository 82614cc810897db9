/**
 * The fault suite's engine, the same for every backend: N contenders run acquire → work → release cycles against
 * one lease, each through a chaos wrapper of its own around its own connection to the store, and write to one
 * `FencedResource` with their lease's fencing token. A scenario adds faults (rules per contender, a driver fiber
 * for partitions and thefts, holders that block); after the fault phase everything heals and the run goes on, to
 * show that progress resumes.
 *
 * What is recorded for the assertions (`checkSafety`):
 * - every loss, at the moment it is reported: the `Clock` time, the lease's own expiry (`lease.expiresAt`, i.e.
 *   send time of the last confirmed grant + its ttl, never later than the store's expiry), and what the store says
 *   right then through an unfaulted connection (`ours`: still held by our lease id; `freed-ours`: free, and the
 *   last token granted is ours, so nobody got it meanwhile; `other`: someone else has or had it since);
 * - which lease ids were stolen (from the chaos `Theft` events), because a theft is only learnt at the holder's
 *   next renewal, after the fact, by design;
 * - the resource's report (stale writes accepted, overlaps, gaps) and the cycles and writes after the heal.
 */
import { Clock, Duration, Effect, Fiber, Random, References, type Scope } from "effect"
import {
  type Lease,
  type LeaseLostReason,
  LeaseManager,
  type LeaseManagerShape,
  type LeaseOptions,
  LeaseProvider,
  type LeaseProviderShape
} from "../../src/index.ts"
import {
  type ChaosControllerShape,
  type ChaosEvent,
  ChaosLeaseProvider,
  type ChaosRules,
  type FencedReport,
  FencedResource
} from "../../src/testing/index.ts"
import * as Prng from "../../src/testing/internal/prng.ts"

/** Where the contenders' stores come from and how time passes. */
export interface Backend {
  readonly name: string
  /** The real provider contender `i` talks to (memory: one shared store; Redis: a connection each). */
  readonly providerFor: (i: number) => LeaseProviderShape
  /** A real provider for checks and thefts, never faulted. */
  readonly checker: LeaseProviderShape
  /** Lets `ms` of time pass: `TestClock.adjust` on memory, a real sleep on Redis. */
  readonly advance: (ms: number) => Effect.Effect<void>
  /** True while the store cannot answer at all (a SIGSTOPped server): loss checks then rely on time alone. */
  readonly storeFrozen?: (() => boolean) | undefined
}

/** A contender, as a driver sees it. */
export interface Contender {
  readonly index: number
  readonly holderId: string
  readonly chaos: ChaosControllerShape
  readonly manager: LeaseManagerShape
}

/** What a scenario's driver fiber gets. */
export interface DriverContext {
  readonly contenders: ReadonlyArray<Contender>
  /** A chaos wrapper over the checker connection, with no rules: for thefts "by an operator". */
  readonly operator: ChaosControllerShape
  /** The scenario's seeded generator. */
  readonly random: () => number
  readonly leaseName: string
  readonly backend: Backend
}

export interface Scenario {
  readonly name: string
  readonly contenders: number
  readonly leaseName: string
  readonly options: LeaseOptions
  readonly faultMs: number
  readonly healMs: number
  /** Writes per cycle. */
  readonly steps: readonly [number, number]
  /** Time before each write. */
  readonly stepMs: readonly [number, number]
  /** Pause between cycles. */
  readonly thinkMs: readonly [number, number]
  /** Rules of contender `i`'s chaos wrapper during the fault phase. */
  readonly rules?: ((i: number) => ChaosRules) | undefined
  /** Runs during the fault phase (partitions, thefts, SIGSTOP), interrupted at the heal. */
  readonly driver?: ((context: DriverContext) => Effect.Effect<void>) | undefined
  /**
   * A holder that blocks (a stalled event loop): with this probability per cycle, at one of its writes, its store
   * calls stop reaching the store and its work sleeps `pauseMs` without checking the lease, then writes.
   */
  readonly blocking?: { readonly probability: number; readonly pauseMs: readonly [number, number] } | undefined
  /** Thefts are part of the mix. Without them, a loss reason of `stolen` or `broken` is a failure of the core. */
  readonly thefts?: boolean | undefined
  /** Minimum completed cycles after the heal. */
  readonly minCyclesAfterHeal: number
}

export type StoreView = "ours" | "freed-ours" | "other" | "unanswered" | "frozen"

export interface LossRecord {
  readonly holderId: string
  readonly leaseId: string
  readonly token: bigint
  readonly reason: LeaseLostReason
  readonly at: number
  readonly expiresAt: number
  readonly stolen: boolean
  readonly store: StoreView
}

export interface Outcome {
  readonly scenario: string
  readonly backend: string
  readonly seed: number
  readonly cycles: number
  readonly completed: number
  readonly lost: number
  readonly failed: number
  readonly lossReasons: Readonly<Record<string, number>>
  readonly failures: Readonly<Record<string, number>>
  readonly losses: ReadonlyArray<LossRecord>
  readonly blockedWrites: number
  readonly blockedRejected: number
  readonly faults: Readonly<Record<string, number>>
  /** Injected faults by rule label. */
  readonly rules: Readonly<Record<string, number>>
  readonly report: FencedReport
  readonly completedAfterHeal: number
  readonly acceptedAfterHeal: number
  readonly healAt: number
}

const between = (random: () => number, [lo, hi]: readonly [number, number]): number =>
  Math.round(lo + (hi - lo) * random())

const increment = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1
}

/** Runs one scenario on one backend with one seed. */
export const runScenario = (
  scenario: Scenario,
  backend: Backend,
  seed: number
): Effect.Effect<Outcome, never, Scope.Scope> =>
  Effect.gen(function* () {
    const random = Prng.make(seed * 7919 + 17).next
    const resource = yield* FencedResource.make()
    const stolen = new Set<string>()
    const faults: Record<string, number> = {}
    const rules: Record<string, number> = {}
    const onFault = (event: ChaosEvent) => {
      increment(faults, event._tag)
      if ("rule" in event && event.rule !== undefined) increment(rules, event.rule)
      if (event._tag === "Theft" && event.evictedLeaseId !== undefined) stolen.add(event.evictedLeaseId)
    }
    const operator = yield* ChaosLeaseProvider.make(backend.checker, { seed, onFault })
    const contenders: Array<Contender> = []
    for (let i = 0; i < scenario.contenders; i++) {
      const chaos = yield* ChaosLeaseProvider.make(backend.providerFor(i), {
        seed: seed * 1000 + i,
        ...scenario.rules?.(i),
        onFault
      })
      const holderId = `c${i}`
      const manager = yield* LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, chaos.provider))
      contenders.push({ index: i, holderId, chaos, manager })
    }

    let phase: "fault" | "heal" = "fault"
    const faultEndsAt = (yield* Clock.currentTimeMillis) + scenario.faultMs
    let healAt = Number.POSITIVE_INFINITY
    let cycles = 0
    let completed = 0
    let completedAfterHeal = 0
    let lost = 0
    let failed = 0
    let blockedWrites = 0
    let blockedRejected = 0
    const lossReasons: Record<string, number> = {}
    const failures: Record<string, number> = {}
    const losses: Array<LossRecord> = []

    const recordLoss = (lease: Lease, reason: LeaseLostReason) =>
      Effect.gen(function* () {
        const at = yield* Clock.currentTimeMillis
        const expiresAt = lease.expiresAt.getTime()
        let store: StoreView = "frozen"
        if (backend.storeFrozen?.() !== true) {
          const info = yield* backend.checker
            .inspect(scenario.leaseName)
            .pipe(Effect.timeout("2 seconds"), Effect.option)
          store =
            info._tag === "None"
              ? "unanswered"
              : info.value.held
                ? info.value.leaseId === lease.leaseId
                  ? "ours"
                  : "other"
                : info.value.fencingToken === lease.fencingToken
                  ? "freed-ours"
                  : "other"
        }
        losses.push({
          holderId: lease.holderId,
          leaseId: lease.leaseId,
          token: lease.fencingToken,
          reason,
          at,
          expiresAt,
          stolen: stolen.has(lease.leaseId),
          store
        })
      })

    const cycle = (contender: Contender, rng: () => number) =>
      Effect.gen(function* () {
        const lease = yield* contender.manager.acquire(scenario.leaseName, scenario.options)
        yield* resource.track(lease)
        // Record the loss the moment the lease reports it (not when the work notices).
        yield* Effect.forkScoped(
          Effect.flatMap(lease.lost, (error) => recordLoss(lease, error.reason)),
          { startImmediately: true }
        )
        const steps = between(rng, scenario.steps)
        const blocking = scenario.blocking
        const blockAt = blocking !== undefined && rng() < blocking.probability ? between(rng, [1, steps]) : 0
        for (let step = 1; step <= steps; step++) {
          const delay = between(rng, scenario.stepMs)
          const write = resource.write(lease.holderId, lease.fencingToken, { step })
          const stall = blocking === undefined ? 0 : between(rng, blocking.pauseMs)
          // Stalls belong to the fault phase: one that would run into the heal is skipped.
          const stallFits = phase === "fault" && (yield* Clock.currentTimeMillis) + stall <= faultEndsAt
          if (step === blockAt && stallFits) {
            // A stalled process: its store calls stop going out (so its renewals cannot), and the work sleeps past
            // the lease without checking it, then writes as if nothing happened.
            yield* contender.chaos.pause(undefined, { deliverLate: false })
            const record = yield* Effect.uninterruptible(
              Effect.sleep(Duration.millis(stall)).pipe(Effect.andThen(write))
            )
            yield* contender.chaos.resume
            blockedWrites++
            if (!record.accepted) blockedRejected++
            continue
          }
          // Ordinary work checks the lease: it is interrupted at the moment of loss.
          yield* Effect.raceFirst(
            Effect.sleep(Duration.millis(delay)).pipe(Effect.andThen(write)),
            Effect.flatMap(lease.lost, Effect.fail)
          )
        }
      })

    const loop = (contender: Contender) =>
      Effect.gen(function* () {
        const rng = Prng.make(seed * 104_729 + contender.index).next
        while (true) {
          cycles++
          const exit = yield* Effect.exit(Effect.scoped(cycle(contender, rng)))
          if (exit._tag === "Success") {
            completed++
            if (phase === "heal") completedAfterHeal++
          } else {
            const error = exit.cause.reasons.find((r) => r._tag === "Fail")
            if (error?._tag === "Fail" && error.error._tag === "LeaseLostError") {
              lost++
              increment(lossReasons, error.error.reason)
            } else {
              failed++
              increment(failures, error?._tag === "Fail" ? error.error._tag : "defect")
            }
          }
          yield* Effect.sleep(Duration.millis(between(rng, scenario.thinkMs)))
        }
      })

    const fibers = yield* Effect.forEach(contenders, (c) => Effect.forkChild(loop(c), { startImmediately: true }))
    const driver =
      scenario.driver === undefined
        ? undefined
        : yield* Effect.forkChild(
            scenario.driver({ contenders, operator, random, leaseName: scenario.leaseName, backend }),
            { startImmediately: true }
          )

    yield* backend.advance(scenario.faultMs)

    // Heal: stop the driver, switch every fault off, end partitions and pauses.
    if (driver !== undefined) yield* Fiber.interrupt(driver)
    for (const c of contenders) {
      yield* c.chaos.disable
      yield* c.chaos.heal
      yield* c.chaos.resume
    }
    phase = "heal"
    healAt = yield* Clock.currentTimeMillis
    yield* backend.advance(scenario.healMs)

    yield* Fiber.interruptAll(fibers)
    const report = yield* resource.report
    const acceptedAfterHeal = (yield* resource.writes).filter((w) => w.accepted && w.at >= healAt).length
    return {
      scenario: scenario.name,
      backend: backend.name,
      seed,
      cycles,
      completed,
      lost,
      failed,
      lossReasons,
      failures,
      losses,
      blockedWrites,
      blockedRejected,
      faults,
      rules,
      report,
      completedAfterHeal,
      acceptedAfterHeal,
      healAt
    }
  }).pipe(
    Random.withSeed(seed),
    // Spans and logs cost about half the CPU of a simulated cycle and say nothing the counters do not.
    Effect.provideService(References.TracerEnabled, false),
    Effect.provideService(References.MinimumLogLevel, "None")
  )

const fmt = (record: Readonly<Record<string, number>>): string => {
  const entries = Object.entries(record).filter(([, n]) => n > 0)
  return entries.length === 0 ? "none" : entries.map(([k, n]) => `${k} ${n}`).join(", ")
}

/** The one-line summary printed per scenario run. */
export const summary = (o: Outcome): string => {
  const r = o.report
  const blocked = o.blockedWrites > 0 ? `, ${o.blockedRejected}/${o.blockedWrites} from blocked holders` : ""
  return (
    `[${o.backend}] ${o.scenario} seed=${o.seed}: ${o.cycles} cycles (${o.completed} completed, ${o.lost} lost: ` +
    `${fmt(o.lossReasons)}; ${o.failed} acquire failures: ${fmt(o.failures)}) | writes ${r.accepted} accepted, ` +
    `${r.rejected} rejected (stale ${r.rejectedStale}${blocked}), STALE ACCEPTED ${r.staleAccepted}, ` +
    `${r.writesOutsideHold} after the writer's loss (${r.acceptedOutsideHold} accepted: nobody newer had written) | ` +
    `overlaps ${r.overlaps} (${(r.overlapTime / 1000).toFixed(1)} s), gaps ${r.gaps} (${(r.gapTime / 1000).toFixed(1)} s) ` +
    `| faults: ${fmt(o.faults)} | after heal: ${o.completedAfterHeal} cycles, ${o.acceptedAfterHeal} writes`
  )
}

/** Violations of the safety and liveness properties, as readable lines (empty when all hold). */
export const violations = (scenario: Scenario, o: Outcome): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (o.report.staleAccepted !== 0) out.push(`${o.report.staleAccepted} stale writes accepted`)
  if (o.report.rejectedDuplicate !== 0) out.push(`${o.report.rejectedDuplicate} writes with a reused token`)
  for (const loss of o.losses) {
    const where = `${loss.holderId} token ${loss.token} (${loss.reason})`
    // Every loss, theft included, is reported before the lease's own expiry, which is never after the store's.
    if (!(loss.at < loss.expiresAt))
      out.push(`${where} reported at ${loss.at}, not before its expiry ${loss.expiresAt}`)
    if (loss.stolen) continue
    // Not stolen: the store must still hold it for us, or have freed it with nobody granted since.
    if (loss.store !== "ours" && loss.store !== "freed-ours" && loss.store !== "frozen") {
      out.push(`${where}: at the loss the store said ${loss.store}`)
    }
    if (scenario.thefts !== true && (loss.reason === "stolen" || loss.reason === "broken")) {
      out.push(`${where}: learnt after the fact without any theft`)
    }
  }
  if (o.completedAfterHeal < scenario.minCyclesAfterHeal) {
    out.push(`only ${o.completedAfterHeal} cycles completed after the heal (want ${scenario.minCyclesAfterHeal})`)
  }
  if (o.acceptedAfterHeal === 0) out.push("no write accepted after the heal")
  return out
}
