/**
 * The fault suite on Redis: a private `redis-server` child process per scenario, 8 contenders each with its own
 * `RedisLeaseProvider` (two connections each), 2 s leases, real time, fewer cycles than on memory. The same
 * assertions as on memory (see `violations` in harness.ts), under:
 * - a mix of latency, errors and lease theft, injected by chaos wrappers around the real connections;
 * - holders that stall past their lease and client-side partitions;
 * - the server itself frozen with `SIGSTOP` for longer than a lease, then thawed with `SIGCONT`: every holder must
 *   give its lease up before it expires (checked by time: a frozen server cannot be asked), and the contenders must
 *   take over with higher tokens once it answers again.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { LeaseProviderShape } from "../../src/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { Fault, FaultPolicy, Latency } from "../../src/testing/index.ts"
import { type RedisServer, startRedisServer } from "../support/redisServer.ts"
import { type Backend, runScenario, type Scenario, summary, violations } from "./harness.ts"
import * as Scenarios from "./scenarios.ts"

// The heal phase is longer than a lease: a release that failed just before the heal leaves the lease to expire.
const scale: Scenarios.Scale = { lease: 2_000, faultMs: 3_000, healMs: 3_000, minCyclesAfterHeal: 2 }
const { shortWork } = Scenarios

const ownServer = Effect.acquireRelease(
  Effect.promise(() => startRedisServer()),
  (server) => Effect.promise(() => server.close())
)

/** A backend on a fresh server: one provider per contender, one more for checks and thefts. */
const redisBackend = (server: RedisServer, contenders: number, frozen: () => boolean) =>
  Effect.gen(function* () {
    const connect = (name: string) =>
      RedisLeaseProvider.make({ url: server.url, connectionName: name }).pipe(Effect.orDie)
    const providers: Array<LeaseProviderShape> = []
    for (let i = 0; i < contenders; i++) providers.push(yield* connect(`contender-${i}`))
    const checker = yield* connect("checker")
    const backend: Backend = {
      name: "redis",
      providerFor: (i) => providers[i] ?? checker,
      checker,
      advance: (ms) => Effect.sleep(Duration.millis(ms)),
      storeFrozen: frozen
    }
    return backend
  })

/** Whether the server is frozen right now (set by the SIGSTOP driver, read by the loss checks). */
interface Freeze {
  frozen: boolean
}

/** Runs a scenario on a fresh server; `build` may use the server (SIGSTOP) and the freeze flag. */
const runOnRedis = (build: (server: RedisServer, freeze: Freeze) => Scenario, seed: number) =>
  Effect.gen(function* () {
    const server = yield* ownServer
    const freeze: Freeze = { frozen: false }
    const scenario = build(server, freeze)
    const backend = yield* redisBackend(server, scenario.contenders, () => freeze.frozen)
    const outcome = yield* runScenario(scenario, backend, seed)
    console.log(summary(outcome))
    expect(violations(scenario, outcome)).toEqual([])
    return outcome
  })

describe("fault suite on Redis (real processes, 8 contenders, 2 s leases)", () => {
  it.live(
    "latency, errors and theft: no stale write accepted, every loss reported before expiry, progress after",
    () =>
      Effect.gen(function* () {
        const scenario: Scenario = {
          ...Scenarios.theft(scale),
          ...shortWork,
          name: "latency + errors + theft",
          rules: () => ({
            all: [{ fault: Fault.latency(Latency.uniform(0, 20)) }],
            acquire: [
              { when: FaultPolicy.probability(0.1), fault: Fault.unavailable() },
              { when: FaultPolicy.probability(0.05), fault: Fault.steal() }
            ],
            renew: [
              { when: FaultPolicy.probability(0.2), fault: Fault.unavailable() },
              { when: FaultPolicy.probability(0.05), fault: Fault.latency(Latency.uniform(150, 400)) }
            ],
            release: [{ when: FaultPolicy.probability(0.2), fault: Fault.unavailable() }]
          })
        }
        const outcome = yield* Effect.scoped(runOnRedis(() => scenario, 1))
        expect(outcome.cycles).toBeGreaterThan(20)
        expect(outcome.faults.Theft ?? 0).toBeGreaterThan(0)
        expect(outcome.faults.Failure ?? 0).toBeGreaterThan(0)
      }),
    30_000
  )

  it.live(
    "holders stalled past their lease and client partitions: late writes rejected, losses reported in time",
    () =>
      Effect.gen(function* () {
        const scenario: Scenario = {
          ...Scenarios.partition(scale, { every: [0.25, 0.75], length: [0.2, 1] }),
          ...shortWork,
          name: "stalled holders + partitions + renewal outages",
          faultMs: 4_000,
          blocking: { probability: 0.6, pauseMs: [scale.lease * 1.1, scale.lease * 1.4] },
          rules: Scenarios.renewalOutage(scale).rules
        }
        const outcome = yield* Effect.scoped(runOnRedis(() => scenario, 2))
        expect(outcome.blockedWrites).toBeGreaterThan(0)
        expect(outcome.faults.PartitionStarted ?? 0).toBeGreaterThan(0)
        expect(outcome.lossReasons.unconfirmed ?? 0).toBeGreaterThan(0)
        expect(outcome.report.rejectedStale).toBeGreaterThanOrEqual(outcome.blockedRejected)
      }),
    30_000
  )

  it.live(
    "SIGSTOP of the server for longer than a lease: holders give up before expiry, the others take over after SIGCONT",
    () =>
      Effect.gen(function* () {
        const freezeFor = scale.lease * 1.3
        const outcome = yield* Effect.scoped(
          runOnRedis(
            (server, freeze) => ({
              ...Scenarios.holderPause({ ...scale, faultMs: 4_000 }),
              name: "SIGSTOP",
              blocking: undefined,
              // Long holds (2 to 4 s): the holder is still working, so renewing, when the server freezes.
              steps: [4, 5],
              stepMs: [scale.lease * 0.25, scale.lease * 0.4],
              minCyclesAfterHeal: 1,
              driver: (context) =>
                Effect.gen(function* () {
                  // Freeze while someone holds the lease.
                  const held = context.backend.checker.inspect(context.leaseName).pipe(
                    Effect.map((info) => info.held),
                    Effect.orElseSucceed(() => false)
                  )
                  while (!(yield* held)) {
                    yield* Effect.sleep("20 millis")
                  }
                  yield* Effect.sleep("200 millis")
                  // Resumed on interruption too: a frozen server must never outlive its scenario.
                  yield* Effect.acquireUseRelease(
                    Effect.sync(() => {
                      freeze.frozen = true
                      server.pause()
                    }),
                    () => Effect.sleep(Duration.millis(freezeFor)),
                    () =>
                      Effect.sync(() => {
                        server.resume()
                        freeze.frozen = false
                      })
                  )
                  yield* Effect.never
                })
            }),
            3
          )
        )
        const frozenLosses = outcome.losses.filter((l) => l.store === "frozen")
        expect(frozenLosses.length).toBeGreaterThan(0)
        expect(frozenLosses.every((l) => l.reason === "unconfirmed")).toBe(true)
        expect(outcome.completedAfterHeal).toBeGreaterThan(0)
      }),
    30_000
  )
})
