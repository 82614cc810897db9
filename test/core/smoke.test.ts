import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { LeaseManager } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"

const layer = LeaseManager.layer.pipe(Layer.provide(MemoryLeaseProvider.layer()))

describe("smoke", () => {
  it.effect("acquire renew release", () =>
    Effect.gen(function* () {
      const m = yield* LeaseManager
      const lease = yield* m.acquire("a")
      expect(lease.fencingToken).toBe(1n)
      const events = yield* lease.events.pipe(
        Stream.map((e) => e._tag),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )
      yield* TestClock.adjust("200 seconds")
      expect(lease.renewalCount).toBe(5)
      expect(lease.state).toBe("held")
      const other = yield* Effect.scoped(m.tryAcquire("a"))
      expect(Option.isNone(other)).toBe(true)
      yield* lease.release
      expect(lease.state).toBe("released")
      const again = yield* m.tryAcquire("a")
      expect(Option.getOrThrow(again).fencingToken).toBe(2n)
      expect(yield* Fiber.join(events)).toEqual([
        "Acquired",
        "Renewed",
        "Renewed",
        "Renewed",
        "Renewed",
        "Renewed",
        "Released"
      ])
    }).pipe(Effect.provide(layer))
  )
})
