/**
 * Lease health under TestClock: healthy, degraded while a renewal fails, unhealthy past the middle of the retry
 * window or when a lost lease is still in use; the store probe; the plain-Node handler.
 */
import { createServer } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, ManagedRuntime, Scope } from "effect"
import { TestClock } from "effect/testing"
import { LeaseHealth, LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { withFaults } from "../conformance/faults.ts"

const managerOn = (provider: LeaseProviderShape, holderId: string) =>
  LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider))

describe("LeaseHealth", () => {
  it.effect("healthy, then degraded while renewals fail, then unhealthy past the middle of the retry window", () =>
    Effect.gen(function* () {
      const faults = withFaults(yield* LeaseProvider)
      const manager = yield* managerOn(faults.provider, "me")
      const check = LeaseHealth.check().pipe(Effect.provideService(LeaseManager, manager))
      yield* manager.acquire("job")
      const first = yield* check
      expect(first.status).toBe("Healthy")
      expect(first.leases.map((l) => [l.name, l.status, l.state])).toEqual([["job", "Healthy", "held"]])
      expect(first.reasons).toEqual([])

      faults.failRenew = true
      yield* TestClock.adjust("42 seconds") // renewal at 40 s and the retry at 41.75 s failed
      const degraded = yield* check
      expect(degraded.status).toBe("Degraded")
      expect(degraded.leases[0]?.consecutiveFailures).toBe(2)
      expect(degraded.reasons[0]).toContain('lease "job" unrenewed for 42.0 s')

      yield* TestClock.adjust("5 seconds") // 47 s: the retry window runs 40 → 54 s, its middle is 47 s
      const unhealthy = yield* check
      expect(unhealthy.status).toBe("Unhealthy")
      expect(unhealthy.leases[0]?.reason).toContain("7.0 s before it is declared lost")

      yield* TestClock.adjust("10 seconds") // lost at 54 s, but the scope holding it is still open
      const lost = yield* check
      expect(lost.leases[0]?.state).toBe("lost")
      expect(lost.status).toBe("Unhealthy")
      expect(lost.reasons[0]).toContain("was lost but is still in use")
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("a released lease leaves the report, and renewals back on time make it healthy again", () =>
    Effect.gen(function* () {
      const faults = withFaults(yield* LeaseProvider)
      const manager = yield* managerOn(faults.provider, "me")
      const check = LeaseHealth.check().pipe(Effect.provideService(LeaseManager, manager))
      const scope = yield* Scope.make()
      yield* manager.acquire("job").pipe(Scope.provide(scope))
      faults.failRenew = true
      yield* TestClock.adjust("42 seconds")
      expect((yield* check).status).toBe("Degraded")
      faults.failRenew = false
      yield* TestClock.adjust("4 seconds") // the retry at 45.25 s succeeds
      expect((yield* check).status).toBe("Healthy")
      yield* Scope.close(scope, Exit.void)
      expect((yield* check).leases).toEqual([])
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("the store probe: healthy when free or held elsewhere, unhealthy on errors and timeouts", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const faults = withFaults(real)
      const manager = yield* managerOn(faults.provider, "me")
      const probe = LeaseHealth.check({ probe: true }).pipe(Effect.provideService(LeaseManager, manager))

      const free = yield* probe
      expect(free.store?.outcome).toBe("acquired")
      expect(free.status).toBe("Healthy")
      // The probe released its lease.
      expect((yield* real.inspect("__health__")).held).toBe(false)

      const other = yield* managerOn(real, "other")
      yield* other.acquire("__health__", { duration: "15 seconds" })
      const heldElsewhere = yield* probe
      expect(heldElsewhere.store?.outcome).toBe("held-elsewhere")
      expect(heldElsewhere.status).toBe("Healthy")

      faults.failAcquire = true
      const failing = yield* probe
      expect(failing.store?.outcome).toBe("error")
      expect(failing.status).toBe("Unhealthy")
      expect(failing.reasons[0]).toContain("store probe error")
      faults.failAcquire = false

      faults.acquireGate = yield* Deferred.make<void>() // the store never answers
      const hanging = yield* Effect.forkChild(probe, { startImmediately: true })
      yield* TestClock.adjust("5 seconds")
      const timedOut = yield* Fiber.await(hanging)
      expect(Exit.isSuccess(timedOut) && timedOut.value.store?.outcome).toBe("timeout")
      expect(Exit.isSuccess(timedOut) && timedOut.value.status).toBe("Unhealthy")
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it("serves /healthz and /readyz from a plain Node handler", async () => {
    const runtime = ManagedRuntime.make(LeaseManager.layer.pipe(Layer.provide(MemoryLeaseProvider.layer())))
    const server = createServer(LeaseHealth.nodeHandler((effect) => runtime.runPromise(effect)))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      await runtime.runPromise(Effect.scoped(LeaseManager.acquire("job")).pipe(Effect.asVoid))
      const live = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(live.status).toBe(200)
      const body = (await live.json()) as { status: string; leases: Array<unknown> }
      expect(body.status).toBe("Healthy")
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
      expect(ready.status).toBe(200)
      const readyBody = (await ready.json()) as { store: { outcome: string; latency: number } }
      expect(readyBody.store.outcome).toBe("acquired")
      expect(typeof readyBody.store.latency).toBe("number")
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404)
    } finally {
      await new Promise((resolve) => server.close(resolve))
      await runtime.dispose()
    }
  })
})
