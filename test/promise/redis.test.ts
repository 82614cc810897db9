/**
 * The Promise API unchanged on the Redis provider (a private `redis-server` per file): two clients are two
 * replicas sharing one store, so exclusion, waiting, abort, loss and `close()` are checked across connections.
 */
import { Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  createLeasing,
  createLeasingFromEnv,
  LeaseAcquisitionTimeoutError,
  LeaseLostError
} from "../../src/promise/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { type RedisServer, startRedisServer } from "../support/redisServer.ts"
import { guardUnhandledRejections, sleep } from "./helpers.ts"

guardUnhandledRejections()

let server: RedisServer | undefined
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(async () => {
  await server?.close()
})

const url = (): string => {
  if (server === undefined) throw new Error("redis-server did not start")
  return server.url
}

const replica = (holderId: string) =>
  createLeasing({ provider: RedisLeaseProvider.layer({ url: Redacted.make(url()) }), holderId, logLevel: "None" })

describe("Promise API on Redis", () => {
  it("two clients exclude each other; the waiter gets the lease when the holder releases it", async () => {
    await using a = replica("a")
    await using b = replica("b")
    const lease = await a.acquire("redis/exclusive", { duration: "5 seconds" })
    expect(lease.provider).toBe("redis")
    expect(await b.tryAcquire("redis/exclusive")).toBeNull()
    await expect(b.acquire("redis/exclusive", { timeout: 200 })).rejects.toBeInstanceOf(LeaseAcquisitionTimeoutError)
    const waiting = b.acquire("redis/exclusive", { duration: "5 seconds" })
    await sleep(100)
    await lease.release()
    const next = await waiting
    expect(next.holderId).toBe("b")
    expect(next.fencingToken).toBeGreaterThan(lease.fencingToken)
    const info = await a.inspect("redis/exclusive")
    expect(info).toMatchObject({ held: true, holderId: "b", leaseId: next.leaseId, fencingToken: next.fencingToken })
    expect(info.expiresAt).toBeInstanceOf(Date)
  })

  it("an abort cancels the wait at once and leaves nothing held", async () => {
    await using a = replica("a")
    await using b = replica("b")
    const lease = await a.acquire("redis/abort", { duration: "10 seconds" })
    const controller = new AbortController()
    const waiting = b.acquire("redis/abort", { signal: controller.signal })
    waiting.catch(() => {})
    await sleep(100)
    const abortedAt = Date.now()
    controller.abort(new Error("stop waiting"))
    await expect(waiting).rejects.toThrow("stop waiting")
    expect(Date.now() - abortedAt).toBeLessThan(500)
    await lease.release()
    await sleep(100)
    expect((await a.inspect("redis/abort")).held).toBe(false)
  })

  it("withLease rejects with LeaseLostError when the lease is broken, and lease.signal aborts", async () => {
    await using a = replica("a")
    await using operator = replica("operator")
    let signal: AbortSignal | undefined
    const run = a.withLease(
      "redis/broken",
      async (lease) => {
        signal = lease.signal
        await operator.breakLease("redis/broken")
        await new Promise((resolve) => lease.signal.addEventListener("abort", resolve))
        return "finished"
      },
      { duration: "400 millis" }
    )
    await expect(run).rejects.toBeInstanceOf(LeaseLostError)
    expect(signal?.reason).toMatchObject({ reason: "broken" })
  })

  it("close() releases the client's leases in Redis", async () => {
    const a = replica("a")
    await using b = replica("b")
    await a.acquire("redis/close-1", { duration: "30 seconds" })
    await a.acquire("redis/close-2", { duration: "30 seconds" })
    await a.close()
    expect((await b.inspect("redis/close-1")).held).toBe(false)
    expect((await b.inspect("redis/close-2")).held).toBe(false)
  })

  it("createLeasingFromEnv picks Redis from LEASING_PROVIDER and LEASING_REDIS_URL", async () => {
    await using leasing = await createLeasingFromEnv({
      env: { LEASING_PROVIDER: "redis", LEASING_REDIS_URL: url(), LEASING_HOLDER_ID: "from-env" },
      logLevel: "None"
    })
    const lease = await leasing.lease("redis/env").duration("5 seconds").acquire()
    expect(lease.provider).toBe("redis")
    expect(lease.holderId).toBe("from-env")
    await using other = replica("other")
    expect((await other.inspect("redis/env")).holderId).toBe("from-env")
  })
})
