/**
 * A chaos run against a user's service: `node --conditions=leasing-source examples/chaos-survival.ts`.
 *
 * The service is a singleton invoice sender: four replicas compete for the lease "invoice-sender"; whoever holds it
 * sends batches and records each one in a ledger with its fencing token. The ledger is played by the kit's
 * `FencedResource`: like a real database with a fencing check, it refuses a write whose token is older than one it
 * has seen, and the service treats that refusal as "I am no longer the sender".
 *
 * For three seconds, every replica's store connection goes through `ChaosLeaseProvider` (latency, failed renewals)
 * and a game-day script adds worse: the holder is partitioned from the store, then its lease is stolen behind its
 * back. Then the chaos stops, and the run checks that the service came through: no stale write accepted, every
 * fault survived, batches flowing again. Runs in real time (about 4 seconds) and exits by itself, with exit code 1
 * if the service did not survive.
 */

import {
  type Lease,
  LeaseManager,
  type LeaseManagerShape,
  LeaseProvider,
  type LeaseProviderShape
} from "distributed-leasing"
import { MemoryLeaseProvider } from "distributed-leasing/memory"
import {
  type ChaosControllerShape,
  ChaosLeaseProvider,
  Fault,
  FaultPolicy,
  FencedResource,
  type FencedResourceShape,
  Latency
} from "distributed-leasing/testing"
import { Clock, Duration, Effect, Fiber, References, Stream } from "effect"

const LEASE = "invoice-sender"
const DURATION = Duration.millis(600)
const SEED = 7
const started = performance.now()
let narrating = true
const say = (message: string) =>
  Effect.sync(() => {
    if (narrating) console.log(`+${((performance.now() - started) / 1000).toFixed(2)}s  ${message}`)
  })

// ── The user's service: unchanged by the chaos run ───────────────────────────────────────────────────────────────
let batches = 0

/** Sends 10 batches, 80 ms apart, each recorded in the ledger with the lease's fencing token. */
const sendBatches = (name: string, lease: Lease, ledger: FencedResourceShape) =>
  Effect.gen(function* () {
    for (let batch = 0; batch < 10; batch++) {
      yield* Effect.sleep("80 millis")
      // A refused write means someone newer holds the lease: stop sending at once.
      yield* ledger.writeOrFail(name, lease.fencingToken, { batch })
      batches++
    }
  })

/** One replica: wait for the lease, send while holding it, stop the moment it is lost; again and again. */
const replica = (name: string, leases: LeaseManagerShape, ledger: FencedResourceShape) =>
  Effect.forever(
    Effect.scoped(
      Effect.gen(function* () {
        const lease = yield* leases.acquire(LEASE, { duration: DURATION })
        yield* say(`${name} is the sender (fencing token ${lease.fencingToken})`)
        // Instrumentation for the run, not part of the service: tell the checker when we believe we hold it.
        yield* ledger.track(lease)
        const lost = Effect.flatMap(lease.lost, (error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            say(
              `${name} lost the lease (${error.reason}) ${lease.expiresAt.getTime() - now} ms before the store ` +
                "could expire it, and stopped sending"
            )
          )
        )
        // Work until done or until the lease is lost, whichever comes first; the scope then releases it.
        yield* Effect.raceFirst(sendBatches(name, lease, ledger), lost)
      })
    ).pipe(
      Effect.catchTags({
        StaleWriteError: (error) => say(`${name}'s write was refused by the ledger (${error.outcome}): it stopped`),
        ProviderUnavailableError: () => Effect.void
      }),
      Effect.andThen(Effect.sleep("20 millis"))
    )
  )

// ── The chaos run ────────────────────────────────────────────────────────────────────────────────────────────────
interface Replica {
  readonly name: string
  readonly chaos: ChaosControllerShape
}

/** Waits for a sender newer than `after` and returns it with its token. */
const nextSender = (store: LeaseProviderShape, replicas: ReadonlyArray<Replica>, after: bigint) =>
  Effect.gen(function* () {
    while (true) {
      const info = yield* store.inspect(LEASE)
      const sender = replicas.find((r) => r.name === info.holderId)
      if (info.held && sender !== undefined && (info.fencingToken ?? 0n) > after) {
        return { sender, token: info.fencingToken ?? 0n }
      }
      yield* Effect.sleep("10 millis")
    }
  })

