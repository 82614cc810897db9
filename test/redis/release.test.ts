/**
 * The release script (`src/redis/release.ts`) against a real redis-server: ownership checked in Redis, and a
 * publication on the release channel that wakes waiters.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { release } from "../../src/redis/release.ts"
import { rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-release:")

const grant = (name: string, leaseId: string, ms = 2_000) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.millis(ms)
})

/** Subscribes a raw client to the release channel and collects the names published there. */
const listen = Effect.gen(function* () {
  const subscriber = yield* rawClient(server())
  const messages: Array<string> = []
  subscriber.on("message", (channel: string, message: string) => {
    if (channel === keySpace.releaseChannel) messages.push(message)
  })
  yield* Effect.promise(() => subscriber.subscribe(keySpace.releaseChannel))
  return messages
})

describe("release script", () => {
  it.live("the owner's release deletes the key, keeps the fence, and publishes the name", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const messages = yield* listen
      const name = uniqueName("own")
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      expect(yield* release(redis, keySpace)({ name, leaseId: "a" })).toBe(true)
      expect(yield* Effect.promise(() => redis.exists(keySpace.keys(name).lease))).toBe(0)
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).fence))).toBe("1")
      yield* Effect.sleep("50 millis")
      expect(messages).toEqual([name])
    })
  )

  it.live("another lease id cannot release: false, key intact, nothing published", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const messages = yield* listen
      const name = uniqueName("other")
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      expect(yield* release(redis, keySpace)({ name, leaseId: "b" })).toBe(false)
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(name).lease, "id"))).toBe("a")
      yield* Effect.sleep("50 millis")
      expect(messages).toEqual([])
    })
  )

  it.live("a stale holder cannot free the lease of the holder that took over after expiry", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("stale")
      yield* tryAcquire(redis, keySpace)(grant(name, "old", 50))
      yield* Effect.sleep("100 millis")
      yield* tryAcquire(redis, keySpace)(grant(name, "new"))
      expect(yield* release(redis, keySpace)({ name, leaseId: "old" })).toBe(false)
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(name).lease, "id"))).toBe("new")
    })
  )

  it.live("releasing a lease that is gone (or a name that can never be valid) answers false", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      expect(yield* release(redis, keySpace)({ name: uniqueName("gone"), leaseId: "a" })).toBe(false)
      const sent = recordCommands(redis)
      expect(yield* release(redis, keySpace)({ name: "bad{name}", leaseId: "a" })).toBe(false)
      expect(sent).toEqual([])
    })
  )

  it.live("is one round trip", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("rt")
      yield* release(redis, keySpace)({ name, leaseId: "warm" }) // loads the script
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      const sent = recordCommands(redis)
      expect(yield* release(redis, keySpace)({ name, leaseId: "a" })).toBe(true)
      expect(sent).toEqual(["evalsha"])
    })
  )

  it.live("a key that is not a lease hash is a non-retryable WRONGTYPE error, and is not deleted", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      yield* Effect.promise(() => redis.set(keySpace.keys(name).lease, "x"))
      const error = yield* Effect.flip(release(redis, keySpace)({ name, leaseId: "a" }))
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("release")
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).lease))).toBe("x")
    })
  )
})
