/**
 * Property tests: option validation, and mutual exclusion under random interleavings of holders, time and
 * renewal outages (memory provider, TestClock).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { type Lease, LeaseManager, LeaseProvider, resolveLeaseOptions } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { withFaults } from "../conformance/faults.ts"

describe("option validation (property)", () => {
  it("accepted options always fit the renewal schedule before the safety deadline; rejected ones name a field", () =>
    fc.assert(
      fc.property(
        fc.record(
          {
            duration: fc.integer({ min: -10, max: 3_600_000 }),
            renewInterval: fc.integer({ min: 0, max: 3_600_000 }),
            retryInterval: fc.integer({ min: 0, max: 600_000 }),
            maxRetries: fc.integer({ min: -1, max: 25 }),
            safetyThreshold: fc.double({ min: 0.3, max: 1.1, noNaN: true })
          },
          { requiredKeys: [] }
        ),
        (input) => {
          const exit = Effect.runSyncExit(resolveLeaseOptions(input))
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons[0]
            expect(error?._tag).toBe("Fail")
            if (error?._tag === "Fail") {
              expect(error.error._tag).toBe("InvalidLeaseOptionsError")
              expect(Object.keys(input).concat("options")).toContain(error.error.field)
            }
            return
          }
          const o = exit.value
          const duration = Duration.toMillis(o.duration)
          const safety = duration * o.safetyThreshold
          const renew = Duration.toMillis(o.renewInterval)
          const retry = Duration.toMillis(o.retryInterval)
          expect(o.safetyThreshold).toBeGreaterThanOrEqual(0.5)
          expect(o.safetyThreshold).toBeLessThanOrEqual(0.95)
          expect(renew).toBeLessThan(safety)
          if (o.maxRetries > 0) expect(renew + retry * (2 ** o.maxRetries - 1)).toBeLessThan(safety)
        }
      ),
      { numRuns: 2000 }
    ))

  it("defaults derived from any valid duration, threshold and retry count always validate", () =>
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 86_400_000 }),
        fc.double({ min: 0.5, max: 0.95, noNaN: true }),
        fc.integer({ min: 0, max: 20 }),
        (duration, safetyThreshold, maxRetries) => {
          const exit = Effect.runSyncExit(resolveLeaseOptions({ duration, safetyThreshold, maxRetries }))
          expect(Exit.isSuccess(exit)).toBe(true)
        }
      ),
      { numRuns: 1000 }
    ))
})

type Op =
  | { readonly _tag: "try"; readonly holder: number }
  | { readonly _tag: "release"; readonly holder: number }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "outage"; readonly holder: number; readonly on: boolean }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("try" as const), holder: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ _tag: fc.constant("release" as const), holder: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ _tag: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30_000 }) }),
  fc.record({ _tag: fc.constant("outage" as const), holder: fc.integer({ min: 0, max: 3 }), on: fc.boolean() })
)

/**
 * Four holders share one memory store; each may suffer a renewal outage of its own. Whatever the interleaving,
 * at no point do two holders both believe they hold the lease, and every grant has a higher token than the one
 * before.
 */
const scenario = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function* () {
    const real = yield* LeaseProvider
    const holders = yield* Effect.forEach([0, 1, 2, 3], (i) =>
      Effect.gen(function* () {
        const faults = withFaults(real)
        const manager = yield* LeaseManager.make({ holderId: `h${i}` }).pipe(
          Effect.provideService(LeaseProvider, faults.provider)
        )
        return {
          faults,
          manager,
          lease: undefined as Lease | undefined,
          scope: undefined as Scope.Closeable | undefined
        }
      })
    )
    let lastToken = 0n
    const check = () => {
      const holding = holders.filter((h) => h.lease?.state === "held")
      expect(holding.length).toBeLessThanOrEqual(1)
    }
    for (const step of ops) {
      switch (step._tag) {
        case "try": {
          const h = holders[step.holder]
          if (h === undefined || h.lease?.state === "held") break
          const scope = yield* Scope.make()
          const lease = yield* h.manager.tryAcquire("shared", { duration: "20 seconds" }).pipe(Scope.provide(scope))
          if (Option.isSome(lease)) {
            expect(lease.value.fencingToken).toBeGreaterThan(lastToken)
            lastToken = lease.value.fencingToken
            h.lease = lease.value
            h.scope = scope
          } else {
            yield* Scope.close(scope, Exit.void)
          }
          break
        }
        case "release": {
          const h = holders[step.holder]
          if (h?.scope !== undefined) yield* Scope.close(h.scope, Exit.void)
          break
        }
        case "advance": {
          // Move in small steps so the invariant is checked in between, not only at the end.
          for (let left = step.ms; left > 0; left -= 1_000) {
            yield* TestClock.adjust(Duration.millis(Math.min(1_000, left)))
            check()
          }
          break
        }
        case "outage": {
          const h = holders[step.holder]
          if (h !== undefined) h.faults.failRenew = step.on
          break
        }
      }
      check()
    }
  })

describe("mutual exclusion (property)", () => {
  it("never two holders, tokens always increase, under random interleavings and outages", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) =>
        Effect.runPromise(
          Effect.scoped(scenario(ops)).pipe(Effect.provide(Layer.merge(MemoryLeaseProvider.layer(), TestClock.layer())))
        )
      ),
      { numRuns: 100 }
    )
  })
})