/** The game-day script: partition a sender from the store, later steal the lease from another. */
const gameDay = (store: LeaseProviderShape, replicas: ReadonlyArray<Replica>, operator: ChaosControllerShape) =>
  Effect.gen(function* () {
    yield* Effect.sleep("700 millis")
    // Hit a sender 100 ms into its shift, so that its next renewal falls into the partition.
    const cut = yield* nextSender(store, replicas, (yield* store.inspect(LEASE)).fencingToken ?? 0n)
    yield* Effect.sleep("100 millis")
    yield* say(`chaos: ${cut.sender.name} (the sender) is partitioned from the store for 1 s`)
    yield* cut.sender.chaos.partition("1 second", { mode: "hang" })
    yield* Effect.sleep("1 second")
    const robbed = yield* nextSender(store, replicas, (yield* store.inspect(LEASE)).fencingToken ?? 0n)
    yield* Effect.sleep("150 millis")
    yield* say(`chaos: the lease is stolen from ${robbed.sender.name}, which does not know yet`)
    yield* operator.steal(LEASE)
  })

const program = Effect.scoped(
  Effect.gen(function* () {
    console.log(`chaos run: 4 replicas of ${LEASE}, ${Duration.format(DURATION)} leases, seed ${SEED}`)
    const store = yield* MemoryLeaseProvider.make()
    const ledger = yield* FencedResource.make()
    const injected: Record<string, number> = {}
    const onFault = (event: { readonly _tag: string }) => {
      injected[event._tag] = (injected[event._tag] ?? 0) + 1
    }

    // Each replica reaches the store through a chaos wrapper of its own, so one of them can be cut off alone.
    const replicas: Array<Replica> = []
    const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
    for (const [index, name] of ["replica-a", "replica-b", "replica-c", "replica-d"].entries()) {
      const chaos = yield* ChaosLeaseProvider.make(store, {
        seed: SEED * 10 + index,
        all: [{ fault: Fault.latency(Latency.uniform("0 millis", "15 millis")) }],
        renew: [{ when: FaultPolicy.probability(0.15), fault: Fault.unavailable() }],
        onFault
      })
      const leases = yield* LeaseManager.make({ holderId: name }).pipe(
        Effect.provideService(LeaseProvider, chaos.provider)
      )
      replicas.push({ name, chaos })
      fibers.push(yield* Effect.forkChild(replica(name, leases, ledger)))
    }
    const operator = yield* ChaosLeaseProvider.make(store, { seed: SEED, onFault })
    // The operator's events as a Stream: narrate the thefts.
    yield* operator.events.pipe(
      Stream.runForEach((event) =>
        event._tag === "Theft" ? say(`chaos: theft done (a holder was evicted: ${event.evicted})`) : Effect.void
      ),
      Effect.forkChild({ startImmediately: true })
    )

    yield* gameDay(store, replicas, operator)
    yield* Effect.sleep("1 second")
    yield* say("chaos over: faults off, partitions healed")
    for (const r of replicas) {
      yield* r.chaos.disable
      yield* r.chaos.heal
    }
    const before = batches
    yield* Effect.sleep("1200 millis")
    const after = batches - before
    narrating = false // replicas released by the shutdown below may still take the lease for an instant
    yield* Fiber.interruptAll(fibers)

    const report = yield* ledger.report
    const faults = Object.entries(injected)
      .map(([tag, n]) => `${tag} ${n}`)
      .join(", ")
    console.log("")
    console.log("summary:")
    console.log(
      `  batches written: ${report.accepted}, refused by the ledger: ${report.rejected} (stale fencing tokens)`
    )
    console.log(`  stale writes accepted: ${report.staleAccepted}`)
    console.log(
      `  overlapping holders: ${report.overlaps} (fencing needed), time without a holder: ${Math.round(report.gapTime)} ms`
    )
    console.log(`  faults injected: ${faults}`)
    console.log(`  after the chaos: ${after} batches`)
    const survived = report.staleAccepted === 0 && after > 0
    console.log(survived ? "service survived: yes" : "service survived: NO")
    if (!survived) process.exitCode = 1
  })
)

// The library warns on every failed renewal; the run narrates what matters itself.
Effect.runPromise(program.pipe(Effect.provideService(References.MinimumLogLevel, "Error"))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
