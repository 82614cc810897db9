/**
 * `AbortSignal` on acquire: an abort cancels the wait at once, rejects with `signal.reason`, and leaves nothing
 * held, whether the signal was aborted before the call, during the wait, or while an attempt was in flight.
 */
import { describe, expect, it } from "vitest"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { createLeasing } from "../../src/promise/index.ts"
import { guardUnhandledRejections, recorder, recordingProvider, sleep } from "./helpers.ts"

guardUnhandledRejections()

describe("acquire with an AbortSignal", () => {
  it("an already aborted signal rejects with its reason before anything reaches the store", async () => {
    const rec = recorder()
    await using leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    const controller = new AbortController()
    const reason = new Error("not needed any more")
    controller.abort(reason)
    await expect(leasing.acquire("early", { signal: controller.signal })).rejects.toBe(reason)
    await expect(leasing.tryAcquire("early", { signal: controller.signal })).rejects.toBe(reason)
    await expect(leasing.withLease("early", () => 1, { signal: controller.signal })).rejects.toBe(reason)
    expect(rec.count("tryAcquire")).toBe(0)
    expect((await leasing.inspect("early")).held).toBe(false)
  })

  it("an abort during the wait rejects at once with the reason, and the aborted caller never gets the lease", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const holder = await leasing.acquire("wanted", { duration: "30 seconds", holderId: "holder" })
    const controller = new AbortController()
    const waiting = leasing.acquire("wanted", { holderId: "waiter", signal: controller.signal })
    waiting.catch(() => {})
    await sleep(150)
    const abortedAt = Date.now()
    controller.abort(new Error("shutting down"))
    await expect(waiting).rejects.toThrow("shutting down")
    // "At once": the holder's lease has 30 s left and the wait had no timeout.
    expect(Date.now() - abortedAt).toBeLessThan(500)
    await holder.release()
    await sleep(100)
    expect(await leasing.inspect("wanted")).toEqual({ name: "wanted", held: false, fencingToken: 1n })
  })

  it("AbortSignal.timeout rejects with its TimeoutError", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    await leasing.acquire("slow", { duration: "30 seconds" })
    const denied = leasing.acquire("slow", { holderId: "other", signal: AbortSignal.timeout(100) })
    await expect(denied).rejects.toMatchObject({ name: "TimeoutError" })
  })

  it("an abort while an attempt is in flight releases a grant that lands after it", async () => {
    const rec = recorder()
    await using leasing = createLeasing({
      provider: recordingProvider(rec, { acquireDelay: "200 millis" }),
      logLevel: "None"
    })
    const controller = new AbortController()
    const pending = leasing.acquire("in-flight", { duration: "10 seconds", signal: controller.signal })
    pending.catch(() => {})
    await sleep(50)
    controller.abort(new Error("cancelled"))
    await expect(pending).rejects.toThrow("cancelled")
    // The attempt already sent finished (it won), and the grant was released rather than left held.
    expect(rec.count("tryAcquire in-flight")).toBe(1)
    expect(rec.count("release in-flight")).toBe(1)
    expect((await leasing.inspect("in-flight")).held).toBe(false)
  })
})
