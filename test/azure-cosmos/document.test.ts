/**
 * The lease document as stored: its shape through grant, release and break (kept, with its fence), names that
 * are not valid Cosmos ids, a foreign document under our id, a custom partition key path, the optional clean-up
 * TTL, and a document re-created after deletion continuing above its old fencing tokens.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import type { AcquireRequest } from "../../src/index.ts"
import { leaseName, options, rawContainer, rawDocument, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const request = (
  name: string,
  holderId: string,
  extra: Partial<Pick<AcquireRequest, "metadata">> & { readonly duration?: Duration.Input } = {}
): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.fromInputUnsafe(extra.duration ?? "10 seconds"),
  metadata: extra.metadata
})

const make = (overrides: Parameters<typeof options>[1] = {}) =>
  CosmosLeaseProvider.make(options(server(), { containerName: "documents", ...overrides }))

describe("azure-cosmos lease document", () => {
  it.live("grant, release and break keep one document and its fence; nothing stores an absolute expiry", () =>
    Effect.gen(function* () {
      const provider = yield* make()
      const raw = yield* rawContainer(server(), "distributed-leasing", "documents")
      const name = leaseName("shape")
      const id = CosmosLeaseProvider.documentId(name)
      const r = request(name, "holder-a", { metadata: { region: "westeurope" } })
      const granted = yield* provider.tryAcquire(r)
      assert.strictEqual(granted._tag, "Acquired")

      const held = yield* rawDocument(raw, id)
      expect(held).toMatchObject({
        id,
        type: "distributed-leasing/lease",
        name,
        holderId: "holder-a",
        leaseId: r.leaseId,
        durationMs: 10_000,
        rev: 1,
        metadata: { region: "westeurope" }
      })
      expect(granted._tag === "Acquired" ? granted.fencingToken : 0n).toBe(BigInt(Number(held?.fence)))
      expect(typeof held?._ts).toBe("number")
      expect(typeof held?.acquiredAt).toBe("string")
      expect(held).not.toHaveProperty("expiresAt")
      expect(held).not.toHaveProperty("ttl")

      expect(yield* provider.release({ name, leaseId: r.leaseId })).toBe(true)
      const released = yield* rawDocument(raw, id)
      expect(released).toMatchObject({ id, name, fence: held?.fence, rev: 2 })
      for (const gone of ["holderId", "leaseId", "metadata", "acquiredAt"]) expect(released).not.toHaveProperty(gone)
      const info = yield* provider.inspect(name)
      expect(info.held).toBe(false)
      expect(info.fencingToken).toBe(BigInt(Number(held?.fence)))

      const second = request(name, "holder-b")
      yield* provider.tryAcquire(second)
      expect(yield* provider.breakLease(name)).toBe(true)
      const broken = yield* rawDocument(raw, id)
      expect(broken).toMatchObject({ fence: Number(held?.fence) + 1, brokenLeaseId: second.leaseId })
      expect(broken).not.toHaveProperty("holderId")
    })
  )

  it.live("any valid lease name works: reserved characters, unicode, dots, and names too long for a readable id", () =>
    Effect.gen(function* () {
      const provider = yield* make()
      const raw = yield* rawContainer(server(), "distributed-leasing", "documents")
      const base = leaseName("names")
      const names = [
        `${base}/a?b#c\\d%e f`,
        `${base}/Ünïcode/🚀`,
        `${base}/ünïcode/🚀`,
        `${base}/jobs.nightly`,
        `${base}/${"é".repeat(200)}`,
        `${base}/${"x".repeat(255 - base.length - 1)}`
      ]
      for (const name of names) {
        const outcome = yield* provider.tryAcquire(request(name, "a"))
        assert.strictEqual(outcome._tag, "Acquired", name)
        const id = CosmosLeaseProvider.documentId(name)
        expect(id).not.toMatch(/[/\\?#]/)
        expect(id.length).toBeLessThanOrEqual(255)
        const stored = yield* rawDocument(raw, id)
        expect(stored?.name).toBe(name)
        expect((yield* provider.inspect(name)).holderId).toBe("a")
      }
      // Long encodings are hashed; the two cases differ only in case and stay independent.
      expect(CosmosLeaseProvider.documentId(names[4] as string)).toMatch(/^~~[0-9a-f]{64}$/)
      expect(new Set(names.map(CosmosLeaseProvider.documentId)).size).toBe(names.length)
      for (const dots of [".", ".."]) {
        const outcome = yield* provider.tryAcquire(request(dots, "a"))
        expect(outcome._tag).toBe("Acquired")
        yield* Effect.promise(() =>
          raw.item(CosmosLeaseProvider.documentId(dots), CosmosLeaseProvider.documentId(dots)).delete()
        )
      }
    })
  )

  it.live("a foreign document under a lease's id is a non-retryable error naming it, and is left alone", () =>
    Effect.gen(function* () {
      const provider = yield* make()
      const raw = yield* rawContainer(server(), "distributed-leasing", "documents")
      const name = leaseName("foreign")
      const id = CosmosLeaseProvider.documentId(name)
      yield* Effect.promise(() => raw.items.create({ id, owner: "someone else", fence: "not a number" }))
      for (const attempt of [
        Effect.flip(provider.tryAcquire(request(name, "a"))),
        Effect.flip(provider.inspect(name)),
        Effect.flip(provider.breakLease(name))
      ]) {
        const error = yield* attempt
        assert.strictEqual(error._tag, "ProviderUnavailableError")
        if (error._tag !== "ProviderUnavailableError") continue
        expect(error.isRetryable).toBe(false)
        expect(error.detail).toContain(`document "${id}"`)
        expect(error.detail).toContain('container "documents"')
      }
      expect(yield* rawDocument(raw, id)).toMatchObject({ owner: "someone else" })
    })
  )

  it.live("a container partitioned by another top-level path: documents carry it, and it is detected", () =>
    Effect.gen(function* () {
      const creator = yield* make({ containerName: "custom-pk", partitionKeyPath: "/pk" })
      const name = leaseName("pk")
      const r = request(name, "a")
      assert.strictEqual((yield* creator.tryAcquire(r))._tag, "Acquired")
      yield* creator.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(10) })
      const raw = yield* rawContainer(server(), "distributed-leasing", "custom-pk")
      const id = CosmosLeaseProvider.documentId(name)
      const stored = yield* Effect.promise(() => raw.item(id, id).read<Record<string, unknown>>())
      expect(stored.resource?.pk).toBe(id)

      // Without the option, the path is learnt from the container.
      const adopter = yield* make({ containerName: "custom-pk", createIfMissing: false })
      expect((yield* adopter.inspect(name)).holderId).toBe("a")
      expect(yield* adopter.release({ name, leaseId: r.leaseId })).toBe(true)

      // A path that contradicts the container is refused when the layer is built.
      const error = yield* Effect.flip(
        Layer.build(
          CosmosLeaseProvider.layer(options(server(), { containerName: "custom-pk", partitionKeyPath: "/id" }))
        )
      )
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      if (error._tag === "InvalidLeaseOptionsError") {
        expect(error.field).toBe("partitionKeyPath")
        expect(error.detail).toContain('"/pk"')
      }
    })
  )

  it.live("the optional clean-up TTL is written on every document and enabled on a container it creates", () =>
    Effect.gen(function* () {
      const provider = yield* make({ containerName: "cleanup", cleanupAfter: "7 days" })
      const name = leaseName("ttl")
      const r = request(name, "a")
      yield* provider.tryAcquire(r)
      const raw = yield* rawContainer(server(), "distributed-leasing", "cleanup")
      expect((yield* rawDocument(raw, CosmosLeaseProvider.documentId(name)))?.ttl).toBe(7 * 24 * 3600)
      yield* provider.release({ name, leaseId: r.leaseId })
      expect((yield* rawDocument(raw, CosmosLeaseProvider.documentId(name)))?.ttl).toBe(7 * 24 * 3600)
      const definition = yield* Effect.promise(() => raw.read())
      expect(definition.resource?.defaultTtl).toBe(-1)
      // The created container indexes nothing but what Cosmos always indexes.
      expect(definition.resource?.indexingPolicy?.excludedPaths).toEqual([{ path: "/*" }])

      // A lease longer than half the clean-up delay is refused; a clean-up shorter than an hour too.
      const long = yield* Effect.flip(provider.tryAcquire(request(name, "a", { duration: "4 days" })))
      expect(long._tag === "InvalidLeaseOptionsError" ? long.field : long._tag).toBe("duration")
      const short = yield* Effect.flip(make({ containerName: "cleanup", cleanupAfter: "10 minutes" }))
      expect(short._tag === "InvalidLeaseOptionsError" ? short.field : short._tag).toBe("cleanupAfter")
    })
  )

  it.live("a document deleted (by the clean-up TTL or by hand) is re-created above its old fencing tokens", () =>
    Effect.gen(function* () {
      const provider = yield* make()
      const raw = yield* rawContainer(server(), "distributed-leasing", "documents")
      const name = leaseName("recreate")
      const id = CosmosLeaseProvider.documentId(name)
      let last = 0n
      for (let i = 0; i < 5; i++) {
        const r = request(name, "a")
        const outcome = yield* provider.tryAcquire(r)
        if (outcome._tag === "Acquired") last = outcome.fencingToken
        yield* provider.release({ name, leaseId: r.leaseId })
      }
      // The service's clock must move on by at least a second (the `Date` header's resolution).
      yield* Effect.sleep("1100 millis")
      yield* Effect.promise(() => raw.item(id, id).delete())
      const again = yield* provider.tryAcquire(request(name, "b"))
      assert.strictEqual(again._tag, "Acquired")
      if (again._tag === "Acquired") expect(again.fencingToken).toBeGreaterThan(last)
    })
  )
})
