/**
 * Metrics: exact values after a scripted sequence of acquire, renew, fail, lose and release on the memory provider
 * under TestClock, read from a fresh registry.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import { LeaseManager, LeaseMetrics, LeaseProvider } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { withFaults } from "../conformance/faults.ts"

const read = <State>(metric: Metric.Metric<number, State>, attributes: Record<string, string>) =>
  Metric.value(Metric.withAttributes(metric, { provider: "memory", ...attributes }))

const count = (metric: Metric.Counter<number>, attributes: Record<string, string>) =>
  Effect.map(read(metric, attributes), (state) => state.count)

const held = Effect.map(read(LeaseMetrics.leasesHeld, {}), (state) => state.value)

describe("metrics", () => {
  it.effect("record exactly what happened: acquire, miss, renew, failing renewals, loss, release, timeout", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const faults = withFaults(real)
      const a = yield* LeaseManager.make({ holderId: "a" }).pipe(Effect.provideService(LeaseProvider, faults.provider))
      const b = yield* LeaseManager.make({ holderId: "b" }).pipe(Effect.provideService(LeaseProvider, real))

      const lease = yield* a.acquire("job")
      expect(yield* count(LeaseMetrics.acquisitions, { outcome: "acquired" })).toBe(1)
      expect(yield* held).toBe(1)

      expect(Option.isNone(yield* b.tryAcquire("job"))).toBe(true)
      expect(yield* count(LeaseMetrics.acquisitions, { outcome: "timeout" })).toBe(1)

      yield* TestClock.adjust("40 seconds") // renewal at 40 s succeeds
      expect(yield* count(LeaseMetrics.renewals, { outcome: "success" })).toBe(1)
      const slack = yield* read(LeaseMetrics.renewalSlack, {})
      expect(slack.count).toBe(1)
      expect(slack.sum).toBe(19_400) // 1/3 of 60 s minus the 1% drift allowance

      faults.failRenew = true
      yield* TestClock.adjust("54 seconds") // renewals at 80, 81.75, 85.25, 92.25 fail; loss at 94 s
      expect(lease.state).toBe("lost")
      expect(yield* count(LeaseMetrics.renewals, { outcome: "failure" })).toBe(4)
      expect(yield* count(LeaseMetrics.providerErrors, { operation: "renew", kind: "retryable" })).toBe(4)
      expect(yield* count(LeaseMetrics.leasesLost, { reason: "unconfirmed" })).toBe(1)
      expect(yield* held).toBe(0)

      // The store still holds the lost lease until 100 s: a 1 s wait times out.
      const timedOut = yield* Effect.flip(b.acquire("job", { timeout: "1 second" })).pipe(
        Effect.forkChild({ startImmediately: true })
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.await(timedOut)
      expect(yield* count(LeaseMetrics.acquisitions, { outcome: "timeout" })).toBe(2)

      const scope = yield* Scope.make()
      yield* b.acquire("other").pipe(Scope.provide(scope))
      expect(yield* held).toBe(1)
      yield* TestClock.adjust("10 seconds")
      yield* Scope.close(scope, Exit.void)
      expect(yield* held).toBe(0)
      expect(yield* count(LeaseMetrics.acquisitions, { outcome: "acquired" })).toBe(2)

      const hold = yield* read(LeaseMetrics.holdDuration, {})
      expect(hold.count).toBe(2)
      expect(hold.sum).toBe(94_000 + 10_000)

      const error = yield* Effect.flip(b.acquire("", {}))
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      expect(yield* count(LeaseMetrics.acquisitions, { outcome: "error" })).toBe(1)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()), Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect("the held gauge goes down when the acquiring scope closes on an error", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      const failed = yield* Effect.exit(
        Effect.scoped(Effect.andThen(manager.acquire("job"), Effect.fail("boom" as const)))
      )
      expect(Exit.isFailure(failed)).toBe(true)
      expect(yield* held).toBe(0)
      expect(yield* count(LeaseMetrics.acquisitions, { outcome: "acquired" })).toBe(1)
    }).pipe(
      Effect.provide(LeaseManager.layer),
      Effect.provide(MemoryLeaseProvider.layer()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  )
})
