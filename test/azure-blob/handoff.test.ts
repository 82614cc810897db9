/**
 * Handoff and claim on Azure Blob leases, against Azurite: requests per operation (counted by a recording proxy),
 * the reservation in the metadata, what everyone else sees meanwhile, every refusal of a claim, failures after the
 * commit point (injected by the proxy), races with a renewal and with an operator's break, and the claim window
 * being the lease's own duration.
 */
import { randomUUID } from "node:crypto"
import { afterAll, assert, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Logger, Result } from "effect"
import { blobName, defaultPrefix } from "../../src/azure/blob/names.ts"
import type { ClaimRequest, HandoffRequest, LeaseProviderShape } from "../../src/LeaseProvider.ts"
import { type Azurite, startAzurite } from "../support/azurite.ts"
import { freshContainer, leaseName, provider, proxyTo, request, sdkContainer } from "./helpers.ts"

let server: Azurite | undefined

beforeAll(async () => {
  server = await startAzurite()
})

afterAll(async () => {
  await server?.stop()
})

const azurite = (): Azurite => {
  if (server === undefined) throw new Error("Azurite is not running")
  return server
}

const ops = (p: LeaseProviderShape) => {
  const { handoff, claim } = p
  if (handoff === undefined || claim === undefined) throw new Error("the provider does not offer handoff")
  return { handoff, claim }
}

const handing = (name: string, leaseId: string, claimWindow: Duration.Input = "15 seconds"): HandoffRequest => ({
  name,
  leaseId,
  successorHolderId: "holder-b",
  transferToken: randomUUID(),
  claimWindow: Duration.fromInputUnsafe(claimWindow)
})

