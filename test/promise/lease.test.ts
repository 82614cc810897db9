/**
 * The Promise-API lease: `signal` aborts with the `LeaseLostError` on loss, `on(...)` delivers the core's events,
 * a throwing or rejecting listener is logged and never breaks renewal, `renew()` and `release()` work.
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import {
  createLeasing,
  LeaseLostError,
  LeaseRenewalError,
  type LostEvent,
  type RenewalFailedEvent,
  type RenewedEvent
} from "../../src/promise/index.ts"
import { eventually, guardUnhandledRejections, recorder, recordingProvider, sleep } from "./helpers.ts"

guardUnhandledRejections()

afterEach(() => {
  vi.restoreAllMocks()
})

describe("signal", () => {
  it("aborts with the LeaseLostError when renewal proves the lease lost, and 'lost' listeners get it", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("lose-me", { duration: "300 millis" })
    const lost: Array<LostEvent> = []
    lease.on("lost", (event) => lost.push(event))
    const aborted = new Promise<unknown>((resolve) =>
      lease.signal.addEventListener("abort", () => resolve(lease.signal.reason))
    )
    await leasing.breakLease("lose-me")
    const reason = await aborted
    expect(reason).toBeInstanceOf(LeaseLostError)
    expect(reason).toMatchObject({ _tag: "LeaseLostError", reason: "broken" })
    await eventually(() => lost.length === 1)
    expect(lost[0]?.error).toBe(reason)
    expect(lost[0]?.reason).toBe("broken")
    expect(lease.state).toBe("lost")
  })

  it("aborts with reason 'unconfirmed' when the store stops answering renewals, after renewalFailed events", async () => {
    let storeDown = false
    await using leasing = createLeasing({
      provider: recordingProvider(recorder(), { renewFails: () => storeDown }),
      logLevel: "None"
    })
    const lease = await leasing.acquire("flaky", { duration: "600 millis" })
    const failures: Array<RenewalFailedEvent> = []
    lease.on("renewalFailed", (event) => failures.push(event))
    storeDown = true
    await new Promise((resolve) => lease.signal.addEventListener("abort", resolve))
    expect(lease.signal.reason).toMatchObject({ reason: "unconfirmed" })
    expect(failures.length).toBeGreaterThanOrEqual(2)
    expect(failures[0]).toMatchObject({ type: "renewalFailed", name: "flaky", attempt: 1, willRetry: true })
    expect(failures[0]?.error).toBeInstanceOf(LeaseRenewalError)
  })

  it("aborts with a LeaseLostError of reason 'released' when the lease is released", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("released", { duration: "5 seconds" })
    await lease.release()
    expect(lease.signal.aborted).toBe(true)
    expect(lease.signal.reason).toBeInstanceOf(LeaseLostError)
    expect(lease.signal.reason).toMatchObject({ reason: "released", leaseName: "released" })
  })
})

describe("events", () => {
  it("'renewed' reports each renewal; the unsubscribe function stops delivery", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("renewing", { duration: "300 millis" })
    const renewed: Array<RenewedEvent> = []
    const off = lease.on("renewed", (event) => renewed.push(event))
    await eventually(() => renewed.length >= 2)
    off()
    const seen = renewed.length
    await sleep(450)
    expect(lease.renewalCount).toBeGreaterThan(seen)
    expect(renewed.length).toBe(seen)
    expect(renewed[0]).toMatchObject({ type: "renewed", name: "renewing", leaseId: lease.leaseId, ttl: 300 })
    expect(renewed[0]?.expiresAt).toBeInstanceOf(Date)
    expect(typeof renewed[0]?.slack).toBe("number")
  })

  it("'released' fires on release(), once", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("bye", { duration: "5 seconds" })
    const released: Array<unknown> = []
    lease.on("released", (event) => released.push(event))
    await Promise.all([lease.release(), lease.release()])
    await lease[Symbol.asyncDispose]()
    expect(released).toEqual([{ type: "released", name: "bye", leaseId: lease.leaseId, confirmed: true }])
  })

  it("rejects an unknown event name", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("typo", { duration: "5 seconds" })
    expect(() => lease.on("renew" as "renewed", () => {})).toThrow(TypeError)
  })

  it("a throwing or rejecting listener is logged and ignored: renewal and the other listeners carry on", async () => {
    const logged: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
      logged.push(args.map(String).join(" "))
    })
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "Warn" })
    const lease = await leasing.acquire("robust", { duration: "300 millis" })
    lease.on("renewed", () => {
      throw new Error("sync listener boom")
    })
    lease.on("renewed", async () => {
      throw new Error("async listener boom")
    })
    let calls = 0
    lease.on("renewed", () => {
      calls++
    })
    await eventually(() => calls >= 3)
    expect(lease.isHeld).toBe(true)
    expect(lease.renewalCount).toBeGreaterThanOrEqual(3)
    expect(logged.some((line) => line.includes('"renewed" listener of lease "robust" threw'))).toBe(true)
    expect(logged.some((line) => line.includes("sync listener boom"))).toBe(true)
    expect(logged.some((line) => line.includes('"renewed" listener of lease "robust" rejected'))).toBe(true)
    expect(logged.some((line) => line.includes("async listener boom"))).toBe(true)
  })
})

describe("renew and release", () => {
  it("renew() extends the lease now", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("manual", { duration: "5 seconds", autoRenew: false })
    const before = lease.expiresAt.getTime()
    await sleep(30)
    await lease.renew()
    expect(lease.renewalCount).toBe(1)
    expect(lease.expiresAt.getTime()).toBeGreaterThan(before)
  })

  it("renew() of a broken lease rejects with LeaseLostError and aborts the signal", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const lease = await leasing.acquire("broken", { duration: "5 seconds" })
    await leasing.breakLease("broken")
    // The rejection's own `reason` is not asserted: the core currently builds it before marking the lease lost
    // (src/internal/leaseRuntime.ts renewOnce, reported to the lead), so it says "released"; the loss is "broken".
    await expect(lease.renew()).rejects.toBeInstanceOf(LeaseLostError)
    expect(lease.signal.aborted).toBe(true)
    expect(lease.signal.reason).toMatchObject({ _tag: "LeaseLostError", reason: "broken" })
    expect(lease.lostError?.reason).toBe("broken")
  })

  it("release() frees the lease in the store and is idempotent", async () => {
    const rec = recorder()
    await using leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    const lease = await leasing.acquire("free-me", { duration: "5 seconds" })
    await lease.release()
    await lease.release()
    expect(rec.count("release free-me")).toBe(1)
    expect((await leasing.inspect("free-me")).held).toBe(false)
    expect(String(lease)).toContain("free-me")
  })
})
