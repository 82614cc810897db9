/**
 * Error mapping. The test server never throttles, never fails and checks no credentials, so a proxy in front of it
 * answers instead of it where a test needs 429, 503, 401, 403 or a 404 about the container; a closed port gives a
 * real network failure; missing databases and containers are real.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import { type AcquireRequest, LeaseManager, LeaseProvider, type ProviderUnavailableError } from "../../src/index.ts"
import { freePort } from "../support/cosmosServer.ts"
import { type FaultProxy, startFaultProxy } from "./faultProxy.ts"
import { leaseName, options, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const request = (name: string): AcquireRequest => ({
  name,
  holderId: "a",
  leaseId: randomUUID(),
  duration: Duration.seconds(10)
})

const withProxy = Effect.acquireRelease(
  Effect.promise(() => startFaultProxy(server().port)),
  (p) => Effect.promise(() => p.close())
)

const throughProxy = (proxy: FaultProxy) =>
  CosmosLeaseProvider.make(options(server(), { containerName: "errors", endpoint: proxy.endpoint }))

const unavailable = (error: { readonly _tag: string }): ProviderUnavailableError => {
  assert.strictEqual(error._tag, "ProviderUnavailableError")
  return error as ProviderUnavailableError
}

describe("azure-cosmos error mapping", () => {
  it.live("429 is retryable and carries x-ms-retry-after-ms; the SDK does not retry it behind our back", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const provider = yield* throughProxy(proxy)
      proxy.fault = (r) =>
        r.kind === "other"
          ? undefined
          : { status: 429, headers: { "x-ms-retry-after-ms": "250", "x-ms-substatus": "3200" } }
      proxy.reset()
      const error = unavailable(yield* Effect.flip(provider.tryAcquire(request(leaseName("throttled")))))
      expect(error.isRetryable).toBe(true)
      expect(error.detail).toContain("429")
      expect(Duration.toMillis(error.retryAfter ?? Duration.zero)).toBe(250)
      expect(error.cause).toBeDefined()
      expect(proxy.itemRequests()).toEqual(["read"])
    })
  )

  it.live("the core waits as long as the service asked before trying again", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const provider = yield* throughProxy(proxy)
      const times: Array<number> = []
      proxy.fault = (r) => {
        if (r.kind === "other") return undefined
        times.push(performance.now())
        return times.length <= 3 ? { status: 429, headers: { "x-ms-retry-after-ms": "300" } } : undefined
      }
      const manager = yield* LeaseManager.make({ holderId: "patient" }).pipe(
        Effect.provideService(LeaseProvider, provider)
      )
      const lease = yield* manager.acquire(leaseName("retry-after"), { duration: "10 seconds", timeout: "5 seconds" })
      expect(lease.state).toBe("held")
      expect(times.length).toBeGreaterThanOrEqual(4)
      // After every failure, including the very first, the core's wait is the service's `retryAfter`.
      expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(290)
      expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(290)
      expect((times[3] as number) - (times[2] as number)).toBeGreaterThanOrEqual(290)
    })
  )

  it.live("503 is retryable; 401 and 403 are not; a renewal against a failing service is not a loss", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const provider = yield* throughProxy(proxy)
      const name = leaseName("statuses")
      const r = request(name)
      yield* provider.tryAcquire(r)
      for (const [status, retryable] of [
        [503, true],
        [500, true],
        [401, false],
        [403, false]
      ] as const) {
        proxy.fault = (x) => (x.kind === "other" ? undefined : { status })
        const acquire = unavailable(yield* Effect.flip(provider.tryAcquire(request(leaseName("statuses")))))
        expect([status, acquire.isRetryable]).toEqual([status, retryable])
        expect(acquire.detail).toContain(String(status))
        const renewal = yield* Effect.flip(provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) }))
        expect([status, renewal._tag]).toEqual([status, "ProviderUnavailableError"])
      }
      proxy.fault = undefined
      // Once the service answers again, the lease is still ours.
      yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) })
    })
  )

  it.live("a missing database or container fails the layer with a clear, non-retryable error naming it", () =>
    Effect.gen(function* () {
      const noDatabase = unavailable(
        yield* Effect.flip(
          Layer.build(CosmosLeaseProvider.layer(options(server(), { databaseName: "nowhere", createIfMissing: false })))
        )
      )
      expect(noDatabase.isRetryable).toBe(false)
      expect(noDatabase.operation).toBe("connect")
      expect(noDatabase.detail).toContain('database "nowhere" was not found')

      // The database exists (other tests created it), the container does not.
      yield* Layer.build(CosmosLeaseProvider.layer(options(server(), { containerName: "errors" })))
      const noContainer = unavailable(
        yield* Effect.flip(
          Layer.build(
            CosmosLeaseProvider.layer(options(server(), { containerName: "missing", createIfMissing: false }))
          )
        )
      )
      expect(noContainer.isRetryable).toBe(false)
      expect(noContainer.detail).toContain('container "missing" was not found in database "distributed-leasing"')
      expect(noContainer.detail).toContain("createIfMissing")
    })
  )

  it.live("a container deleted after start-up is reported as missing, never as a free lease", () =>
    Effect.gen(function* () {
      // What the service answers once the container is gone (the test server itself fails with a 500 after a
      // container is deleted under a client, so the proxy plays the service): the point read of the document
      // says 404, and so does the create that would follow.
      const proxy = yield* withProxy
      const provider = yield* throughProxy(proxy)
      proxy.fault = (r) => (r.kind === "read" || r.kind === "create" ? { status: 404 } : undefined)
      const error = unavailable(yield* Effect.flip(provider.tryAcquire(request(leaseName("doomed")))))
      expect(error.isRetryable).toBe(false)
      expect(error.detail).toContain('container "errors" in database "distributed-leasing" was not found')
      expect(proxy.itemRequests()).toEqual(["read", "create"])

      // Real Cosmos also tells a missing container from a missing document on reads (substatus 1003).
      proxy.fault = (r) => (r.kind === "read" ? { status: 404, headers: { "x-ms-substatus": "1003" } } : undefined)
      const inspect = unavailable(yield* Effect.flip(provider.inspect(leaseName("owner"))))
      expect(inspect.isRetryable).toBe(false)
      expect(inspect.detail).toContain('container "errors"')
    })
  )

  it.live("an unreachable service is a retryable error, at start-up and later", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const closed = unavailable(
        yield* Effect.flip(
          Layer.build(
            CosmosLeaseProvider.layer({
              endpoint: `http://127.0.0.1:${port}`,
              key: Redacted.make(server().key),
              clientOptions: server().clientOptions
            })
          )
        )
      )
      expect(closed.isRetryable).toBe(true)
      expect(closed.operation).toBe("connect")
      expect(closed.detail).toContain("ECONNREFUSED")

      const proxy = yield* Effect.promise(() => startFaultProxy(server().port))
      const provider = yield* throughProxy(proxy)
      yield* Effect.promise(() => proxy.close())
      const later = unavailable(yield* Effect.flip(provider.tryAcquire(request(leaseName("unreachable")))))
      expect(later.isRetryable).toBe(true)
      expect(later.operation).toBe("acquire")
    })
  )
})
