/**
 * Renewal against the Cosmos test server.
 *
 * The regression test of the original's defect: its Cosmos renewal never updated the local expiry, so the lease
 * looked expired one duration after acquisition and auto-renewal silently stopped after one more renewal. Here a
 * lease renewed many times stays held, its expiry moves forward with every renewal, and the service's copy (its
 * `_ts`) moves with it, so nobody else can take it.
 *
 * Also: renewal is conditional on the lease id, and the reason of a loss is told (stolen, broken, expired); a
 * `412` alone is not taken as a loss (our own earlier write may have landed without its answer).
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import { type AcquireRequest, LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { startFaultProxy } from "./faultProxy.ts"
import { leaseName, options, rawContainer, rawDocument, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const make = (overrides: Parameters<typeof options>[1] = {}) =>
  CosmosLeaseProvider.make(options(server(), { containerName: "renew", ...overrides }))

const request = (name: string, holderId: string, duration: Duration.Input = "10 seconds"): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.fromInputUnsafe(duration)
})

const lossReason = (provider: LeaseProviderShape, name: string, leaseId: string) =>
  Effect.map(Effect.flip(provider.renew({ name, leaseId, duration: Duration.seconds(10) })), (error) =>
    error._tag === "LeaseLostError" ? error.reason : `not a loss: ${error.message}`
  )

describe("azure-cosmos renew", () => {
  it.live("regression: a lease renewed many times stays held and its expiry moves forward", () =>
    Effect.gen(function* () {
      const provider = yield* make()
      const other = yield* make()
      const manager = yield* LeaseManager.make({ holderId: "renewer" }).pipe(
        Effect.provideService(LeaseProvider, provider)
      )
      const name = leaseName("regression")
      const durationMs = 2_000
      const lease = yield* manager.acquire(name, { duration: durationMs })
      const expiries: Array<number> = []
      const collector = yield* Effect.forkChild(
        Stream.runForEach(lease.events, (event) =>
          Effect.sync(() => {
            if (event._tag === "Renewed") expiries.push(event.expiresAt.getTime())
          })
        ),
        { startImmediately: true }
      )
      const raw = yield* rawContainer(server(), "distributed-leasing", "renew")
      const id = CosmosLeaseProvider.documentId(name)
      const firstWrite = Number((yield* rawDocument(raw, id))?._ts)

      // Three durations: the original would have stopped renewing after the first one.
      yield* Effect.sleep(Duration.millis(durationMs * 3))

      expect(lease.state).toBe("held")
      expect(lease.renewalCount).toBeGreaterThanOrEqual(3)
      expect(expiries.length).toBe(lease.renewalCount)
      for (let i = 1; i < expiries.length; i++) expect(expiries[i]).toBeGreaterThan(expiries[i - 1] as number)
      expect(lease.expiresAt.getTime()).toBeGreaterThan(lease.acquiredAt.getTime() + durationMs * 2.5)
      // The service saw the renewals: its last write is at least three seconds after the grant...
      expect(Number((yield* rawDocument(raw, id))?._ts)).toBeGreaterThanOrEqual(firstWrite + 3)
      // ...so another process still finds the lease held, by this holder, long after the first duration.
      const attempt = yield* other.tryAcquire(request(name, "intruder"))
      assert.strictEqual(attempt._tag, "Held")
      if (attempt._tag === "Held") expect(attempt.holderId).toBe("renewer")
      yield* Fiber.interrupt(collector)
    })
  )

  it.live("renewal resets the time left to the requested duration, stored as a duration", () =>
    Effect.gen(function* () {
      const provider = yield* make({ clockSkewTolerance: 0 })
      const name = leaseName("reset")
      const r = request(name, "a", "2 seconds")
      assert.strictEqual((yield* provider.tryAcquire(r))._tag, "Acquired")
      const renewed = yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(30) })
      expect(Duration.toMillis(renewed.ttl)).toBe(30_000)
      const info = yield* provider.inspect(name)
      const remaining = Duration.toMillis(info.remaining ?? Duration.zero)
      // 30 s from the renewal, plus at most the 1 s `_ts` rounding and the 1 s `Date` rounding.
      expect(remaining).toBeGreaterThan(28_000)
      expect(remaining).toBeLessThanOrEqual(32_000)
      const raw = yield* rawContainer(server(), "distributed-leasing", "renew")
      expect((yield* rawDocument(raw, CosmosLeaseProvider.documentId(name)))?.durationMs).toBe(30_000)
      // Renewing with a shorter duration shortens it: the remaining time is never grown beyond what was asked.
      yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(3) })
      expect(Duration.toMillis((yield* provider.inspect(name)).remaining ?? Duration.zero)).toBeLessThanOrEqual(5_000)
    })
  )

  it.live("a renewal after a break says broken; after expiry, expired; of a deleted document, expired", () =>
    Effect.gen(function* () {
      const provider = yield* make({ clockSkewTolerance: 0 })
      const breaker = yield* make()

      const broken = leaseName("broken")
      const rb = request(broken, "a")
      yield* provider.tryAcquire(rb)
      expect(yield* breaker.breakLease(broken)).toBe(true)
      expect(yield* lossReason(provider, broken, rb.leaseId)).toBe("broken")
      // A second break finds nothing to evict.
      expect(yield* breaker.breakLease(broken)).toBe(false)

      const expired = leaseName("expired")
      const re = request(expired, "a", "100 millis")
      yield* provider.tryAcquire(re)
      // Over for the service by (_ts + 1) s + 100 ms; nobody took it, and the renewal is refused all the same.
      yield* Effect.sleep("2200 millis")
      expect(yield* lossReason(provider, expired, re.leaseId)).toBe("expired")

      const deleted = leaseName("deleted")
      const rd = request(deleted, "a")
      yield* provider.tryAcquire(rd)
      const raw = yield* rawContainer(server(), "distributed-leasing", "renew")
      const id = CosmosLeaseProvider.documentId(deleted)
      yield* Effect.promise(() => raw.item(id, id).delete())
      expect(yield* lossReason(provider, deleted, rd.leaseId)).toBe("expired")
    })
  )

  it.live("a 412 on renew is not a loss by itself: the lease id decides", () =>
    Effect.gen(function* () {
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(() => startFaultProxy(server().port)),
        (p) => Effect.promise(() => p.close())
      )
      const provider = yield* make({ endpoint: proxy.endpoint })
      const name = leaseName("lost-answer")
      const r = request(name, "a")
      yield* provider.tryAcquire(r)
      // Someone rewrites the document keeping our lease id: what an earlier renewal of ours that landed without its
      // answer looks like. Our cached ETag is now stale.
      const raw = yield* rawContainer(server(), "distributed-leasing", "renew")
      const id = CosmosLeaseProvider.documentId(name)
      const doc = yield* rawDocument(raw, id)
      yield* Effect.promise(() => raw.item(id, id).replace({ ...doc, id, rev: Number(doc?.rev) + 1 }))

      proxy.reset()
      const renewed = yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) })
      expect(Duration.toMillis(renewed.ttl)).toBe(10_000)
      expect(proxy.itemRequests()).toEqual(["replace", "read", "replace"])
      // And the next renewal is back to one request.
      proxy.reset()
      yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) })
      expect(proxy.itemRequests()).toEqual(["replace"])
    })
  )

  it.live("a read older than our own last write (a lagging replica) is not taken as a loss", () =>
    Effect.gen(function* () {
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(() => startFaultProxy(server().port)),
        (p) => Effect.promise(() => p.close())
      )
      const provider = yield* make({ endpoint: proxy.endpoint })
      const name = leaseName("lagging")
      const r = request(name, "a")
      yield* provider.tryAcquire(r)
      yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) })
      const raw = yield* rawContainer(server(), "distributed-leasing", "renew")
      const current = yield* rawDocument(raw, CosmosLeaseProvider.documentId(name))
      // The service refuses our write (412), and the read that follows returns the version before our grant, when
      // someone else held the lease.
      const before = { ...current, fence: Number(current?.fence) - 1, rev: 1, holderId: "previous", leaseId: "old" }
      proxy.fault = (x) =>
        x.kind === "replace" ? { status: 412 } : x.kind === "read" ? { status: 200, body: before } : undefined
      const error = yield* Effect.flip(provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) }))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag === "ProviderUnavailableError") expect(error.isRetryable).toBe(true)
      // Once the service answers truthfully, the renewal goes through: the lease was never lost.
      proxy.fault = undefined
      yield* provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) })
    })
  )
})
