/**
 * The claim script (`src/redis/claim.ts`) against a real redis-server: a reservation becomes a grant with the next
 * fencing token in one step, checked against the token and the successor; each refusal has its reason and leaves
 * everything as it was; one round trip; exact tokens beyond 2^53.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { ClaimRequest } from "../../src/LeaseProvider.ts"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { breakLease } from "../../src/redis/breakLease.ts"
import { claim } from "../../src/redis/claim.ts"
import { handoff } from "../../src/redis/handoff.ts"
import { inspect } from "../../src/redis/inspect.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { renew } from "../../src/redis/renew.ts"
import { rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-claim:")

const grant = (name: string, leaseId: string, metadata?: Record<string, string>) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.seconds(5),
  metadata
})

/** A lease granted to `a` and handed to "successor" under `token`. */
const reserved = (name: string, token: string, windowMs = 2_000, metadata?: Record<string, string>) =>
  Effect.gen(function* () {
    const redis = yield* rawClient(server())
    yield* tryAcquire(redis, keySpace)(grant(name, "a", metadata))
    yield* handoff(
      redis,
      keySpace
    )({
      name,
      leaseId: "a",
      successorHolderId: "successor",
      transferToken: token,
      claimWindow: Duration.millis(windowMs)
    })
    return redis
  })

const claiming = (name: string, transferToken: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
  name,
  transferToken,
  holderId: "successor",
  leaseId: "b",
  duration: Duration.millis(3_000),
  ...overrides
})

const refusal = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (error) =>
    error._tag === "LeaseTransferError" && "reason" in error ? error.reason : `not a refusal: ${error._tag}`
  )

