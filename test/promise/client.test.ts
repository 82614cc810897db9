/**
 * The client contract on the memory provider, in real time with short durations: acquire, tryAcquire, inspect,
 * breakLease, durations, errors, `await using`, and `close()` releasing every lease before the provider goes down.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as Core from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import * as PromiseApi from "../../src/promise/index.ts"
import {
  createLeasing,
  InvalidLeaseOptionsError,
  LeaseAcquisitionTimeoutError,
  LeaseLostError,
  LeasingClosedError,
  ProviderUnavailableError
} from "../../src/promise/index.ts"
import { guardUnhandledRejections, recorder, recordingProvider, sleep } from "./helpers.ts"

guardUnhandledRejections()

const memory = () => createLeasing({ provider: MemoryLeaseProvider.layer(), holderId: "tester", logLevel: "None" })

describe("acquire", () => {
  it("returns a held lease with its identity, fencing token and current times", async () => {
    await using leasing = memory()
    const before = Date.now()
    const lease = await leasing.acquire("report", { duration: "2 seconds" })
    expect(lease.name).toBe("report")
    expect(lease.holderId).toBe("tester")
    expect(typeof lease.leaseId).toBe("string")
    expect(lease.leaseId.length).toBeGreaterThan(0)
    expect(lease.fencingToken).toBe(1n)
    expect(lease.provider).toBe("memory")
    expect(lease.isHeld).toBe(true)
    expect(lease.state).toBe("held")
    expect(lease.signal.aborted).toBe(false)
    expect(lease.acquiredAt).toBeInstanceOf(Date)
    expect(lease.acquiredAt.getTime()).toBeGreaterThanOrEqual(before - 1)
    expect(lease.expiresAt.getTime() - lease.acquiredAt.getTime()).toBe(2_000)
    await lease.release()
    expect(lease.isHeld).toBe(false)
    expect(lease.state).toBe("released")
    const next = await leasing.acquire("report", { duration: 2_000 })
    expect(next.fencingToken).toBe(2n)
  })

  it("waits while the lease is held and gets it when it is released", async () => {
    await using leasing = memory()
    const first = await leasing.acquire("job", { duration: "5 seconds" })
    const second = leasing.acquire("job", { duration: "5 seconds", holderId: "other" })
    await sleep(100)
    await first.release()
    const lease = await second
    expect(lease.holderId).toBe("other")
    expect(lease.fencingToken).toBe(2n)
  })

  it("rejects with the Effect API's LeaseAcquisitionTimeoutError, a real Error that keeps its _tag", async () => {
    await using leasing = memory()
    await leasing.acquire("busy", { duration: "5 seconds" })
    const denied = leasing.acquire("busy", { timeout: "150 millis", holderId: "other" })
    await expect(denied).rejects.toBeInstanceOf(LeaseAcquisitionTimeoutError)
    await expect(denied).rejects.toBeInstanceOf(Core.LeaseAcquisitionTimeoutError)
    await expect(denied).rejects.toBeInstanceOf(Error)
    await expect(denied).rejects.toMatchObject({ _tag: "LeaseAcquisitionTimeoutError", leaseName: "busy" })
  })

  it("accepts durations as milliseconds or strings, and rejects a bad one naming the field", async () => {
    await using leasing = memory()
    const a = await leasing.acquire("a", { duration: 1500 })
    const b = await leasing.acquire("b", { duration: "1500 millis" })
    expect(a.expiresAt.getTime() - a.acquiredAt.getTime()).toBe(1500)
    expect(b.expiresAt.getTime() - b.acquiredAt.getTime()).toBe(1500)
    const bad = leasing.acquire("c", { duration: "soon" as "1 second" })
    await expect(bad).rejects.toBeInstanceOf(InvalidLeaseOptionsError)
    await expect(bad).rejects.toMatchObject({ field: "duration" })
    const clash = leasing.acquire("c", { duration: "1 second", renewInterval: "2 seconds" })
    await expect(clash).rejects.toMatchObject({ _tag: "InvalidLeaseOptionsError", field: "renewInterval" })
  })

  it("applies the client's defaults under the per-call options", async () => {
    await using leasing = createLeasing({
      provider: MemoryLeaseProvider.layer(),
      defaults: { duration: "3 seconds", metadata: { team: "billing" } },
      logLevel: "None"
    })
    const lease = await leasing.acquire("defaults")
    expect(lease.expiresAt.getTime() - lease.acquiredAt.getTime()).toBe(3_000)
    const info = await leasing.inspect("defaults")
    expect(info.metadata).toEqual({ team: "billing" })
    const other = await leasing.acquire("per-call", { duration: 1_000 })
    expect(other.expiresAt.getTime() - other.acquiredAt.getTime()).toBe(1_000)
  })
})

describe("tryAcquire", () => {
  it("makes exactly one attempt: the lease when free, null when held (even with a timeout)", async () => {
    const rec = recorder()
    await using leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    const lease = await leasing.tryAcquire("once", { duration: "5 seconds" })
    expect(lease?.fencingToken).toBe(1n)
    expect(rec.count("tryAcquire once")).toBe(1)
    const none = await leasing.tryAcquire("once", { timeout: "5 seconds", holderId: "other" })
    expect(none).toBeNull()
    expect(rec.count("tryAcquire once")).toBe(2)
  })
})

describe("inspect and breakLease", () => {
  it("inspect returns a plain object describing the holder", async () => {
    await using leasing = memory()
    const free = await leasing.inspect("nothing")
    expect(free).toEqual({ name: "nothing", held: false })
    const lease = await leasing.acquire("described", { duration: "4 seconds", metadata: { owner: "ops" } })
    const info = await leasing.inspect("described")
    expect(Object.getPrototypeOf(info)).toBe(Object.prototype)
    expect(info).toMatchObject({
      name: "described",
      held: true,
      holderId: "tester",
      leaseId: lease.leaseId,
      fencingToken: 1n,
      metadata: { owner: "ops" }
    })
    expect(info.expiresAt).toBeInstanceOf(Date)
    // The store counts from when it received the request, the lease from when it sent it: the same instant, give
    // or take a millisecond.
    expect(Math.abs((info.expiresAt?.getTime() ?? 0) - lease.expiresAt.getTime())).toBeLessThanOrEqual(5)
    await lease.release()
    expect(await leasing.inspect("described")).toEqual({ name: "described", held: false, fencingToken: 1n })
  })

  it("breakLease evicts the holder, who loses the lease (reason broken) at its next renewal", async () => {
    await using leasing = memory()
    const lease = await leasing.acquire("breakable", { duration: "300 millis" })
    expect(await leasing.breakLease("breakable")).toBe(true)
    expect(await leasing.breakLease("breakable")).toBe(false)
    const reason = await new Promise<unknown>((resolve) =>
      lease.signal.addEventListener("abort", () => resolve(lease.signal.reason))
    )
    expect(reason).toBeInstanceOf(LeaseLostError)
    expect(reason).toMatchObject({ reason: "broken", leaseName: "breakable" })
    expect(lease.isHeld).toBe(false)
    expect(lease.lostError).toBe(reason)
  })
})

describe("errors", () => {
  it("are the Effect API's classes, re-exported", () => {
    expect(PromiseApi.LeaseLostError).toBe(Core.LeaseLostError)
    expect(PromiseApi.LeaseAcquisitionTimeoutError).toBe(Core.LeaseAcquisitionTimeoutError)
    expect(PromiseApi.LeaseRenewalError).toBe(Core.LeaseRenewalError)
    expect(PromiseApi.LeaseConflictError).toBe(Core.LeaseConflictError)
    expect(PromiseApi.ProviderUnavailableError).toBe(Core.ProviderUnavailableError)
    expect(PromiseApi.InvalidLeaseOptionsError).toBe(Core.InvalidLeaseOptionsError)
    expect(PromiseApi.isLeaseError).toBe(Core.isLeaseError)
  })

  it("an invalid lease name rejects with InvalidLeaseOptionsError", async () => {
    await using leasing = memory()
    await expect(leasing.acquire("")).rejects.toMatchObject({ _tag: "InvalidLeaseOptionsError", field: "name" })
    await expect(leasing.inspect(" ")).rejects.toBeInstanceOf(InvalidLeaseOptionsError)
  })

  it("a provider that fails to build rejects every call (and ready) with its error", async () => {
    const failing = Layer.effect(
      Core.LeaseProvider,
      Effect.fail(
        new ProviderUnavailableError({ provider: "test", operation: "connect", isRetryable: false, detail: "refused" })
      )
    )
    await using leasing = createLeasing({ provider: failing, logLevel: "None" })
    await expect(leasing.ready()).rejects.toBeInstanceOf(ProviderUnavailableError)
    await expect(leasing.acquire("x")).rejects.toMatchObject({ _tag: "ProviderUnavailableError", detail: "refused" })
  })
})

describe("lifecycle", () => {
  it("await using releases the lease at the end of its block, and the client at the end of its own", async () => {
    const rec = recorder()
    let outer: PromiseApi.LeasingClient | undefined
    {
      await using leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
      outer = leasing
      {
        await using lease = await leasing.acquire("scoped", { duration: "5 seconds" })
        expect(lease.isHeld).toBe(true)
      }
      expect(rec.calls).toContain("release scoped")
      expect((await leasing.inspect("scoped")).held).toBe(false)
    }
    expect(outer.closed).toBe(true)
    expect(rec.calls.at(-1)).toBe("provider closed")
    await expect(outer.acquire("after")).rejects.toBeInstanceOf(LeasingClosedError)
  })

  it("close() releases every lease first, then tears the provider down", async () => {
    const rec = recorder()
    const leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    const leases = await Promise.all(["a", "b", "c"].map((name) => leasing.acquire(name, { duration: "5 seconds" })))
    const released: Array<string> = []
    for (const lease of leases) lease.on("released", (event) => released.push(event.name))
    await leasing.close()
    expect(leases.map((lease) => lease.state)).toEqual(["released", "released", "released"])
    expect(leases.every((lease) => lease.signal.aborted)).toBe(true)
    expect(released.sort()).toEqual(["a", "b", "c"])
    const order = rec.calls.filter((call) => call.startsWith("release") || call === "provider closed")
    expect(order.slice(0, 3).sort()).toEqual(["release a", "release b", "release c"])
    expect(order[3]).toBe("provider closed")
    // Idempotent, and a lease's own release after close resolves.
    await leasing.close()
    await leases[0]?.release()
  })

  it("close() cancels a pending acquire, which rejects with LeasingClosedError and leaves nothing held", async () => {
    const rec = recorder()
    const leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    await leasing.acquire("contended", { duration: "5 seconds" })
    const waiting = leasing.acquire("contended", { holderId: "waiter" })
    waiting.catch(() => {})
    await sleep(50)
    await leasing.close()
    await expect(waiting).rejects.toBeInstanceOf(LeasingClosedError)
    expect(rec.count("release contended")).toBe(1)
    expect(rec.calls.at(-1)).toBe("provider closed")
  })
})
