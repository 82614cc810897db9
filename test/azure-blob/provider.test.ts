/**
 * The Blob provider against Azurite: round trips, races, fencing, metadata, stale holders, durations.
 *
 * None of these waits for a lease to expire (Azure's shortest is 15 s; the conformance suite covers expiry), so
 * they are fast and run concurrently, each in its own container or on its own names. Round trips are counted by
 * a recording proxy in front of Azurite (one per test).
 */
import { randomUUID } from "node:crypto"
import { afterAll, assert, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { BlobLeaseProvider } from "../../src/azure/blob/index.ts"
import { LeaseManager } from "../../src/LeaseManager.ts"
import { type AcquireResult, LeaseProvider, type LeaseProviderShape } from "../../src/LeaseProvider.ts"
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

const token = (result: AcquireResult): bigint => {
  if (result._tag === "Acquired") return result.fencingToken
  return assert.fail(`expected a grant, got Held (holder ${result.holderId ?? "unknown"})`)
}

describe.concurrent("azure-blob provider (Azurite)", () => {
  it.live("uses the documented number of requests per operation", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("trips")
      const measure = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function* () {
          proxy.reset()
          const value = yield* effect
          return { value, operations: proxy.operations() }
        })

      const first = request(name, "holder-a")
      const created = yield* measure(p.tryAcquire(first))
      // First use of a name, in a container that does not exist yet: the read finds it missing.
      expect(created.operations).toEqual(["GetBlobProperties", "CreateContainer", "PutBlob", "AcquireLease"])
      expect(token(created.value)).toBe(1n)

      const busy = yield* measure(p.tryAcquire(request(name, "holder-b")))
      expect(busy.operations).toEqual(["GetBlobProperties"])
      expect(busy.value).toEqual({ _tag: "Held", holderId: "holder-a" })

      const renewed = yield* measure(p.renew({ name, leaseId: first.leaseId, duration: Duration.seconds(15) }))
      expect(renewed.operations).toEqual(["RenewLease"])
      expect(Duration.toSeconds(renewed.value.ttl)).toBe(15)

      const heldInfo = yield* measure(p.inspect(name))
      expect(heldInfo.operations).toEqual(["GetBlobProperties", "GetBlobProperties"])
      expect(heldInfo.value).toMatchObject({
        held: true,
        holderId: "holder-a",
        leaseId: first.leaseId,
        fencingToken: 1n
      })

      const released = yield* measure(p.release({ name, leaseId: first.leaseId }))
      expect(released.operations).toEqual(["ReleaseLease"])
      expect(released.value).toBe(true)

      const freeInfo = yield* measure(p.inspect(name))
      expect(freeInfo.operations).toEqual(["GetBlobProperties"])
      expect(freeInfo.value).toEqual({ name, held: false, fencingToken: 1n })

      // The usual acquire: the blob exists, the container was created once already.
      const second = yield* measure(p.tryAcquire(request(name, "holder-b")))
      expect(second.operations).toEqual(["GetBlobProperties", "AcquireLease", "SetBlobMetadata"])
      expect(token(second.value)).toBe(2n)

      const broken = yield* measure(p.breakLease(name))
      expect(broken.operations).toEqual(["GetBlobProperties", "BreakLease"])
      expect(broken.value).toBe(true)
      const again = yield* measure(p.breakLease(name))
      expect(again.operations).toEqual(["GetBlobProperties"])
      expect(again.value).toBe(false)

      const unknown = yield* measure(p.inspect(leaseName("never-used")))
      expect(unknown.operations).toEqual(["GetBlobProperties"])
      expect(unknown.value.held).toBe(false)
      expect(unknown.value.fencingToken).toBeUndefined()

      // First use of another name, the container existing: no container request at all.
      const fresh = yield* measure(p.tryAcquire(request(leaseName("fresh"), "holder-a")))
      expect(fresh.operations).toEqual(["GetBlobProperties", "PutBlob", "AcquireLease"])
      expect(token(fresh.value)).toBe(1n)
    })
  )

  it.live("creates its container once, however many first acquires run at the same time", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const results = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => request(leaseName(`first-${i}`), "holder")),
        (r) => p.tryAcquire(r),
        { concurrency: "unbounded" }
      )
      expect(results.map(token)).toEqual(Array.from({ length: 8 }, () => 1n))
      expect(proxy.operations().filter((op) => op === "CreateContainer")).toHaveLength(1)
    })
  )

  it.live("processes racing to create the container and the blob: exactly one wins, nobody fails", () =>
    Effect.gen(function* () {
      for (let round = 0; round < 3; round++) {
        // Separate provider instances with separate clients: as separate processes look to the service.
        const containerName = freshContainer()
        const providers = yield* Effect.forEach(Array.from({ length: 6 }), () =>
          provider(azurite().connectionString, { containerName })
        )
        const name = leaseName("race")
        const outcomes = yield* Effect.forEach(
          providers,
          (p, i) =>
            p.tryAcquire(request(name, `process-${i}`)).pipe(
              Effect.map((result) => (result._tag === "Acquired" ? result.fencingToken : result._tag)),
              // Losing the creation race may surface as a conflict, which the core treats as "held".
              Effect.catchTag("LeaseConflictError", () => Effect.succeed("Conflict" as const))
            ),
          { concurrency: "unbounded" }
        )
        const winners = outcomes.filter((o) => typeof o === "bigint")
        expect(winners).toHaveLength(1)
        expect(outcomes.every((o) => typeof o === "bigint" || o === "Held" || o === "Conflict")).toBe(true)
        const winner = outcomes.findIndex((o) => typeof o === "bigint")
        const info = yield* (providers[0] as LeaseProviderShape).inspect(name)
        // The creator records token 1 with the blob; if another process leased the new blob first, that one
        // counted on from it (2), and token 1 was never handed out.
        expect(info).toMatchObject({ held: true, holderId: `process-${winner}`, fencingToken: winners[0] })
        expect([1n, 2n]).toContain(winners[0])
      }
    })
  )

  it.live("a stale holder's renew and release after a break fail without harming the new holder", () =>
    Effect.gen(function* () {
      const p = yield* provider(azurite().connectionString)
      const name = leaseName("stale")
      const stale = request(name, "holder-a")
      const first = token(yield* p.tryAcquire(stale))
      expect(yield* p.breakLease(name)).toBe(true)

      const broken = yield* Effect.flip(p.renew({ name, leaseId: stale.leaseId, duration: Duration.seconds(15) }))
      expect(broken._tag).toBe("LeaseLostError")
      if (broken._tag === "LeaseLostError") {
        expect(broken.reason).toBe("broken")
        expect(broken.isRetryable).toBe(false)
      }

      const current = request(name, "holder-b")
      const second = token(yield* p.tryAcquire(current))
      expect(second).toBeGreaterThan(first)

      expect(yield* p.release({ name, leaseId: stale.leaseId })).toBe(false)
      const stolen = yield* Effect.flip(p.renew({ name, leaseId: stale.leaseId, duration: Duration.seconds(15) }))
      expect(stolen._tag).toBe("LeaseLostError")
      if (stolen._tag === "LeaseLostError") expect(stolen.reason).toBe("stolen")

      const info = yield* p.inspect(name)
      expect(info).toMatchObject({ held: true, holderId: "holder-b", leaseId: current.leaseId, fencingToken: second })
      const renewed = yield* p.renew({ name, leaseId: current.leaseId, duration: Duration.seconds(15) })
      expect(Duration.toSeconds(renewed.ttl)).toBe(15)
    })
  )

  it.live("durations Azure cannot hold are rejected before any request is sent", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const manager = yield* LeaseManager.make({ holderId: "holder-a" }).pipe(Effect.provideService(LeaseProvider, p))
      const name = leaseName("duration")
      for (const duration of ["14 seconds", "14999 millis", "61 seconds", "10 minutes"] as const) {
        const error = yield* Effect.flip(Effect.scoped(manager.acquire(name, { duration })))
        expect(error._tag).toBe("InvalidLeaseOptionsError")
        if (error._tag === "InvalidLeaseOptionsError") {
          expect(error.field).toBe("duration")
          expect(error.message).toContain("from 15s to 1m")
        }
      }
      // The provider refuses them too when called directly (not through the core).
      const direct = yield* Effect.flip(p.tryAcquire(request(name, "holder-a", { duration: Duration.seconds(10) })))
      expect(direct._tag).toBe("InvalidLeaseOptionsError")
      expect(proxy.operations()).toEqual([])

      // A fraction of a second is rounded down: the grant reported is never longer than what Azure holds.
      const result = yield* p.tryAcquire(request(name, "holder-a", { duration: Duration.millis(20_900) }))
      assert.strictEqual(result._tag, "Acquired")
      if (result._tag === "Acquired") expect(Duration.toSeconds(result.ttl)).toBe(20)
    })
  )

  it.live("fencing tokens increase across holders and provider instances, and survive release", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p1 = yield* provider(azurite().connectionString, { containerName })
      const p2 = yield* provider(azurite().connectionString, { containerName })
      const name = leaseName("fence")
      const tokens: Array<bigint> = []
      for (const [p, holder] of [
        [p1, "a"],
        [p2, "b"],
        [p1, "c"],
        [p2, "a"]
      ] as const) {
        const r = request(name, holder)
        tokens.push(token(yield* p.tryAcquire(r)))
        expect(yield* p.release({ name, leaseId: r.leaseId })).toBe(true)
      }
      expect(tokens).toEqual([1n, 2n, 3n, 4n])
      expect(yield* p1.inspect(name)).toEqual({ name, held: false, fencingToken: 4n })
    })
  )

  it.live("other metadata keys on the blob are preserved; lease metadata is replaced per grant", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const name = leaseName("meta")
      const sdk = sdkContainer(azurite().connectionString, containerName)
      yield* Effect.promise(() => sdk.createIfNotExists())
      const blob = sdk.getBlockBlobClient(BlobLeaseProvider.blobName("lease-", name))
      yield* Effect.promise(() => blob.upload("", 0, { metadata: { owner: "ops", costcentre: "42" } }))

      const withDefaults = yield* provider(azurite().connectionString, {
        containerName,
        metadata: { app: "billing", region: "default" }
      })
      const first = request(name, "holder-a", { metadata: { region: "westeurope", "build id": "7 ü" } })
      expect(token(yield* withDefaults.tryAcquire(first))).toBe(1n)
      const stored = yield* Effect.promise(() => blob.getProperties())
      expect(stored.metadata).toMatchObject({ owner: "ops", costcentre: "42", dl_fence: "1", dl_holder: "holder-a" })
      const info = yield* withDefaults.inspect(name)
      expect(info.metadata).toEqual({ app: "billing", region: "westeurope", "build id": "7 ü" })
      expect(info.acquiredAt).toBeInstanceOf(Date)
      expect(yield* withDefaults.release({ name, leaseId: first.leaseId })).toBe(true)

      const plain = yield* provider(azurite().connectionString, { containerName })
      expect(token(yield* plain.tryAcquire(request(name, "holder-b")))).toBe(2n)
      const after = yield* Effect.promise(() => blob.getProperties())
      expect(after.metadata?.owner).toBe("ops")
      expect(after.metadata?.costcentre).toBe("42")
      expect(after.metadata?.dl_metadata).toBeUndefined()
      expect((yield* plain.inspect(name)).metadata).toBeUndefined()
    })
  )

  it.live("any lease name maps to its own valid blob", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* provider(azurite().connectionString, { containerName })
      const base = randomUUID().slice(0, 8)
      const names = [
        "jobs/nightly",
        "Jobs/Nightly",
        "jobs~2Fnightly",
        "trailing.",
        "trailing~2E",
        "../up",
        "a b",
        "100%",
        "q?x#y&z=1",
        "back\\slash",
        "Ünïcode/🚀",
        "lone\uD800surrogate",
        "x".repeat(255)
      ].map((n) => `${base}${n}`.slice(0, 255))
      const results = yield* Effect.forEach(names, (n) => p.tryAcquire(request(n, "holder")), {
        concurrency: "unbounded"
      })
      // Distinct blobs: every name was free, so every one was granted its first token.
      expect(results.map(token)).toEqual(names.map(() => 1n))
      const listed: Array<string> = []
      const sdk = sdkContainer(azurite().connectionString, containerName)
      yield* Effect.promise(async () => {
        for await (const item of sdk.listBlobsFlat()) listed.push(item.name)
      })
      expect(new Set(listed)).toEqual(new Set(names.map((n) => BlobLeaseProvider.blobName("lease-", n))))
      expect(listed).toContain(`lease-${base}jobs~2Fnightly`)
    })
  )

  it.live("a prefix puts the blobs under it", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* provider(azurite().connectionString, { containerName, prefix: "leases/prod/" })
      const name = leaseName("prefixed")
      token(yield* p.tryAcquire(request(name, "holder")))
      const sdk = sdkContainer(azurite().connectionString, containerName)
      const properties = yield* Effect.promise(() =>
        sdk.getBlobClient(`leases/prod/${BlobLeaseProvider.encodeName(name)}`).getProperties()
      )
      expect(properties.leaseState).toBe("leased")
    })
  )

  it.live("a tampered fencing counter stops acquisition instead of restarting the count", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* provider(azurite().connectionString, { containerName })
      const name = leaseName("tampered")
      const r = request(name, "holder-a")
      token(yield* p.tryAcquire(r))
      yield* p.release({ name, leaseId: r.leaseId })
      const blob = sdkContainer(azurite().connectionString, containerName).getBlobClient(
        BlobLeaseProvider.blobName("lease-", name)
      )
      yield* Effect.promise(() => blob.setMetadata({ dl_fence: "one" }))
      const error = yield* Effect.flip(p.tryAcquire(request(name, "holder-b")))
      expect(error._tag).toBe("ProviderUnavailableError")
      if (error._tag === "ProviderUnavailableError") {
        expect(error.isRetryable).toBe(false)
        expect(error.detail).toContain("dl_fence")
      }
      // Refused before taking the lease: nothing is left held.
      expect((yield* p.inspect(name)).held).toBe(false)
    })
  )

  it.live("a lease id that is not a GUID is mapped to one, consistently across operations", () =>
    Effect.gen(function* () {
      const p = yield* provider(azurite().connectionString)
      const name = leaseName("ids")
      const r = request(name, "holder-a", { leaseId: "my-own-lease-id" })
      const result = yield* p.tryAcquire(r)
      assert.strictEqual(result._tag, "Acquired")
      if (result._tag === "Acquired") expect(result.leaseId).toBe("my-own-lease-id")
      yield* p.renew({ name, leaseId: "my-own-lease-id", duration: Duration.seconds(15) })
      expect((yield* p.inspect(name)).leaseId).toBe("my-own-lease-id")
      expect(yield* p.release({ name, leaseId: "my-own-lease-id" })).toBe(true)
    })
  )

  it.live("a container deleted while running is created again by the next acquire", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const containerName = freshContainer()
      const p = yield* provider(proxy.connectionString, { containerName })
      const name = leaseName("gone")
      token(yield* p.tryAcquire(request(name, "holder")))
      yield* Effect.promise(() => sdkContainer(azurite().connectionString, containerName).delete())
      proxy.reset()
      // The memoised creation is forgotten when the container turns out to be gone, and done again.
      const again = yield* p.tryAcquire(request(name, "holder"))
      expect(proxy.operations()).toEqual(["GetBlobProperties", "PutBlob", "CreateContainer", "PutBlob", "AcquireLease"])
      // Deleting the container deleted the counter with the blob: documented as what resets fencing.
      expect(token(again)).toBe(1n)
    })
  )

  it.live("building the layer sends no request, even with container creation on", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const layer = BlobLeaseProvider.layer({
        containerName: freshContainer(),
        connectionString: Redacted.make(proxy.connectionString),
        createContainerIfNotExists: true
      })
      const name = yield* Effect.map(LeaseProvider, (p) => p.name).pipe(Effect.provide(layer))
      expect(name).toBe("azure-blob")
      expect(proxy.operations()).toEqual([])
    })
  )
})
