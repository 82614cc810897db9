/**
 * The inspect script (`src/redis/inspect.ts`) against a real redis-server: one consistent snapshot of the grant,
 * its server-side TTL and the fencing counter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { inspect } from "../../src/redis/inspect.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { release } from "../../src/redis/release.ts"
import { rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-inspect:")

describe("inspect script", () => {
  it.live("a held lease: holder, id, token, remaining and expiry from the server's TTL, grant time, metadata", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("held")
      const before = Date.now()
      yield* tryAcquire(
        redis,
        keySpace
      )({
        name,
        holderId: "worker-1",
        leaseId: "id-1",
        duration: Duration.millis(2_000),
        metadata: { region: "westeurope" }
      })
      const info = yield* inspect(redis, keySpace)(name)
      expect(info.name).toBe(name)
      expect(info.held).toBe(true)
      expect(info.holderId).toBe("worker-1")
      expect(info.leaseId).toBe("id-1")
      expect(info.fencingToken).toBe(1n)
      const remaining = Duration.toMillis(info.remaining ?? Duration.zero)
      expect(remaining).toBeGreaterThan(1_800)
      expect(remaining).toBeLessThanOrEqual(2_000)
      expect(Math.abs((info.expiresAt?.getTime() ?? 0) - (before + 2_000))).toBeLessThan(500)
      expect(Math.abs((info.acquiredAt?.getTime() ?? 0) - before)).toBeLessThan(500)
      expect(info.metadata).toEqual({ region: "westeurope" })
    })
  )

  it.live("a free lease reports the last token granted, and no holder", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("free")
      expect(yield* inspect(redis, keySpace)(name)).toEqual({ name, held: false })
      for (const id of ["a", "b"]) {
        yield* tryAcquire(redis, keySpace)({ name, holderId: id, leaseId: id, duration: Duration.millis(2_000) })
        yield* release(redis, keySpace)({ name, leaseId: id })
      }
      expect(yield* inspect(redis, keySpace)(name)).toEqual({ name, held: false, fencingToken: 2n })
    })
  )

  it.live("is one round trip, and a name that can never be valid is free without asking the server", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      yield* inspect(redis, keySpace)(uniqueName("warm"))
      const sent = recordCommands(redis)
      yield* inspect(redis, keySpace)(uniqueName("rt"))
      expect(sent).toEqual(["evalsha"])
      expect(yield* inspect(redis, keySpace)("a}b")).toEqual({ name: "a}b", held: false })
      expect(sent).toEqual(["evalsha"])
    })
  )

  it.live("a key that is not a lease hash is a non-retryable WRONGTYPE error", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      yield* Effect.promise(() => redis.sadd(keySpace.keys(name).lease, "x"))
      const error = yield* Effect.flip(inspect(redis, keySpace)(name))
      expect(error.isRetryable).toBe(false)
      expect(error.detail).toContain("WRONGTYPE")
    })
  )
})