describe("claim script", () => {
  it.live("turns the reservation into a grant: new id, holder, next token, server time, TTL = duration", () =>
    Effect.gen(function* () {
      const name = uniqueName("grant")
      const redis = yield* reserved(name, "token-1")
      const keys = keySpace.keys(name)
      const before = Date.now()
      const result = yield* claim(redis, keySpace)(claiming(name, "token-1"))
      expect(result.leaseId).toBe("b")
      expect(result.fencingToken).toBe(2n)
      expect(Duration.toMillis(result.ttl)).toBeGreaterThan(2_900)
      expect(Duration.toMillis(result.ttl)).toBeLessThanOrEqual(3_000)
      const hash = yield* Effect.promise(() => redis.hgetall(keys.lease))
      // Nothing of the reservation survives: no pending marker, the old holder's token replaced.
      expect(hash).toEqual({ id: "b", holder: "successor", token: "2", at: hash.at })
      expect(Math.abs(Number(hash.at) - before)).toBeLessThan(1_000)
      expect(yield* Effect.promise(() => redis.get(keys.fence))).toBe("2")
      const pttl = yield* Effect.promise(() => redis.pttl(keys.lease))
      expect(pttl).toBeGreaterThan(2_900)
      expect(pttl).toBeLessThanOrEqual(3_000)
      // The new grant behaves like any other: renewable by its id, its token reported by inspect.
      yield* renew(redis, keySpace)({ name, leaseId: "b", duration: Duration.seconds(3) })
      const info = yield* inspect(redis, keySpace)(name)
      expect(info.leaseId).toBe("b")
      expect(info.fencingToken).toBe(2n)
    })
  )

  it.live("keeps the old grant's metadata when the claim brings none, and replaces it when it does", () =>
    Effect.gen(function* () {
      const kept = uniqueName("meta-kept")
      const redis = yield* reserved(kept, "t-1", 2_000, { region: "eu", build: "41" })
      yield* claim(redis, keySpace)(claiming(kept, "t-1"))
      expect((yield* inspect(redis, keySpace)(kept)).metadata).toEqual({ region: "eu", build: "41" })

      const replaced = uniqueName("meta-replaced")
      yield* reserved(replaced, "t-2", 2_000, { region: "eu", build: "41" })
      yield* claim(redis, keySpace)(claiming(replaced, "t-2", { metadata: { build: "42" } }))
      expect((yield* inspect(redis, keySpace)(replaced)).metadata).toEqual({ build: "42" })
    })
  )

  it.live(
    "a wrong token is `invalid-token`, another holder is `not-successor`; the reservation is left as it was",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("refused")
        const redis = yield* reserved(name, "token-1")
        const keys = keySpace.keys(name)
        const before = yield* Effect.promise(() => redis.hgetall(keys.lease))
        expect(yield* refusal(claim(redis, keySpace)(claiming(name, "token-2")))).toBe("invalid-token")
        expect(yield* refusal(claim(redis, keySpace)(claiming(name, "token-1", { holderId: "intruder" })))).toBe(
          "not-successor"
        )
        expect(yield* Effect.promise(() => redis.hgetall(keys.lease))).toEqual(before)
        expect(yield* Effect.promise(() => redis.get(keys.fence))).toBe("1")
        // Still claimable by the right successor with the right token.
        expect((yield* claim(redis, keySpace)(claiming(name, "token-1"))).fencingToken).toBe(2n)
      })
  )

  it.live("a token can be claimed once: the second claim is `invalid-token` and the grant is untouched", () =>
    Effect.gen(function* () {
      const name = uniqueName("twice")
      const redis = yield* reserved(name, "token-1")
      yield* claim(redis, keySpace)(claiming(name, "token-1"))
      expect(yield* refusal(claim(redis, keySpace)(claiming(name, "token-1", { leaseId: "c" })))).toBe("invalid-token")
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(name).lease, "id"))).toBe("b")
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).fence))).toBe("2")
    })
  )

  it.live("a plain grant whose lease id equals the token is not a reservation: `invalid-token`", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("not-pending")
      yield* tryAcquire(redis, keySpace)({ ...grant(name, "token-1"), holderId: "successor" })
      expect(yield* refusal(claim(redis, keySpace)(claiming(name, "token-1")))).toBe("invalid-token")
      expect(yield* Effect.promise(() => redis.get(keySpace.keys(name).fence))).toBe("1")
    })
  )

  it.live("a lapsed or broken reservation is `expired`; a name taken since by someone else is `invalid-token`", () =>
    Effect.gen(function* () {
      const lapsed = uniqueName("lapsed")
      const redis = yield* reserved(lapsed, "t-1", 100)
      yield* Effect.sleep("200 millis")
      const late = yield* Effect.flip(claim(redis, keySpace)(claiming(lapsed, "t-1")))
      assert.strictEqual(late._tag, "LeaseTransferError")
      if (late._tag === "LeaseTransferError") {
        expect(late.reason).toBe("expired")
        expect(late.detail).toContain("expired")
      }
      expect(yield* Effect.promise(() => redis.exists(keySpace.keys(lapsed).lease))).toBe(0)

      const broken = uniqueName("broken")
      yield* reserved(broken, "t-2")
      expect(yield* breakLease(redis, keySpace)(broken)).toBe(true)
      const afterBreak = yield* Effect.flip(claim(redis, keySpace)(claiming(broken, "t-2")))
      assert.strictEqual(afterBreak._tag, "LeaseTransferError")
      if (afterBreak._tag === "LeaseTransferError") {
        expect(afterBreak.reason).toBe("expired")
        expect(afterBreak.detail).toContain("operator")
      }

      const taken = uniqueName("taken")
      yield* reserved(taken, "t-3", 100)
      yield* Effect.sleep("200 millis")
      yield* tryAcquire(redis, keySpace)(grant(taken, "c"))
      expect(yield* refusal(claim(redis, keySpace)(claiming(taken, "t-3")))).toBe("invalid-token")
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(taken).lease, "id"))).toBe("c")
    })
  )

  it.live("tokens are exact beyond 2^53 (read back as strings, not Lua doubles)", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("big")
      yield* Effect.promise(() => redis.set(keySpace.keys(name).fence, "9007199254740993"))
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      yield* handoff(
        redis,
        keySpace
      )({ name, leaseId: "a", successorHolderId: "successor", transferToken: "t", claimWindow: Duration.seconds(2) })
      const result = yield* claim(redis, keySpace)(claiming(name, "t"))
      expect(result.fencingToken).toBe(9007199254740995n)
    })
  )

  it.live("is one round trip", () =>
    Effect.gen(function* () {
      const first = uniqueName("rt")
      const redis = yield* reserved(first, "t-1")
      yield* claim(redis, keySpace)(claiming(first, "t-1")) // loads the script
      const name = uniqueName("rt")
      yield* reserved(name, "t-2")
      const sent = recordCommands(redis)
      yield* claim(redis, keySpace)(claiming(name, "t-2"))
      expect(sent).toEqual(["evalsha"])
    })
  )

  it.live("a key that is not a lease hash is a non-retryable WRONGTYPE error", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      yield* Effect.promise(() => redis.lpush(keySpace.keys(name).lease, "x"))
      const error = yield* Effect.flip(claim(redis, keySpace)(claiming(name, "t")))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag !== "ProviderUnavailableError") return
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("claim")
      expect(error.detail).toContain("WRONGTYPE")
    })
  )
})
