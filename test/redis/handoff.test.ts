/**
 * The handoff script (`src/redis/handoff.ts`) against a real redis-server: the owner is swapped for a reservation in
 * place (the key never disappears), the old id becomes stale, the loss reasons match renew's, one round trip, and
 * races with a renewal and with an operator's break are serialised by Redis.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { breakLease } from "../../src/redis/breakLease.ts"
import { claim } from "../../src/redis/claim.ts"
import { handoff } from "../../src/redis/handoff.ts"
import { inspect } from "../../src/redis/inspect.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { release } from "../../src/redis/release.ts"
import { renew } from "../../src/redis/renew.ts"
import { rawClient, recordCommands, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-handoff:")

const grant = (name: string, leaseId: string, ms = 5_000, metadata?: Record<string, string>) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.millis(ms),
  metadata
})

const handing = (name: string, leaseId: string, transferToken: string, windowMs = 1_000) => ({
  name,
  leaseId,
  successorHolderId: "successor",
  transferToken,
  claimWindow: Duration.millis(windowMs)
})

const lossReason = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (error) =>
    error._tag === "LeaseLostError" && "reason" in error ? error.reason : `not a loss: ${error._tag}`
  )

describe("handoff script", () => {
  it.live("rewrites the grant in place as a reservation: token as id, successor as holder, pending, TTL = window", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("swap")
      const keys = keySpace.keys(name)
      yield* tryAcquire(redis, keySpace)(grant(name, "a", 10_000, { region: "eu" }))
      const before = yield* Effect.promise(() => redis.hgetall(keys.lease))
      yield* handoff(redis, keySpace)(handing(name, "a", "token-1", 1_500))
      const after = yield* Effect.promise(() => redis.hgetall(keys.lease))
      expect(after).toEqual({ ...before, id: "token-1", holder: "successor", pending: "1" })
      // The remaining time is the claim window, not what was left of the 10 s grant.
      const pttl = yield* Effect.promise(() => redis.pttl(keys.lease))
      expect(pttl).toBeLessThanOrEqual(1_500)
      expect(pttl).toBeGreaterThan(1_000)
      // The counter is the claim's business.
      expect(yield* Effect.promise(() => redis.get(keys.fence))).toBe("1")
    })
  )

  it.live("the reservation is held for everyone else: tryAcquire answers Held, inspect names the successor", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("held")
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      yield* handoff(redis, keySpace)(handing(name, "a", "token-1", 2_000))
      const attempt = yield* tryAcquire(redis, keySpace)(grant(name, "intruder"))
      assert.strictEqual(attempt._tag, "Held")
      if (attempt._tag === "Held") {
        expect(attempt.holderId).toBe("successor")
        expect(Duration.toMillis(attempt.remaining ?? Duration.zero)).toBeLessThanOrEqual(2_000)
      }
      // Not even the token itself, offered as a lease id, turns the reservation into a grant: only a claim may.
      const withToken = yield* tryAcquire(redis, keySpace)(grant(name, "token-1"))
      expect(withToken._tag).toBe("Held")
      const info = yield* inspect(redis, keySpace)(name)
      expect(info.held).toBe(true)
      expect(info.holderId).toBe("successor")
      expect(info.leaseId).toBe("token-1")
      expect(info.fencingToken).toBe(1n)
    })
  )

  it.live(
    "the old lease id is stale afterwards: renew reports `stolen`, release is refused, a second handoff too",
    () =>
      Effect.gen(function* () {
        const redis = yield* rawClient(server())
        const name = uniqueName("stale")
        yield* tryAcquire(redis, keySpace)(grant(name, "a"))
        yield* handoff(redis, keySpace)(handing(name, "a", "token-1"))
        const renewal = yield* Effect.flip(
          renew(redis, keySpace)({ name, leaseId: "a", duration: Duration.seconds(5) })
        )
        assert.strictEqual(renewal._tag, "LeaseLostError")
        if (renewal._tag === "LeaseLostError") {
          expect(renewal.reason).toBe("stolen")
          expect(renewal.detail).toContain("successor")
        }
        expect(yield* release(redis, keySpace)({ name, leaseId: "a" })).toBe(false)
        expect(yield* lossReason(handoff(redis, keySpace)(handing(name, "a", "token-2")))).toBe("stolen")
        // None of them touched the reservation.
        expect(yield* Effect.promise(() => redis.hget(keySpace.keys(name).lease, "id"))).toBe("token-1")
        expect(yield* Effect.promise(() => redis.pttl(keySpace.keys(name).lease))).toBeLessThanOrEqual(1_000)
      })
  )

  it.live("a lease that is gone, taken or broken is a LeaseLostError with the reason, and nothing is written", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const expired = uniqueName("expired")
      yield* tryAcquire(redis, keySpace)(grant(expired, "a", 50))
      yield* Effect.sleep("100 millis")
      expect(yield* lossReason(handoff(redis, keySpace)(handing(expired, "a", "t")))).toBe("expired")
      expect(yield* Effect.promise(() => redis.exists(keySpace.keys(expired).lease))).toBe(0)

      const stolen = uniqueName("stolen")
      yield* tryAcquire(redis, keySpace)(grant(stolen, "a", 50))
      yield* Effect.sleep("100 millis")
      yield* tryAcquire(redis, keySpace)(grant(stolen, "b"))
      expect(yield* lossReason(handoff(redis, keySpace)(handing(stolen, "a", "t")))).toBe("stolen")
      expect(yield* Effect.promise(() => redis.hget(keySpace.keys(stolen).lease, "id"))).toBe("b")

      const broken = uniqueName("broken")
      yield* tryAcquire(redis, keySpace)(grant(broken, "a"))
      expect(yield* breakLease(redis, keySpace)(broken)).toBe(true)
      expect(yield* lossReason(handoff(redis, keySpace)(handing(broken, "a", "t")))).toBe("broken")
      expect(yield* Effect.promise(() => redis.exists(keySpace.keys(broken).lease))).toBe(0)
    })
  )

  it.live("an unclaimed reservation expires like a lease; the next grant gets a higher token", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("lapse")
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      yield* handoff(redis, keySpace)(handing(name, "a", "token-1", 100))
      yield* Effect.sleep("200 millis")
      const next = yield* tryAcquire(redis, keySpace)(grant(name, "c"))
      assert.strictEqual(next._tag, "Acquired")
      if (next._tag === "Acquired") expect(next.fencingToken).toBe(2n)
    })
  )

  it.live("is one round trip", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const first = uniqueName("rt")
      yield* tryAcquire(redis, keySpace)(grant(first, "a"))
      yield* handoff(redis, keySpace)(handing(first, "a", "t-1")) // loads the script
      const name = uniqueName("rt")
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      const sent = recordCommands(redis)
      yield* handoff(redis, keySpace)(handing(name, "a", "t-2"))
      expect(sent).toEqual(["evalsha"])
    })
  )

  it.live("a key that is not a lease hash is a non-retryable WRONGTYPE error, and left untouched", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("foreign")
      yield* Effect.promise(() => redis.lpush(keySpace.keys(name).lease, "x"))
      const error = yield* Effect.flip(handoff(redis, keySpace)(handing(name, "a", "t")))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag !== "ProviderUnavailableError") return
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("handoff")
      expect(error.detail).toContain("WRONGTYPE")
      expect(yield* Effect.promise(() => redis.lrange(keySpace.keys(name).lease, 0, -1))).toEqual(["x"])
    })
  )

  it.live(
    "racing a renewal from another connection: Redis serialises them and a renewal never extends a reservation",
    () =>
      Effect.gen(function* () {
        const holder = yield* rawClient(server())
        const handing0 = yield* rawClient(server())
        const orders = { renewFirst: 0, handoffFirst: 0 }
        for (let i = 0; i < 40; i++) {
          const name = uniqueName("race-renew")
          yield* tryAcquire(holder, keySpace)(grant(name, "a", 10_000))
          const [renewed, handed] = yield* Effect.all(
            [
              Effect.result(renew(holder, keySpace)({ name, leaseId: "a", duration: Duration.seconds(10) })),
              Effect.result(handoff(handing0, keySpace)(handing(name, "a", `t-${i}`, 1_000)))
            ],
            { concurrency: "unbounded" }
          )
          // The renewal does not change the lease id, so the handoff always commits.
          assert.isTrue(Result.isSuccess(handed))
          if (Result.isSuccess(renewed)) orders.renewFirst++
          else {
            orders.handoffFirst++
            const error = renewed.failure
            expect(error._tag === "LeaseLostError" ? error.reason : error._tag).toBe("stolen")
          }
          // Whatever the order, the key is the reservation, with the window's TTL: a late renewal did not extend it
          // to the 10 s of the grant.
          expect(yield* Effect.promise(() => holder.hget(keySpace.keys(name).lease, "id"))).toBe(`t-${i}`)
          expect(yield* Effect.promise(() => holder.pttl(keySpace.keys(name).lease))).toBeLessThanOrEqual(1_000)
        }
        expect(orders.renewFirst + orders.handoffFirst).toBe(40)
      })
  )

  it.live("racing an operator's break: never two holders, and the successor can never claim an evicted lease", () =>
    Effect.gen(function* () {
      const holder = yield* rawClient(server())
      const operator = yield* rawClient(server())
      for (let i = 0; i < 40; i++) {
        const name = uniqueName("race-break")
        yield* tryAcquire(holder, keySpace)(grant(name, "a"))
        const [handed, broken] = yield* Effect.all(
          [
            Effect.result(handoff(holder, keySpace)(handing(name, "a", `t-${i}`))),
            breakLease(operator, keySpace)(name)
          ],
          { concurrency: "unbounded" }
        )
        // There was a holder to evict either way: the grant, or the reservation that replaced it.
        expect(broken).toBe(true)
        if (Result.isFailure(handed)) {
          const error = handed.failure
          expect(error._tag === "LeaseLostError" ? error.reason : error._tag).toBe("broken")
        }
        // Nothing is left, and the claim fails as `expired` (the break's tombstone says why, in the message).
        expect(yield* Effect.promise(() => holder.exists(keySpace.keys(name).lease))).toBe(0)
        const claimed = yield* Effect.flip(
          claim(
            holder,
            keySpace
          )({
            name,
            transferToken: `t-${i}`,
            holderId: "successor",
            leaseId: "b",
            duration: Duration.seconds(5)
          })
        )
        assert.strictEqual(claimed._tag, "LeaseTransferError")
        if (claimed._tag === "LeaseTransferError") expect(claimed.reason).toBe("expired")
      }
    })
  )
})
