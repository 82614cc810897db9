/**
 * Handoff and claim against the Cosmos test server: the reservation document, requests per operation (counted by
 * a proxy), what everyone else sees while the reservation stands, the old lease id going stale, every refusal of a
 * claim, the `412` paths, and a handoff racing an operator's break from another provider.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import type { AcquireRequest, ClaimRequest, HandoffRequest, LeaseProviderShape } from "../../src/index.ts"
import { type FaultProxy, startFaultProxy } from "./faultProxy.ts"
import { leaseName, options, rawContainer, rawDocument, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()
const containerName = "handoff"

const make = (endpoint?: string) =>
  CosmosLeaseProvider.make(options(server(), { containerName, ...(endpoint === undefined ? {} : { endpoint }) }))

const withProxy = Effect.acquireRelease(
  Effect.promise(() => startFaultProxy(server().port)),
  (p) => Effect.promise(() => p.close())
)

const counted = <A, E, R>(proxy: FaultProxy, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    proxy.reset()
    const value = yield* effect
    return { value, requests: proxy.itemRequests() }
  })

const acquireRequest = (name: string, holderId = "holder-a", metadata?: Record<string, string>): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.seconds(10),
  metadata
})

const handoffRequest = (name: string, leaseId: string, windowMs = 5_000): HandoffRequest => ({
  name,
  leaseId,
  successorHolderId: "holder-b",
  transferToken: randomUUID(),
  claimWindow: Duration.millis(windowMs)
})

const claimRequest = (name: string, transferToken: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
  name,
  transferToken,
  holderId: "holder-b",
  leaseId: randomUUID(),
  duration: Duration.seconds(10),
  ...overrides
})

const ops = (provider: LeaseProviderShape) => {
  const { handoff, claim } = provider
  if (handoff === undefined || claim === undefined) throw new Error("the provider does not offer handoff")
  return { handoff, claim }
}

/** A lease acquired by `provider` for holder-a. */
const acquired = (provider: LeaseProviderShape, name: string, metadata?: Record<string, string>) =>
  Effect.gen(function* () {
    const request = acquireRequest(name, "holder-a", metadata)
    const result = yield* provider.tryAcquire(request)
    if (result._tag !== "Acquired") return yield* Effect.die(new Error("not acquired"))
    return result
  })

const lossReason = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (error) =>
    error._tag === "LeaseLostError" && "reason" in error ? error.reason : `not a loss: ${error._tag}`
  )

const refusal = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (error) =>
    error._tag === "LeaseTransferError" && "reason" in error ? error.reason : `not a refusal: ${error._tag}`
  )

