/**
 * The manager keeps resolved options by their content (resolving is a Schema decode plus the schedule checks, more
 * than a store call on the memory provider). A cache must never change an answer: these tests would fail if it
 * keyed on identity, mixed up `"10"` and `10`, or kept a failure.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { LeaseManager, type LeaseOptions } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"

const durationOf = (manager: LeaseManager["Service"], name: string, options: LeaseOptions) =>
  Effect.scoped(Effect.map(manager.acquire(name, options), (lease) => Duration.toMillis(lease.options.duration)))

describe("resolved options cache", () => {
  it.effect("an options object mutated between calls resolves to its new content", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager.make({ holderId: "cache" })
      const options: { duration: string; metadata?: Record<string, string> } = { duration: "10 seconds" }
      expect(yield* durationOf(manager, "a", options)).toBe(10_000)
      options.duration = "20 seconds"
      expect(yield* durationOf(manager, "a", options)).toBe(20_000)
      options.metadata = { team: "x" }
      const lease = yield* Effect.scoped(manager.acquire("b", options).pipe(Effect.map((l) => l.options)))
      expect(lease.metadata).toEqual({ team: "x" })
      options.metadata.team = "y"
      const again = yield* Effect.scoped(manager.acquire("b", options).pipe(Effect.map((l) => l.options)))
      expect(again.metadata).toEqual({ team: "y" })
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("equal content from different objects shares one resolution; a number and a string stay apart", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager.make({ holderId: "cache" })
      const first = yield* Effect.scoped(manager.acquire("c", { duration: 1_500 }).pipe(Effect.map((l) => l.options)))
      const second = yield* Effect.scoped(manager.acquire("c", { duration: 1_500 }).pipe(Effect.map((l) => l.options)))
      expect(second).toBe(first)
      // A number is milliseconds; "1500" is not a valid duration string and must be refused, not served from cache.
      // The types reject "1500" already; the cast plays a caller without them (plain JavaScript, parsed config).
      const refused = yield* Effect.exit(Effect.scoped(manager.acquire("c", { duration: "1500" as unknown as number })))
      expect(Exit.isFailure(refused)).toBe(true)
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )

  it.effect("a failure is not kept: the error names the lease of each call", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager.make({ holderId: "cache" })
      const bad = { duration: "10 seconds", maxRetries: 99 }
      const one = yield* Effect.flip(Effect.scoped(manager.acquire("first", bad)))
      const two = yield* Effect.flip(Effect.scoped(manager.acquire("second", bad)))
      expect(one._tag === "InvalidLeaseOptionsError" && one.leaseName).toBe("first")
      expect(two._tag === "InvalidLeaseOptionsError" && two.leaseName).toBe("second")
    }).pipe(Effect.provide(MemoryLeaseProvider.layer()))
  )
})
