/**
 * `withLease(name, async (lease) => ...)`: returns the callback's result, rejects with its error, rejects at once
 * with the `LeaseLostError` when the lease is lost before the callback settles, and always releases.
 */
import { describe, expect, it } from "vitest"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import {
  createLeasing,
  type Lease,
  LeaseAcquisitionTimeoutError,
  LeaseLostError,
  LeasingClosedError
} from "../../src/promise/index.ts"
import { guardUnhandledRejections, recorder, recordingProvider, sleep } from "./helpers.ts"

guardUnhandledRejections()

describe("withLease", () => {
  it("returns the callback's result, with the lease held during the call and released after", async () => {
    const rec = recorder()
    await using leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    let seen: Lease | undefined
    const result = await leasing.withLease(
      "work",
      async (lease) => {
        seen = lease
        expect(lease.isHeld).toBe(true)
        expect((await leasing.inspect("work")).holderId).toBe(lease.holderId)
        return 42
      },
      { duration: "5 seconds" }
    )
    expect(result).toBe(42)
    expect(seen?.state).toBe("released")
    expect(rec.count("release work")).toBe(1)
    expect((await leasing.inspect("work")).held).toBe(false)
  })

  it("accepts a synchronous callback", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    expect(await leasing.withLease("sync", (lease) => lease.fencingToken)).toBe(1n)
  })

  it("rejects with the callback's own error (thrown or rejected) and releases", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const failure = new Error("job failed")
    await expect(
      leasing.withLease("fails", async () => {
        throw failure
      })
    ).rejects.toBe(failure)
    await expect(
      leasing.withLease("fails", () => {
        throw failure
      })
    ).rejects.toBe(failure)
    expect((await leasing.inspect("fails")).held).toBe(false)
  })

  it("rejects at once with the LeaseLostError when the lease is lost before the callback settles", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    let signal: AbortSignal | undefined
    let settled = false
    let finish: () => void = () => {}
    const lostEvents: Array<string> = []
    const run = leasing.withLease(
      "doomed",
      async (lease) => {
        signal = lease.signal
        lease.on("lost", (event) => lostEvents.push(event.reason))
        await leasing.breakLease("doomed")
        // Ignores the signal on purpose, and rejects only when the test lets it, long after the loss.
        await new Promise<void>((resolve) => {
          finish = resolve
        })
        settled = true
        throw new Error("too late")
      },
      { duration: "300 millis" }
    )
    await expect(run).rejects.toBeInstanceOf(LeaseLostError)
    await expect(run).rejects.toMatchObject({ reason: "broken", leaseName: "doomed" })
    expect(settled).toBe(false)
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBeInstanceOf(LeaseLostError)
    expect(signal?.reason).toMatchObject({ reason: "broken" })
    expect(lostEvents).toEqual(["broken"])
    expect((await leasing.inspect("doomed")).held).toBe(false)
    // Now the abandoned callback rejects: the guard checks that this is not an unhandled rejection.
    finish()
    await sleep(10)
    expect(settled).toBe(true)
  })

  it("does not call the callback when the lease cannot be acquired in time", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    await leasing.acquire("taken", { duration: "5 seconds" })
    let called = false
    const run = leasing.withLease(
      "taken",
      () => {
        called = true
      },
      { timeout: 100, holderId: "other" }
    )
    await expect(run).rejects.toBeInstanceOf(LeaseAcquisitionTimeoutError)
    expect(called).toBe(false)
  })

  it("an abort while the callback runs releases the lease, aborts lease.signal and rejects with the reason", async () => {
    await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })
    const controller = new AbortController()
    let leaseSignal: AbortSignal | undefined
    const run = leasing.withLease(
      "abortable",
      (lease) =>
        new Promise<string>((resolve) => {
          leaseSignal = lease.signal
          lease.signal.addEventListener("abort", () => resolve("stopped"))
        }),
      { signal: controller.signal }
    )
    await sleep(50)
    controller.abort(new Error("user cancelled"))
    await expect(run).rejects.toThrow("user cancelled")
    expect(leaseSignal?.aborted).toBe(true)
    expect(leaseSignal?.reason).toMatchObject({ reason: "released" })
    expect((await leasing.inspect("abortable")).held).toBe(false)
  })

  it("close() during the callback releases the lease and rejects with LeasingClosedError", async () => {
    const rec = recorder()
    const leasing = createLeasing({ provider: recordingProvider(rec), logLevel: "None" })
    const run = leasing.withLease("closing", () => sleep(10_000))
    run.catch(() => {})
    await sleep(50)
    await leasing.close()
    await expect(run).rejects.toBeInstanceOf(LeasingClosedError)
    expect(rec.count("release closing")).toBe(1)
    expect(rec.calls.at(-1)).toBe("provider closed")
  })
})