describe("azure-cosmos handoff", () => {
  it.live("writes the reservation in one conditional replace; the claim of another provider is read + replace", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const holder = yield* make(proxy.endpoint)
      const successor = yield* make(proxy.endpoint)
      const raw = yield* rawContainer(server(), "distributed-leasing", containerName)
      const name = leaseName("steady")
      const id = CosmosLeaseProvider.documentId(name)
      const grant = yield* acquired(holder, name, { region: "eu" })
      const before = yield* rawDocument(raw, id)

      const request = handoffRequest(name, grant.leaseId, 4_000)
      const sentAt = Date.now()
      const handed = yield* counted(proxy, ops(holder).handoff(request))
      expect(handed.requests).toEqual(["replace"])
      const reservation = yield* rawDocument(raw, id)
      expect(reservation).toMatchObject({
        holderId: "holder-b",
        leaseId: request.transferToken,
        pending: true,
        durationMs: 4_000,
        // The fence, grant time and metadata stay the old grant's until the claim.
        fence: before?.fence,
        acquiredAt: before?.acquiredAt,
        metadata: { region: "eu" },
        rev: Number(before?.rev) + 1
      })
      const reservedAt = Date.parse(String(reservation?.reservedAt))
      expect(Math.abs(reservedAt - sentAt)).toBeLessThan(1_000)

      const claimed = yield* counted(proxy, ops(successor).claim(claimRequest(name, request.transferToken)))
      expect(claimed.requests).toEqual(["read", "replace"])
      expect(claimed.value.fencingToken).toBe(grant.fencingToken + 1n)
      expect(Duration.toMillis(claimed.value.ttl)).toBe(10_000)
      const after = yield* rawDocument(raw, id)
      expect(after).toMatchObject({ holderId: "holder-b", leaseId: claimed.value.leaseId, durationMs: 10_000 })
      expect(after?.fence).toBe(Number(before?.fence) + 1)
      // Nothing of the reservation survives in the grant; the metadata is kept (the claim brought none).
      expect(after?.pending).toBeUndefined()
      expect(after?.reservedAt).toBeUndefined()
      expect(after?.metadata).toEqual({ region: "eu" })

      // The successor's renewals are one request again: it cached its own write.
      const renewed = yield* counted(
        proxy,
        successor.renew({ name, leaseId: claimed.value.leaseId, duration: Duration.seconds(10) })
      )
      expect(renewed.requests).toEqual(["replace"])
    })
  )

  it.live("a provider that has the reservation cached claims with a single replace; metadata can be replaced", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const provider = yield* make(proxy.endpoint)
      const name = leaseName("cached")
      const grant = yield* acquired(provider, name, { region: "eu" })
      const request = handoffRequest(name, grant.leaseId)
      yield* ops(provider).handoff(request)
      const claimed = yield* counted(
        proxy,
        ops(provider).claim(claimRequest(name, request.transferToken, { metadata: { build: "42" } }))
      )
      expect(claimed.requests).toEqual(["replace"])
      expect((yield* provider.inspect(name)).metadata).toEqual({ build: "42" })
    })
  )

  it.live("the reservation is held by the successor for everyone else; the old lease id is stale", () =>
    Effect.gen(function* () {
      const holder = yield* make()
      const other = yield* make()
      const name = leaseName("held")
      const grant = yield* acquired(holder, name)
      const request = handoffRequest(name, grant.leaseId, 4_000)
      yield* ops(holder).handoff(request)

      const attempt = yield* other.tryAcquire(acquireRequest(name, "holder-c"))
      assert.strictEqual(attempt._tag, "Held")
      if (attempt._tag === "Held") {
        expect(attempt.holderId).toBe("holder-b")
        // The window, as the service's clock bounds it: at most one second more than asked.
        expect(Duration.toMillis(attempt.remaining ?? Duration.zero)).toBeLessThanOrEqual(5_000)
        expect(Duration.toMillis(attempt.remaining ?? Duration.zero)).toBeGreaterThan(2_000)
      }
      const info = yield* other.inspect(name)
      expect(info).toMatchObject({ held: true, holderId: "holder-b", leaseId: request.transferToken })
      expect(info.fencingToken).toBe(grant.fencingToken)

      // The old lease id can neither renew, release, nor hand off again.
      for (const provider of [holder, other]) {
        const renewal = provider.renew({ name, leaseId: grant.leaseId, duration: Duration.seconds(10) })
        expect(yield* lossReason(renewal)).toBe("stolen")
        expect(yield* provider.release({ name, leaseId: grant.leaseId })).toBe(false)
        expect(yield* lossReason(ops(provider).handoff(handoffRequest(name, grant.leaseId)))).toBe("stolen")
      }
      expect((yield* other.inspect(name)).leaseId).toBe(request.transferToken)
    })
  )

  it.live("a wrong token, another holder, a claimed token, a lapsed or broken reservation: each has its reason", () =>
    Effect.gen(function* () {
      const holder = yield* make()
      const successor = yield* make()
      const name = leaseName("refusals")
      const grant = yield* acquired(holder, name)
      const request = handoffRequest(name, grant.leaseId, 1_000)
      yield* ops(holder).handoff(request)
      expect(yield* refusal(ops(successor).claim(claimRequest(name, randomUUID())))).toBe("invalid-token")
      expect(
        yield* refusal(ops(successor).claim(claimRequest(name, request.transferToken, { holderId: "holder-c" })))
      ).toBe("not-successor")
      // The window is over (by the service's clock, refined by ours): the claim is refused, and a taker gets it.
      yield* Effect.sleep("1500 millis")
      expect(yield* refusal(ops(successor).claim(claimRequest(name, request.transferToken)))).toBe("expired")
      const taken = yield* successor.tryAcquire(acquireRequest(name, "holder-c"))
      assert.strictEqual(taken._tag, "Acquired")
      if (taken._tag === "Acquired") expect(taken.fencingToken).toBe(grant.fencingToken + 1n)
      // The token of a lapsed reservation that someone else took since: not a reservation any more.
      expect(yield* refusal(ops(successor).claim(claimRequest(name, request.transferToken)))).toBe("invalid-token")

      const broken = leaseName("broken")
      const second = yield* acquired(holder, broken)
      const handed = handoffRequest(broken, second.leaseId)
      yield* ops(holder).handoff(handed)
      expect(yield* holder.breakLease(broken)).toBe(true)
      const afterBreak = yield* Effect.flip(ops(successor).claim(claimRequest(broken, handed.transferToken)))
      assert.strictEqual(afterBreak._tag, "LeaseTransferError")
      if (afterBreak._tag === "LeaseTransferError") {
        expect(afterBreak.reason).toBe("expired")
        expect(afterBreak.detail).toContain("operator")
      }

      const twice = leaseName("twice")
      const third = yield* acquired(holder, twice)
      const once = handoffRequest(twice, third.leaseId)
      yield* ops(holder).handoff(once)
      const first = yield* ops(successor).claim(claimRequest(twice, once.transferToken))
      expect(yield* refusal(ops(holder).claim(claimRequest(twice, once.transferToken)))).toBe("invalid-token")
      expect((yield* holder.inspect(twice)).leaseId).toBe(first.leaseId)

      const missing = leaseName("missing")
      expect(yield* refusal(ops(successor).claim(claimRequest(missing, randomUUID())))).toBe("expired")
    })
  )

  it.live("a handoff of a lease that is gone, taken or broken is a LeaseLostError with the reason", () =>
    Effect.gen(function* () {
      const holder = yield* make()
      const other = yield* make()
      const brokenName = leaseName("broken")
      const broken = yield* acquired(holder, brokenName)
      expect(yield* other.breakLease(brokenName)).toBe(true)
      expect(yield* lossReason(ops(holder).handoff(handoffRequest(brokenName, broken.leaseId)))).toBe("broken")

      const releasedName = leaseName("released")
      const released = yield* acquired(holder, releasedName)
      yield* holder.release({ name: releasedName, leaseId: released.leaseId })
      expect(yield* lossReason(ops(holder).handoff(handoffRequest(releasedName, released.leaseId)))).toBe("expired")

      const missingName = leaseName("missing")
      expect(yield* lossReason(ops(holder).handoff(handoffRequest(missingName, randomUUID())))).toBe("expired")
    })
  )

  it.live("a stale cached ETag costs a 412 and a read; a lease still ours is then handed off (3 requests)", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const holder = yield* make(proxy.endpoint)
      // The same holder's lease renewed through another provider (another process of the same holder id, or a
      // renewal whose answer was lost): the holder's cached ETag is stale.
      const twin = yield* make(proxy.endpoint)
      const name = leaseName("stale-etag")
      const grant = yield* acquired(holder, name)
      yield* twin.renew({ name, leaseId: grant.leaseId, duration: Duration.seconds(10) })
      const request = handoffRequest(name, grant.leaseId)
      const handed = yield* counted(proxy, ops(holder).handoff(request))
      expect(handed.requests).toEqual(["replace", "read", "replace"])
      expect((yield* twin.inspect(name)).leaseId).toBe(request.transferToken)
    })
  )

  it.live("racing an operator's break on another provider: never two holders, never a claim of an evicted lease", () =>
    Effect.gen(function* () {
      const holder = yield* make()
      const operator = yield* make()
      const successor = yield* make()
      const outcomes = { handoffFirst: 0, breakFirst: 0 }
      for (let i = 0; i < 10; i++) {
        const name = leaseName("race-break")
        const grant = yield* acquired(holder, name)
        const request = handoffRequest(name, grant.leaseId)
        const [handed, broken] = yield* Effect.all(
          [Effect.result(ops(holder).handoff(request)), operator.breakLease(name)],
          { concurrency: "unbounded" }
        )
        expect(broken).toBe(true)
        if (Result.isSuccess(handed)) {
          outcomes.handoffFirst++
          expect(yield* refusal(ops(successor).claim(claimRequest(name, request.transferToken)))).toBe("expired")
        } else {
          outcomes.breakFirst++
          const error = handed.failure
          expect(error._tag === "LeaseLostError" ? error.reason : error._tag).toBe("broken")
        }
        expect((yield* successor.inspect(name)).held).toBe(false)
      }
      expect(outcomes.handoffFirst + outcomes.breakFirst).toBe(10)
    })
  )
})
