/**
 * The acquire script (`src/redis/acquire.ts`) against a real redis-server: grant, held, fencing, metadata, one
 * round trip, NOSCRIPT fallback, and keys that are not ours.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { acquireScript, tryAcquire } from "../../src/redis/acquire.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { callsBetween, commandCalls, rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-acquire:")

const request = (name: string, leaseId: string, ms = 2_000, metadata?: Record<string, string>) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.millis(ms),
  metadata
})

describe("acquire script", () => {
  it.live("grants a free lease: hash with id, holder, token and server time; TTL = duration; counter incremented", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const acquire = tryAcquire(redis, keySpace)
      const name = uniqueName("grant")
      const before = Date.now()
      const result = yield* acquire(request(name, "id-1", 1_500))
      assert.strictEqual(result._tag, "Acquired")
      if (result._tag !== "Acquired") return
      expect(result.leaseId).toBe("id-1")
      expect(result.fencingToken).toBe(1n)
      expect(Duration.toMillis(result.ttl)).toBeGreaterThan(1_400)
      expect(Duration.toMillis(result.ttl)).toBeLessThanOrEqual(1_500)
      const keys = keySpace.keys(name)
      const hash = yield* Effect.promise(() => redis.hgetall(keys.lease))
      expect(hash.id).toBe("id-1")
      expect(hash.holder).toBe("holder-of-id-1")
      expect(hash.token).toBe("1")
      // The grant time is the server's clock (TIME), in ms; the server runs on this machine.
      expect(Math.abs(Number(hash.at) - before)).toBeLessThan(1_000)
      expect(yield* Effect.promise(() => redis.pttl(keys.lease))).toBeLessThanOrEqual(1_500)
      expect(yield* Effect.promise(() => redis.get(keys.fence))).toBe("1")
      // The fence has no TTL: it outlives the grant.
      expect(yield* Effect.promise(() => redis.pttl(keys.fence))).toBe(-1)
    })
  )

  it.live("answers Held with the holder and the server's remaining time, and grants nothing", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const acquire = tryAcquire(redis, keySpace)
      const name = uniqueName("held")
      yield* acquire(request(name, "first", 2_000))
      yield* Effect.sleep("100 millis")
      const second = yield* acquire(request(name, "second", 2_000))
      assert.strictEqual(second._tag, "Held")
      if (second._tag !== "Held") return
      expect(second.holderId).toBe("holder-of-first")
      const remaining = Duration.toMillis(second.remaining ?? Duration.zero)
      expect(remaining).toBeGreaterThan(1_500)
      expect(remaining).toBeLessThan(1_950)
      // The losing attempt did not bump the fence and did not touch the grant.
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).fence))).toBe("1")
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(name).lease, "id"))).toBe("first")
    })
  )

  it.live("fencing tokens strictly increase across holders and after expiry", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const acquire = tryAcquire(redis, keySpace)
      const name = uniqueName("fence")
      const tokens: Array<bigint> = []
      for (let i = 0; i < 4; i++) {
        const result = yield* acquire(request(name, `id-${i}`, 50))
        assert.strictEqual(result._tag, "Acquired")
        if (result._tag === "Acquired") tokens.push(result.fencingToken)
        yield* Effect.sleep("80 millis") // let the grant expire in Redis
      }
      expect(tokens).toEqual([1n, 2n, 3n, 4n])
    })
  )

  it.live("tokens are exact beyond 2^53 (read back as strings, not Lua doubles)", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("big")
      yield* Effect.promise(() => redis.set(keySpace.keys(name).fence, "9007199254740993"))
      const result = yield* tryAcquire(redis, keySpace)(request(name, "big"))
      assert.strictEqual(result._tag, "Acquired")
      if (result._tag === "Acquired") expect(result.fencingToken).toBe(9007199254740994n)
    })
  )

  it.live("the same lease id asking again confirms its own grant instead of reporting it held", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const acquire = tryAcquire(redis, keySpace)
      const name = uniqueName("again")
      const first = yield* acquire(request(name, "same", 1_000))
      yield* Effect.sleep("300 millis")
      const again = yield* acquire(request(name, "same", 1_000))
      assert.strictEqual(again._tag, "Acquired")
      if (first._tag !== "Acquired" || again._tag !== "Acquired") return
      expect(again.fencingToken).toBe(first.fencingToken)
      expect(Duration.toMillis(again.ttl)).toBeGreaterThan(900)
    })
  )

  it.live("stores metadata as m:<key> fields", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("meta")
      yield* tryAcquire(redis, keySpace)(request(name, "m", 2_000, { region: "westeurope", "odd key": "a=b" }))
      const hash = yield* Effect.promise(() => redis.hgetall(keySpace.keys(name).lease))
      expect(hash["m:region"]).toBe("westeurope")
      expect(hash["m:odd key"]).toBe("a=b")
    })
  )

  it.live("is one round trip (one EVALSHA), with one EVAL fallback after the script cache is flushed", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const observer = yield* rawClient(server())
      const acquire = tryAcquire(redis, keySpace)
      yield* acquire(request(uniqueName("warm"), "warm")) // loads the script if another test has not
      const sent = recordCommands(redis)
      const before = yield* commandCalls(observer)
      yield* acquire(request(uniqueName("rt"), "rt-1"))
      yield* acquire(request(uniqueName("rt"), "rt-2"))
      expect(sent).toEqual(["evalsha", "evalsha"])
      const after = yield* commandCalls(observer)
      expect(callsBetween(before, after).evalsha).toBe(2)
      expect(callsBetween(before, after).eval).toBeUndefined()

      // After SCRIPT FLUSH (as after a restart or failover) the first call falls back to EVAL once.
      yield* Effect.promise(() => observer.script("FLUSH"))
      sent.length = 0
      const result = yield* acquire(request(uniqueName("flushed"), "f-1"))
      expect(result._tag).toBe("Acquired")
      yield* acquire(request(uniqueName("flushed"), "f-2"))
      expect(sent).toEqual(["evalsha", "eval", "evalsha"])
      const exists = yield* Effect.promise(() => observer.script("EXISTS", acquireScript.sha))
      expect(exists).toEqual([1])
    })
  )

  it.live("a key that is not a lease hash is WRONGTYPE: not retryable, and left untouched", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      const keys = keySpace.keys(name)
      yield* Effect.promise(() => redis.set(keys.lease, "someone else's value"))
      const error = yield* Effect.flip(tryAcquire(redis, keySpace)(request(name, "x")))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag !== "ProviderUnavailableError") return
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("acquire")
      expect(error.detail).toContain("WRONGTYPE")
      expect(error.leaseName).toBe(name)
      expect(yield* Effect.promise(() => redis.get(keys.lease))).toBe("someone else's value")
    })
  )

  it.live("a fencing counter that is not an integer is a non-retryable error, and no grant is written", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("badfence")
      const keys = keySpace.keys(name)
      yield* Effect.promise(() => redis.set(keys.fence, "not a number"))
      const error = yield* Effect.flip(tryAcquire(redis, keySpace)(request(name, "x")))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag === "ProviderUnavailableError") expect(error.isRetryable).toBe(false)
      expect(yield* Effect.promise(() => redis.exists(keys.lease))).toBe(0)
    })
  )

  it.live("rejects invalid names and durations before sending anything", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const sent = recordCommands(redis)
      const acquire = tryAcquire(redis, keySpace)
      for (const [name, ms, field] of [
        ["with{brace", 1_000, "name"],
        ["with}brace", 1_000, "name"],
        ["", 1_000, "name"],
        ["tab\there", 1_000, "name"],
        ["x".repeat(513), 1_000, "name"],
        ["ok", 0, "duration"],
        ["ok", Number.POSITIVE_INFINITY, "duration"]
      ] as const) {
        const error = yield* Effect.flip(acquire(request(name, "x", ms)))
        assert.strictEqual(error._tag, "InvalidLeaseOptionsError")
        if (error._tag === "InvalidLeaseOptionsError") expect(error.field).toBe(field)
      }
      expect(sent).toEqual([])
    })
  )
})
