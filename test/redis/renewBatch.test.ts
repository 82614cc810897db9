/**
 * Batched renewals on Redis (`batchedRenew` in `src/redis/renew.ts`): renewals started in one turn of the event loop
 * travel in one `renew_many` script call, each keeping its own answer; and through the manager, leases whose
 * renewals fall due together (the scheduler coalesces them) share round trips.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber } from "effect"
import type { Redis } from "ioredis"
import { LeaseManager, LeaseProvider } from "../../src/index.ts"
import { tryAcquire } from "../../src/redis/acquire.ts"
import { breakLease } from "../../src/redis/breakLease.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { makeKeySpace } from "../../src/redis/keys.ts"
import { batchedRenew, maxBatch, renewManyScript, renewScript } from "../../src/redis/renew.ts"
import { buildProvider, rawClient, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()
const keySpace = makeKeySpace("test-batch:")

/** The scripts a client ran, by name, with how many keys each call carried. */
const recordScripts = (client: Redis): Array<{ readonly script: string; readonly keys: number }> => {
  const calls: Array<{ readonly script: string; readonly keys: number }> = []
  const original = client.sendCommand.bind(client)
  client.sendCommand = (command, stream) => {
    if (command.name === "evalsha" || command.name === "eval") {
      const [first, keys] = command.args
      const sha = String(first)
      const script =
        sha === renewManyScript.sha || sha === renewManyScript.lua
          ? "renew_many"
          : sha === renewScript.sha || sha === renewScript.lua
            ? "renew"
            : "other"
      calls.push({ script, keys: Number(keys) })
    }
    return original(command, stream)
  }
  return calls
}

/** Loads both scripts, so a call below is one EVALSHA (a fresh server would answer NOSCRIPT, then EVAL). */
const loadScripts = (redis: Redis) =>
  Effect.promise(() => Promise.all([redis.script("LOAD", renewScript.lua), redis.script("LOAD", renewManyScript.lua)]))

const grant = (name: string, leaseId: string) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.seconds(10)
})

