/**
 * The renew script (`src/redis/renew.ts`) against a real redis-server. The original library's TTL grew on every
 * renewal (replayed on redis 7.0.15: PTTL 2995 → 5014 → 9044 → 15088 → 23145 ms for a 3 s lease); here the TTL is
 * set to the duration, so it can never exceed it.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { renew } from "../../src/redis/renew.ts"
import { rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-renew:")

const grant = (name: string, leaseId: string, ms: number) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.millis(ms)
})

describe("renew script", () => {
  it.live("sets the TTL to exactly the duration on every renewal: it never grows (regression of the original)", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("nogrow")
      yield* tryAcquire(redis, keySpace)(grant(name, "a", 1_000))
      const ttls: Array<number> = []
      for (let i = 0; i < 6; i++) {
        yield* Effect.sleep("150 millis")
        const renewed = yield* renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(1_000) })
        ttls.push(Duration.toMillis(renewed.ttl))
        // What the server holds right after, not only what the script said.
        const pttl = yield* Effect.promise(() => redis.pttl(keySpace.keys(name).lease))
        expect(pttl).toBeLessThanOrEqual(1_000)
        expect(pttl).toBeGreaterThan(900)
      }
      for (const ttl of ttls) {
        expect(ttl).toBeLessThanOrEqual(1_000)
        expect(ttl).toBeGreaterThan(990)
      }
      // 6 × 150 ms = 900 ms after a 1 s grant: only the renewals kept it alive, each to exactly 1 s.
    })
  )

  it.live("renewing with another duration sets that duration, shorter or longer", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("other")
      yield* tryAcquire(redis, keySpace)(grant(name, "a", 2_000))
      const shorter = yield* renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(500) })
      expect(Duration.toMillis(shorter.ttl)).toBeLessThanOrEqual(500)
      expect(yield* Effect.promise(() => redis.pttl(keySpace.keys(name).lease))).toBeLessThanOrEqual(500)
      const longer = yield* renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(3_000) })
      expect(Duration.toMillis(longer.ttl)).toBeGreaterThan(2_900)
    })
  )

  it.live("reports `expired` when the key is gone", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("expired")
      yield* tryAcquire(redis, keySpace)(grant(name, "a", 50))
      yield* Effect.sleep("100 millis")
      const error = yield* Effect.flip(renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(1_000) }))
      assert.strictEqual(error._tag, "LeaseLostError")
      if (error._tag !== "LeaseLostError") return
      expect(error.reason).toBe("expired")
      expect(error.leaseName).toBe(name)
      expect(error.leaseId).toBe("a")
      expect(error.provider).toBe("redis")
      // A late renewal must not resurrect the key.
      expect(yield* Effect.promise(() => redis.exists(keySpace.keys(name).lease))).toBe(0)
    })
  )

  it.live("reports `stolen` when another lease id holds the key, and leaves that holder's TTL alone", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("stolen")
      yield* tryAcquire(redis, keySpace)(grant(name, "a", 50))
      yield* Effect.sleep("100 millis")
      yield* tryAcquire(redis, keySpace)(grant(name, "b", 1_000))
      yield* Effect.sleep("200 millis")
      const error = yield* Effect.flip(renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(5_000) }))
      assert.strictEqual(error._tag, "LeaseLostError")
      if (error._tag !== "LeaseLostError") return
      expect(error.reason).toBe("stolen")
      expect(error.detail).toContain("holder-of-b")
      const pttl = yield* Effect.promise(() => redis.pttl(keySpace.keys(name).lease))
      expect(pttl).toBeLessThanOrEqual(800)
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(name).lease, "id"))).toBe("b")
    })
  )

  it.live("is one round trip", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("rt")
      yield* tryAcquire(redis, keySpace)(grant(name, "a", 1_000))
      yield* renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(1_000) }) // loads the script
      const sent = recordCommands(redis)
      yield* renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(1_000) })
      expect(sent).toEqual(["evalsha"])
    })
  )

  it.live("a key that is not a lease hash is a non-retryable WRONGTYPE error", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      yield* Effect.promise(() => redis.lpush(keySpace.keys(name).lease, "x"))
      const error = yield* Effect.flip(renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.millis(1_000) }))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag !== "ProviderUnavailableError") return
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("renew")
      expect(error.detail).toContain("WRONGTYPE")
    })
  )
})
