/**
 * The examples of docs/testing.md, run as written (imports adapted to the repository), so the guide cannot drift
 * from the kit.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { LeaseManager, LeaseProvider } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { ChaosController, ChaosLeaseProvider, Fault, FencedResource } from "../../src/testing/index.ts"

// LeaseManager → chaos → memory store. provideMerge keeps the ChaosController visible to the test.
const Leasing = LeaseManager.layer.pipe(
  Layer.provideMerge(ChaosLeaseProvider.layer({ seed: 1, renew: [{ fault: Fault.unavailable() }] })),
  Layer.provide(MemoryLeaseProvider.layer())
)

it.effect("the report job stops when its lease cannot be renewed", () =>
  Effect.gen(function* () {
    const leases = yield* LeaseManager
    let pages = 0
    const job = leases.withLease(
      "nightly-report",
      Effect.forever(Effect.sleep("2 seconds").pipe(Effect.andThen(Effect.sync(() => pages++)))),
      { duration: "30 seconds" }
    )
    const fiber = yield* Effect.forkChild(Effect.flip(job))
    yield* TestClock.adjust("1 minute") // the renewal at 20 s and its retries fail; the loss is declared at 27 s
    const error = yield* Fiber.join(fiber)
    expect(error._tag).toBe("LeaseLostError")
    expect(pages).toBe(13) // interrupted at 27 s, 3 s before the store's own expiry
    expect((yield* ChaosController.stats).calls.renew).toBe(4) // automatic renewals went through the chaos
  }).pipe(Effect.provide(Leasing))
)

it.effect("recipe: a paused process's late write is rejected once the next holder has written", () =>
  Effect.gen(function* () {
    const store = yield* MemoryLeaseProvider.make()
    const replicas = yield* Effect.forEach(["a", "b"], (holderId, i) =>
      Effect.gen(function* () {
        const chaos = yield* ChaosLeaseProvider.make(store, { seed: 100 + i })
        const leases = yield* LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, chaos.provider))
        return { holderId, chaos, leases }
      })
    )
    const [holder, next] = replicas
    if (holder === undefined || next === undefined) return yield* Effect.die("two replicas")
    const ledger = yield* FencedResource.make()
    const a = yield* holder.leases.acquire("orders", { duration: "9 seconds" })
    yield* ledger.write(a.holderId, a.fencingToken)

    yield* holder.chaos.pause(undefined, { deliverLate: false }) // its calls stop going out
    const late = yield* Effect.forkChild(
      Effect.sleep("15 seconds").pipe(Effect.andThen(ledger.write(a.holderId, a.fencingToken)))
    )
    const b = yield* Effect.forkChild(next.leases.acquire("orders", { duration: "9 seconds" }))
    yield* TestClock.adjust("10 seconds") // the store expires a's grant at 9 s; b takes over
    const lease = yield* Fiber.join(b)
    yield* ledger.write(lease.holderId, lease.fencingToken)
    yield* TestClock.adjust("5 seconds")
    expect((yield* Fiber.join(late)).outcome).toBe("stale")
    expect(a.lostError?.reason).toBe("unconfirmed")
    expect((yield* ledger.report).staleAccepted).toBe(0)
    yield* holder.chaos.resume
  })
)
