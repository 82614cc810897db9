/**
 * Acquisition against the Cosmos test server: racing acquirers (exactly one winner, on a new name through
 * create-if-absent and on an existing name through `If-Match`), a stale cached ETag, an expired lease taken over
 * by the service's clock, and fencing tokens increasing across holders, expiry and a break.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import type { AcquireRequest, AcquireResult, LeaseProviderShape } from "../../src/index.ts"
import { startFaultProxy } from "./faultProxy.ts"
import { leaseName, options, rawContainer, rawDocument, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const request = (name: string, holderId: string, duration: Duration.Input = "10 seconds"): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.fromInputUnsafe(duration)
})

const providers = (count: number, overrides: Parameters<typeof options>[1] = {}) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    () => CosmosLeaseProvider.make(options(server(), { containerName: "acquire", ...overrides }))
  )

type Outcome = Result.Result<AcquireResult, { readonly _tag: string }>

const tally = (outcomes: ReadonlyArray<Outcome>) => ({
  acquired: outcomes.filter((o) => Result.isSuccess(o) && o.success._tag === "Acquired").length,
  held: outcomes.filter((o) => Result.isSuccess(o) && o.success._tag === "Held").length,
  conflicts: outcomes.filter((o) => Result.isFailure(o) && o.failure._tag === "LeaseConflictError").length,
  other: outcomes.filter((o) => Result.isFailure(o) && o.failure._tag !== "LeaseConflictError").length
})

const race = (contenders: ReadonlyArray<LeaseProviderShape>, name: string) =>
  Effect.gen(function* () {
    const requests = contenders.map((_, i) => request(name, `holder-${i}`))
    const outcomes = yield* Effect.forEach(
      contenders,
      (p, i) => Effect.result(p.tryAcquire(requests[i] as AcquireRequest)),
      {
        concurrency: "unbounded"
      }
    )
    const winner = outcomes.findIndex((o) => Result.isSuccess(o) && o.success._tag === "Acquired")
    return { outcomes, requests, winner, counts: tally(outcomes) }
  })

describe("azure-cosmos acquire", () => {
  it.live("10 racing acquirers: exactly one wins, on a new name and again on the existing document", () =>
    Effect.gen(function* () {
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(() => startFaultProxy(server().port)),
        (p) => Effect.promise(() => p.close())
      )
      const contenders = yield* providers(10, { endpoint: proxy.endpoint })
      const name = leaseName("race")

      // Round 1: the document does not exist; every contender reads 404 and creates; the service accepts one.
      const first = yield* race(contenders, name)
      expect(first.counts.acquired).toBe(1)
      expect(first.counts.other).toBe(0)
      expect(first.counts.held + first.counts.conflicts).toBe(9)
      const firstWinner = contenders[first.winner] as LeaseProviderShape
      const firstInfo = yield* firstWinner.inspect(name)
      expect(firstInfo.holderId).toBe(`holder-${first.winner}`)
      expect(firstInfo.leaseId).toBe(first.requests[first.winner]?.leaseId)

      // Round 2: everyone has just seen the document free (same ETag in every cache), so all ten send the very same
      // conditional replace at once: the service accepts one `If-Match`, the others get 412.
      expect(yield* firstWinner.release({ name, leaseId: first.requests[first.winner]?.leaseId ?? "" })).toBe(true)
      yield* Effect.forEach(contenders, (p) => p.inspect(name), { concurrency: "unbounded", discard: true })
      proxy.reset()
      const second = yield* race(contenders, name)
      // Ten conditional writes on the same ETag reached the service; it accepted one.
      expect(proxy.itemRequests().filter((kind) => kind === "replace").length).toBe(10)
      expect(second.counts.acquired).toBe(1)
      expect(second.counts.other).toBe(0)
      expect(second.counts.held + second.counts.conflicts).toBe(9)
      const info = yield* firstWinner.inspect(name)
      expect(info.held).toBe(true)
      expect(info.holderId).toBe(`holder-${second.winner}`)
      expect(info.fencingToken).toBe((firstInfo.fencingToken ?? 0n) + 1n)
    })
  )

  it.live("racers through one shared provider (one cache) also get exactly one winner", () =>
    Effect.gen(function* () {
      const [shared] = yield* providers(1)
      const provider = shared as LeaseProviderShape
      const name = leaseName("shared-race")
      const { counts } = yield* race(
        Array.from({ length: 10 }, () => provider),
        name
      )
      expect(counts.acquired).toBe(1)
      expect(counts.other).toBe(0)
    })
  )

  it.live("a stale cached ETag costs one 412 and a read, and never overrides the current holder", () =>
    Effect.gen(function* () {
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(() => startFaultProxy(server().port)),
        (p) => Effect.promise(() => p.close())
      )
      const [watched, other] = yield* Effect.all([
        CosmosLeaseProvider.make(options(server(), { containerName: "acquire", endpoint: proxy.endpoint })),
        CosmosLeaseProvider.make(options(server(), { containerName: "acquire" }))
      ])
      const name = leaseName("stale")
      const mine = request(name, "a")
      expect((yield* watched.tryAcquire(mine))._tag).toBe("Acquired")
      expect(yield* watched.release({ name, leaseId: mine.leaseId })).toBe(true)
      // `watched` now caches the free version. Another process takes the lease: that version is stale.
      const theirs = request(name, "b")
      expect((yield* other.tryAcquire(theirs))._tag).toBe("Acquired")

      proxy.reset()
      const outcome = yield* watched.tryAcquire(request(name, "a"))
      assert.strictEqual(outcome._tag, "Held")
      if (outcome._tag === "Held") {
        expect(outcome.holderId).toBe("b")
        expect(Duration.toMillis(outcome.remaining ?? Duration.zero)).toBeGreaterThan(9_000)
      }
      // The optimistic write with the cached ETag was refused (412), then one read showed the lease held.
      expect(proxy.itemRequests()).toEqual(["replace", "read"])
      const info = yield* other.inspect(name)
      expect(info.leaseId).toBe(theirs.leaseId)

      // The service itself refuses a replace with a stale ETag, whoever sends it.
      const raw = yield* rawContainer(server(), "distributed-leasing", "acquire")
      const doc = yield* rawDocument(raw, CosmosLeaseProvider.documentId(name))
      const stale = yield* Effect.promise(() =>
        raw
          .item(String(doc?.id), String(doc?.id))
          .replace({ ...doc }, { accessCondition: { type: "IfMatch", condition: "not-the-etag" } })
          .then(
            () => 200,
            (error: { code?: number }) => error.code
          )
      )
      expect(stale).toBe(412)
    })
  )

  it.live("an expired lease is taken over once the service's clock says so, with a higher fence", () =>
    Effect.gen(function* () {
      const [a, b] = yield* providers(2, { clockSkewTolerance: 0 })
      if (a === undefined || b === undefined) return
      const name = leaseName("expired")
      const first = request(name, "a", "1 second")
      const granted = yield* a.tryAcquire(first)
      assert.strictEqual(granted._tag, "Acquired")
      const raw = yield* rawContainer(server(), "distributed-leasing", "acquire")
      const stored = yield* rawDocument(raw, CosmosLeaseProvider.documentId(name))
      const writtenAt = Number(stored?._ts) * 1000

      // Right away: held, and the time left is the server's view (at most 1 s + the 1 s `_ts` rounding).
      const early = yield* b.tryAcquire(request(name, "b", "1 second"))
      assert.strictEqual(early._tag, "Held")
      const remaining = early._tag === "Held" ? Duration.toMillis(early.remaining ?? Duration.zero) : 0
      expect(remaining).toBeGreaterThan(0)
      expect(remaining).toBeLessThanOrEqual(2_000)

      // After that time, the lease is over for takers; A never renewed, so B takes it over.
      yield* Effect.sleep(Duration.millis(remaining + 50))
      const second = request(name, "b", "5 seconds")
      const takeover = yield* b.tryAcquire(second)
      assert.strictEqual(takeover._tag, "Acquired")
      if (granted._tag === "Acquired" && takeover._tag === "Acquired") {
        expect(takeover.fencingToken).toBe(granted.fencingToken + 1n)
      }
      // Never before the latest possible end of A's grant, by the service's clock: A was written during second
      // `_ts`, so its grant surely ended by `_ts + 1 + 1` s, and B's write is stamped no earlier than that.
      const after = yield* rawDocument(raw, CosmosLeaseProvider.documentId(name))
      expect(Number(after?._ts) * 1000).toBeGreaterThanOrEqual(writtenAt + 1_000 + 1_000)

      // A's late renewal and release learn the truth and touch nothing.
      const renewal = yield* Effect.flip(a.renew({ name, leaseId: first.leaseId, duration: Duration.seconds(1) }))
      expect(renewal._tag).toBe("LeaseLostError")
      if (renewal._tag === "LeaseLostError") expect(renewal.reason).toBe("stolen")
      expect(yield* a.release({ name, leaseId: first.leaseId })).toBe(false)
      expect((yield* a.inspect(name)).leaseId).toBe(second.leaseId)
    })
  )

  it.live("fencing tokens strictly increase across holders, release, expiry and break; the counter is stored", () =>
    Effect.gen(function* () {
      const [a, b, c] = yield* providers(3, { clockSkewTolerance: 0 })
      if (a === undefined || b === undefined || c === undefined) return
      const name = leaseName("fence")
      const tokens: Array<bigint> = []
      const take = (p: LeaseProviderShape, holder: string, duration: Duration.Input = "10 seconds") =>
        Effect.gen(function* () {
          const r = request(name, holder, duration)
          const outcome = yield* p.tryAcquire(r)
          assert.strictEqual(outcome._tag, "Acquired")
          if (outcome._tag === "Acquired") tokens.push(outcome.fencingToken)
          return r
        })
      const ra = yield* take(a, "a")
      expect(yield* a.release({ name, leaseId: ra.leaseId })).toBe(true)
      yield* take(b, "b", "200 millis")
      // B's lease runs out (by the service's clock, within about 1.2 s); C takes over without any release.
      let taken = false
      for (let i = 0; i < 40 && !taken; i++) {
        const outcome = yield* c.tryAcquire(request(name, "c"))
        if (outcome._tag === "Acquired") {
          tokens.push(outcome.fencingToken)
          taken = true
        } else {
          yield* Effect.sleep("100 millis")
        }
      }
      expect(taken).toBe(true)
      expect(yield* a.breakLease(name)).toBe(true)
      yield* take(a, "a")

      expect(tokens.length).toBe(4)
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBe((tokens[i - 1] as bigint) + 1n)
      // The counter is a field of the document, which release and break keep.
      const raw = yield* rawContainer(server(), "distributed-leasing", "acquire")
      const stored = yield* rawDocument(raw, CosmosLeaseProvider.documentId(name))
      expect(BigInt(Number(stored?.fence))).toBe(tokens.at(-1))
    })
  )
})