describe("batched renewals", () => {
  it.live("renewals started together travel in one script call, and each gets its own TTL", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const names = Array.from({ length: 5 }, (_, i) => uniqueName(`batch-${i}`))
      for (const name of names) yield* tryAcquire(redis, keySpace)(grant(name, `id-${name}`))
      yield* loadScripts(redis)
      const calls = recordScripts(redis)
      const renew = batchedRenew(redis, keySpace)
      const renewed = yield* Effect.all(
        names.map((name, i) => renew({ name, leaseId: `id-${name}`, duration: Duration.seconds(20 + i) })),
        { concurrency: "unbounded" }
      )
      expect(calls).toEqual([{ script: "renew_many", keys: 10 }])
      renewed.forEach((answer, i) => {
        expect(Duration.toMillis(answer.ttl)).toBeLessThanOrEqual((20 + i) * 1_000)
        expect(Duration.toMillis(answer.ttl)).toBeGreaterThan((20 + i) * 1_000 - 200)
      })
      for (const [i, name] of names.entries()) {
        const pttl = yield* Effect.promise(() => redis.pttl(keySpace.keys(name).lease))
        expect(pttl).toBeGreaterThan((20 + i) * 1_000 - 500)
      }
    })
  )

  it.live("one batch, four outcomes: renewed, stolen, broken and expired each get their own answer", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const [ok, stolen, broken, expired] = ["ok", "stolen", "broken", "expired"].map((label) => uniqueName(label))
      if (ok === undefined || stolen === undefined || broken === undefined || expired === undefined) throw new Error()
      yield* tryAcquire(redis, keySpace)(grant(ok, "mine"))
      yield* tryAcquire(redis, keySpace)(grant(stolen, "someone-else"))
      yield* tryAcquire(redis, keySpace)(grant(broken, "mine"))
      yield* breakLease(redis, keySpace)(broken)
      yield* loadScripts(redis)
      const calls = recordScripts(redis)
      const renew = batchedRenew(redis, keySpace)
      const outcomes = yield* Effect.all(
        [ok, stolen, broken, expired].map((name) =>
          Effect.exit(renew({ name, leaseId: "mine", duration: Duration.seconds(10) }))
        ),
        { concurrency: "unbounded" }
      )
      expect(calls).toEqual([{ script: "renew_many", keys: 8 }])
      const first = outcomes[0]
      expect(first !== undefined && Exit.isSuccess(first)).toBe(true)
      const reasons = outcomes
        .slice(1)
        .map((exit) =>
          Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail" ? exit.cause.reasons[0].error : undefined
        )
        .map((error) => (error?._tag === "LeaseLostError" ? error.reason : error?._tag))
      expect(reasons).toEqual(["stolen", "broken", "expired"])
    })
  )

  it.live("a lone renewal is sent as the single-lease script", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const name = uniqueName("lone")
      yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      yield* loadScripts(redis)
      const calls = recordScripts(redis)
      const answer = yield* batchedRenew(redis, keySpace)({ name, leaseId: "a", duration: Duration.seconds(5) })
      expect(Duration.toMillis(answer.ttl)).toBeLessThanOrEqual(5_000)
      expect(calls).toEqual([{ script: "renew", keys: 2 }])
    })
  )

  it.live("a renewal interrupted before its batch is sent is left out of it", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const names = [uniqueName("keep-1"), uniqueName("drop"), uniqueName("keep-2")]
      for (const name of names) yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      yield* loadScripts(redis)
      const calls = recordScripts(redis)
      const renew = batchedRenew(redis, keySpace)
      const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
      for (const name of names) {
        fibers.push(
          yield* Effect.forkChild(renew({ name, leaseId: "a", duration: Duration.seconds(10) }), {
            startImmediately: true
          })
        )
      }
      // Still in the same turn: the batch is sent on the next microtask.
      fibers[1]?.interruptUnsafe()
      const exits = yield* Effect.all(fibers.map((fiber) => Fiber.await(fiber)))
      expect(
        exits.map((exit) => (Exit.isSuccess(exit) ? "renewed" : Exit.hasInterrupts(exit) ? "interrupted" : "failed"))
      ).toEqual(["renewed", "interrupted", "renewed"])
      expect(calls).toEqual([{ script: "renew_many", keys: 4 }])
    })
  )

  it.live(`more than ${maxBatch} renewals at once are split into calls of at most ${maxBatch}`, () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const count = maxBatch + 44
      const names = Array.from({ length: count }, (_, i) => uniqueName(`many-${i}`))
      for (const name of names) yield* tryAcquire(redis, keySpace)(grant(name, "a"))
      yield* loadScripts(redis)
      const calls = recordScripts(redis)
      const renew = batchedRenew(redis, keySpace)
      const renewed = yield* Effect.all(
        names.map((name) => renew({ name, leaseId: "a", duration: Duration.seconds(10) })),
        { concurrency: "unbounded" }
      )
      expect(renewed).toHaveLength(count)
      expect(calls).toEqual([
        { script: "renew_many", keys: 2 * maxBatch },
        { script: "renew_many", keys: 2 * 44 }
      ])
    })
  )

  it.live("through the manager: 40 leases taken together renew in a few shared round trips, not 40", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const calls = recordScripts(redis)
      const built = yield* buildProvider(RedisLeaseProvider.layer({ client: redis, keyPrefix: "test-batch-mgr:" }))
      const manager = yield* LeaseManager.make({ holderId: "batcher" }).pipe(
        Effect.provideService(LeaseProvider, built.provider)
      )
      const leases = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => uniqueName(`mgr-${i}`)),
        (name) => manager.acquire(name, { duration: "1200 millis" })
      )
      // Renewals are due at 800 ms after each grant; wait for the first round of all of them.
      yield* Effect.sleep("1100 millis")
      const renewCalls = calls.filter((call) => call.script === "renew" || call.script === "renew_many")
      const renewedLeases = renewCalls.reduce((sum, call) => sum + call.keys / 2, 0)
      expect(leases.every((lease) => lease.renewalCount >= 1)).toBe(true)
      expect(renewedLeases).toBeGreaterThanOrEqual(40)
      expect(renewCalls.length).toBeLessThan(20)
      expect(leases.every((lease) => lease.state === "held")).toBe(true)
      yield* built.close
    }).pipe(Effect.scoped)
  )

  it.live("batchRenewals: false sends every renewal as its own single-lease script", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const built = yield* buildProvider(
        RedisLeaseProvider.layer({ client: redis, keyPrefix: "test-batch-off:", batchRenewals: false })
      )
      const names = [uniqueName("off-1"), uniqueName("off-2"), uniqueName("off-3")]
      for (const name of names) yield* built.provider.tryAcquire(grant(name, "a"))
      yield* loadScripts(redis)
      const calls = recordScripts(redis)
      yield* Effect.all(
        names.map((name) => built.provider.renew({ name, leaseId: "a", duration: Duration.seconds(10) })),
        { concurrency: "unbounded" }
      )
      expect(calls).toEqual([
        { script: "renew", keys: 2 },
        { script: "renew", keys: 2 },
        { script: "renew", keys: 2 }
      ])
      yield* built.close
    }).pipe(Effect.scoped)
  )
})
