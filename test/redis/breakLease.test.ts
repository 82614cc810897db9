/**
 * The break script (`src/redis/breakLease.ts`) against a real redis-server: evicts any holder, keeps the fence,
 * publishes, and refuses keys that are not leases.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { breakLease } from "../../src/redis/breakLease.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { renew } from "../../src/redis/renew.ts"
import { rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-break:")

describe("break script", () => {
  it.live("evicts the holder, keeps the fencing counter, publishes the name; the next grant gets a higher token", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const subscriber = yield* rawClient(server())
      const messages: Array<string> = []
      subscriber.on("message", (_channel: string, message: string) => messages.push(message))
      yield* Effect.promise(() => subscriber.subscribe(keySpace.releaseChannel))
      const name = uniqueName("evict")
      const acquire = tryAcquire(redis, keySpace)
      yield* acquire({ name, holderId: "a", leaseId: "a", duration: Duration.millis(10_000) })
      expect(yield* breakLease(redis, keySpace)(name)).toBe(true)
      expect(yield* Effect.promise(() => redis.exists(keySpace.keys(name).lease))).toBe(0)
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).fence))).toBe("1")
      const next = yield* acquire({ name, holderId: "b", leaseId: "b", duration: Duration.millis(10_000) })
      expect(next._tag === "Acquired" ? next.fencingToken : 0n).toBe(2n)
      yield* Effect.sleep("50 millis")
      expect(messages).toEqual([name])
    })
  )

  it.live("the evicted holder's next renewal reports `broken`; a holder that merely expired still gets `expired`", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("tombstone")
      yield* tryAcquire(redis, keySpace)({ name, holderId: "a", leaseId: "a", duration: Duration.millis(1_000) })
      expect(yield* breakLease(redis, keySpace)(name)).toBe(true)
      const broken = yield* Effect.flip(renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.seconds(1) }))
      expect(broken._tag === "LeaseLostError" && broken.reason).toBe("broken")
      // The tombstone lives only as long as the evicted grant would have.
      const pttl = yield* Effect.promise(() => redis.pttl(keySpace.keys(name).broken))
      expect(pttl).toBeGreaterThan(0)
      expect(pttl).toBeLessThanOrEqual(1_000)
      // Another id never matches the tombstone.
      const other = yield* Effect.flip(renew(redis, keySpace)({ name, leaseId: "z", duration: Duration.seconds(1) }))
      expect(other._tag === "LeaseLostError" && other.reason).toBe("expired")
    })
  )

  it.live("breaking a free lease answers false", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      expect(yield* breakLease(redis, keySpace)(uniqueName("free"))).toBe(false)
      const sent = recordCommands(redis)
      expect(yield* breakLease(redis, keySpace)("no{tag")).toBe(false)
      expect(sent).toEqual([])
    })
  )

  it.live("never deletes a key that is not a lease: WRONGTYPE, not retryable, key intact", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      yield* Effect.promise(() => redis.set(keySpace.keys(name).lease, "precious"))
      const error = yield* Effect.flip(breakLease(redis, keySpace)(name))
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("break")
      expect(error.detail).toContain("WRONGTYPE")
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).lease))).toBe("precious")
    })
  )

  it.live("is one round trip", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      yield* breakLease(redis, keySpace)(uniqueName("warm"))
      const sent = recordCommands(redis)
      yield* breakLease(redis, keySpace)(uniqueName("rt"))
      expect(sent).toEqual(["evalsha"])
    })
  )
})