const claiming = (name: string, transferToken: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest => ({
  name,
  transferToken,
  holderId: "holder-b",
  leaseId: randomUUID(),
  duration: Duration.seconds(15),
  ...overrides
})

/** A lease granted to holder-a: its lease id and fencing token. */
const granted = (p: LeaseProviderShape, name: string, metadata?: Record<string, string>) =>
  Effect.gen(function* () {
    const first = request(name, "holder-a", metadata === undefined ? {} : { metadata })
    const result = yield* p.tryAcquire(first)
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

describe.concurrent("azure-blob handoff (Azurite)", () => {
  it.live("handoff and claim are four requests each; the claim records the next fencing token", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const containerName = freshContainer()
      const p = yield* provider(proxy.connectionString, { containerName })
      const name = leaseName("trips")
      const grant = yield* granted(p, name, { region: "eu" })
      const blob = sdkContainer(azurite().connectionString, containerName).getBlockBlobClient(
        blobName(defaultPrefix, name)
      )

      const handoff = handing(name, grant.leaseId)
      proxy.reset()
      yield* ops(p).handoff(handoff)
      expect(proxy.operations()).toEqual(["GetBlobProperties", "ChangeLease", "RenewLease", "SetBlobMetadata"])
      const reserved = yield* Effect.promise(() => blob.getProperties())
      expect(reserved.leaseState).toBe("leased")
      expect(reserved.metadata).toMatchObject({
        dl_fence: String(grant.fencingToken),
        dl_holder: "holder-b",
        dl_lease_id: handoff.transferToken,
        dl_pending: "1",
        dl_duration: "15"
      })

      proxy.reset()
      const claimed = yield* ops(p).claim(claiming(name, handoff.transferToken))
      expect(proxy.operations()).toEqual(["GetBlobProperties", "ChangeLease", "RenewLease", "SetBlobMetadata"])
      expect(claimed.fencingToken).toBe(grant.fencingToken + 1n)
      expect(Duration.toSeconds(claimed.ttl)).toBe(15)
      const after = yield* Effect.promise(() => blob.getProperties())
      expect(after.metadata?.dl_fence).toBe(String(grant.fencingToken + 1n))
      expect(after.metadata?.dl_lease_id).toBe(claimed.leaseId)
      expect(after.metadata?.dl_pending).toBeUndefined()
      // The claim brought no metadata: the old grant's is kept.
      expect(yield* p.inspect(name)).toMatchObject({
        held: true,
        holderId: "holder-b",
        leaseId: claimed.leaseId,
        fencingToken: grant.fencingToken + 1n,
        metadata: { region: "eu" }
      })
      // The successor's grant is an ordinary lease: renewable with one request, then released.
      proxy.reset()
      yield* p.renew({ name, leaseId: claimed.leaseId, duration: Duration.seconds(15) })
      expect(proxy.operations()).toEqual(["RenewLease"])
      expect(yield* p.release({ name, leaseId: claimed.leaseId })).toBe(true)
    })
  )

  it.live("a claim with another duration than the reservation's acquires again under its id, with that duration", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("duration")
      const grant = yield* granted(p, name)
      const handoff = handing(name, grant.leaseId)
      yield* ops(p).handoff(handoff)
      proxy.reset()
      const claimed = yield* ops(p).claim(
        claiming(name, handoff.transferToken, { duration: Duration.seconds(40), metadata: { build: "42" } })
      )
      expect(proxy.operations()).toEqual(["GetBlobProperties", "ChangeLease", "AcquireLease", "SetBlobMetadata"])
      expect(Duration.toSeconds(claimed.ttl)).toBe(40)
      expect(yield* p.inspect(name)).toMatchObject({ leaseId: claimed.leaseId, metadata: { build: "42" } })
    })
  )

  it.live("the reservation is held by the successor for everyone else; the old lease id is stale", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* provider(azurite().connectionString, { containerName })
      const other = yield* provider(azurite().connectionString, { containerName })
      const name = leaseName("held")
      const grant = yield* granted(p, name)
      const handoff = handing(name, grant.leaseId)
      yield* ops(p).handoff(handoff)
      expect(yield* other.tryAcquire(request(name, "holder-c"))).toEqual({ _tag: "Held", holderId: "holder-b" })
      expect(yield* other.inspect(name)).toMatchObject({
        held: true,
        holderId: "holder-b",
        leaseId: handoff.transferToken,
        fencingToken: grant.fencingToken
      })
      expect(yield* lossReason(p.renew({ name, leaseId: grant.leaseId, duration: Duration.seconds(15) }))).toBe(
        "stolen"
      )
      expect(yield* p.release({ name, leaseId: grant.leaseId })).toBe(false)
      expect(yield* lossReason(ops(p).handoff(handing(name, grant.leaseId)))).toBe("stolen")
      expect((yield* other.inspect(name)).leaseId).toBe(handoff.transferToken)
    })
  )

  it.live("a wrong token, another holder, a claimed token, a broken or released lease: each has its reason", () =>
    Effect.gen(function* () {
      const p = yield* provider(azurite().connectionString)
      const name = leaseName("refusals")
      const grant = yield* granted(p, name)
      const handoff = handing(name, grant.leaseId)
      yield* ops(p).handoff(handoff)
      expect(yield* refusal(ops(p).claim(claiming(name, randomUUID())))).toBe("invalid-token")
      expect(yield* refusal(ops(p).claim(claiming(name, handoff.transferToken, { holderId: "holder-c" })))).toBe(
        "not-successor"
      )
      const first = yield* ops(p).claim(claiming(name, handoff.transferToken))
      expect(yield* refusal(ops(p).claim(claiming(name, handoff.transferToken)))).toBe("invalid-token")
      expect((yield* p.inspect(name)).leaseId).toBe(first.leaseId)

      const broken = leaseName("broken")
      const second = yield* granted(p, broken)
      const handedBroken = handing(broken, second.leaseId)
      yield* ops(p).handoff(handedBroken)
      expect(yield* p.breakLease(broken)).toBe(true)
      const afterBreak = yield* Effect.flip(ops(p).claim(claiming(broken, handedBroken.transferToken)))
      assert.strictEqual(afterBreak._tag, "LeaseTransferError")
      if (afterBreak._tag === "LeaseTransferError") {
        expect(afterBreak.reason).toBe("expired")
        expect(afterBreak.detail).toContain("operator")
      }

      const released = leaseName("released")
      const third = yield* granted(p, released)
      expect(yield* p.release({ name: released, leaseId: third.leaseId })).toBe(true)
      expect(yield* lossReason(ops(p).handoff(handing(released, third.leaseId)))).toBe("expired")
      expect(yield* refusal(ops(p).claim(claiming(released, randomUUID())))).toBe("expired")
      expect(yield* refusal(ops(p).claim(claiming(leaseName("never"), randomUUID())))).toBe("expired")
    })
  )

  it.live("a handoff of a broken lease is `broken`, of a lease someone else took since, `stolen`", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* provider(azurite().connectionString, { containerName })
      const other = yield* provider(azurite().connectionString, { containerName })
      const name = leaseName("broken")
      const grant = yield* granted(p, name)
      expect(yield* other.breakLease(name)).toBe(true)
      expect(yield* lossReason(ops(p).handoff(handing(name, grant.leaseId)))).toBe("broken")
      const taken = yield* other.tryAcquire(request(name, "holder-c"))
      expect(taken._tag).toBe("Acquired")
      expect(yield* lossReason(ops(p).handoff(handing(name, grant.leaseId)))).toBe("stolen")
    })
  )

  it.live("a failure after the change committed is a loss for the old holder; the reservation stays held", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("after-commit")
      const grant = yield* granted(p, name)
      proxy.inject({ status: 500, code: "InternalError", on: "RenewLease" })
      const error = yield* Effect.flip(ops(p).handoff(handing(name, grant.leaseId)))
      assert.strictEqual(error._tag, "LeaseLostError")
      if (error._tag === "LeaseLostError") {
        expect(error.reason).toBe("released")
        expect(error.detail).toContain("transfer token")
      }
      // Nobody can take the orphaned reservation, and the old id cannot come back.
      expect((yield* p.tryAcquire(request(name, "holder-c")))._tag).toBe("Held")
      expect(yield* lossReason(p.renew({ name, leaseId: grant.leaseId, duration: Duration.seconds(15) }))).toBe(
        "stolen"
      )
    })
  )

  it.live("a failure before the change commits changes nothing: the lease is still ours", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("before-commit")
      const grant = yield* granted(p, name)
      proxy.inject({ status: 503, code: "ServerBusy", on: "ChangeLease" })
      const error = yield* Effect.flip(ops(p).handoff(handing(name, grant.leaseId)))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag === "ProviderUnavailableError") {
        expect(error.isRetryable).toBe(true)
        expect(error.operation).toBe("handoff")
      }
      yield* p.renew({ name, leaseId: grant.leaseId, duration: Duration.seconds(15) })
      expect((yield* p.inspect(name)).leaseId).toBe(grant.leaseId)
    })
  )

  it.live("a claim that fails after its change gives the lease back and records no token", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const containerName = freshContainer()
      const p = yield* provider(proxy.connectionString, { containerName })
      const name = leaseName("claim-fails")
      const grant = yield* granted(p, name)
      const handoff = handing(name, grant.leaseId)
      yield* ops(p).handoff(handoff)
      proxy.reset()
      proxy.inject({ status: 500, code: "InternalError", on: "SetBlobMetadata" })
      const error = yield* Effect.flip(ops(p).claim(claiming(name, handoff.transferToken)))
      expect(error._tag).toBe("ProviderUnavailableError")
      expect(proxy.operations()).toEqual([
        "GetBlobProperties",
        "ChangeLease",
        "RenewLease",
        "SetBlobMetadata",
        "ReleaseLease"
      ])
      const blob = sdkContainer(azurite().connectionString, containerName).getBlockBlobClient(
        blobName(defaultPrefix, name)
      )
      const properties = yield* Effect.promise(() => blob.getProperties())
      expect(properties.leaseState).toBe("available")
      expect(properties.metadata?.dl_fence).toBe(String(grant.fencingToken))
      // The next holder counts on from the last token actually handed out.
      const next = yield* p.tryAcquire(request(name, "holder-c"))
      assert.strictEqual(next._tag, "Acquired")
      if (next._tag === "Acquired") expect(next.fencingToken).toBe(grant.fencingToken + 1n)
    })
  )

  it.live("the claim window is the lease's duration: a shorter one is logged and the reservation lasts longer", () =>
    Effect.gen(function* () {
      const p = yield* provider(azurite().connectionString)
      const name = leaseName("window")
      const grant = yield* granted(p, name)
      const warnings: Array<string> = []
      const capture = Logger.make(({ message, logLevel }) => {
        if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
      const handoff = handing(name, grant.leaseId, "5 seconds")
      yield* ops(p)
        .handoff(handoff)
        .pipe(Effect.provide(Logger.layer([capture])))
      expect(warnings.length).toBe(1)
      expect(warnings[0]).toContain("15 s")
      expect(warnings[0]).toContain("5 s")
      // Past the 5 s asked for, the reservation still stands (Azure holds it for the lease's 15 s) and is claimable.
      yield* Effect.sleep("6 seconds")
      expect((yield* p.tryAcquire(request(name, "holder-c")))._tag).toBe("Held")
      const claimed = yield* ops(p).claim(claiming(name, handoff.transferToken))
      expect(claimed.fencingToken).toBe(grant.fencingToken + 1n)
    })
  )

  it.live("racing a renewal of the old id: the handoff commits and a renewal after it is refused", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const holder = yield* provider(azurite().connectionString, { containerName })
      const renewer = yield* provider(azurite().connectionString, { containerName })
      for (let i = 0; i < 5; i++) {
        const name = leaseName("race-renew")
        const grant = yield* granted(holder, name)
        const handoff = handing(name, grant.leaseId)
        const [renewed, handed] = yield* Effect.all(
          [
            Effect.result(renewer.renew({ name, leaseId: grant.leaseId, duration: Duration.seconds(15) })),
            Effect.result(ops(holder).handoff(handoff))
          ],
          { concurrency: "unbounded" }
        )
        // A renewal never changes the lease id or the metadata, so the handoff always commits.
        assert.isTrue(Result.isSuccess(handed))
        if (Result.isFailure(renewed)) {
          const error = renewed.failure
          expect(error._tag === "LeaseLostError" ? error.reason : error._tag).toBe("stolen")
        }
        expect((yield* renewer.inspect(name)).leaseId).toBe(handoff.transferToken)
        expect((yield* ops(renewer).claim(claiming(name, handoff.transferToken))).fencingToken).toBe(
          grant.fencingToken + 1n
        )
      }
    })
  )

  it.live("racing an operator's break on another provider: never two holders, a broken reservation stays broken", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const holder = yield* provider(azurite().connectionString, { containerName })
      const operator = yield* provider(azurite().connectionString, { containerName })
      for (let i = 0; i < 5; i++) {
        const name = leaseName("race-break")
        const grant = yield* granted(holder, name)
        const handoff = handing(name, grant.leaseId)
        const [handed, broken] = yield* Effect.all(
          [Effect.result(ops(holder).handoff(handoff)), operator.breakLease(name)],
          { concurrency: "unbounded" }
        )
        expect(broken).toBe(true)
        if (Result.isSuccess(handed)) {
          expect(yield* refusal(ops(operator).claim(claiming(name, handoff.transferToken)))).toBe("expired")
        } else {
          const error = handed.failure
          expect(error._tag === "LeaseLostError" ? error.reason : error._tag).toBe("broken")
        }
        expect((yield* operator.inspect(name)).held).toBe(false)
      }
    })
  )
})
