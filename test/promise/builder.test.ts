/**
 * The fluent builder: one method per option (checked against the core's option schema, at runtime and in the
 * types, so a new option cannot be forgotten), immutable, and the three ways to take the lease.
 */
import { describe, expect, expectTypeOf, it } from "vitest"
import { LeaseOptionsSchema } from "../../src/index.ts"
import type { LeaseOptions as CoreLeaseOptions } from "../../src/LeaseOptions.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { type AcquireOptions, createLeasing, LeaseBuilder, type LeaseOptions } from "../../src/promise/index.ts"
import { guardUnhandledRejections, sleep } from "./helpers.ts"

guardUnhandledRejections()

const leasing = () => createLeasing({ provider: MemoryLeaseProvider.layer(), logLevel: "None" })

describe("LeaseBuilder", () => {
  it("has a method for every option of the Effect API, and the Promise options match them", () => {
    // The type-level half: a missing setter or a drifted option is a type error.
    expectTypeOf<Exclude<keyof AcquireOptions, keyof LeaseBuilder>>().toEqualTypeOf<never>()
    expectTypeOf<keyof LeaseOptions>().toEqualTypeOf<keyof CoreLeaseOptions>()
    const builder = leasing().lease("x")
    for (const option of [...Object.keys(LeaseOptionsSchema.fields), "signal"]) {
      expect(typeof Reflect.get(builder, option), option).toBe("function")
    }
  })

  it("records the options it is given, and each call returns a new builder", () => {
    const base = leasing().lease("job").duration("5 minutes")
    const configured = base
      .autoRenew()
      .timeout("30 seconds")
      .renewInterval(200_000)
      .retryInterval("2 seconds")
      .maxRetries(2)
      .safetyThreshold(0.8)
      .acquireRetryInterval("50 millis")
      .maxAcquireRetryInterval("1 second")
      .maxConsecutiveFailures(3)
      .attemptTimeout("2 seconds")
      .metadata({ a: "1" })
      .metadata({ b: "2" })
      .holderId("me")
    expect(base).toBeInstanceOf(LeaseBuilder)
    expect(base.options).toEqual({ duration: "5 minutes" })
    expect(configured.name).toBe("job")
    expect(configured.options).toEqual({
      duration: "5 minutes",
      autoRenew: true,
      timeout: "30 seconds",
      renewInterval: 200_000,
      retryInterval: "2 seconds",
      maxRetries: 2,
      safetyThreshold: 0.8,
      acquireRetryInterval: "50 millis",
      maxAcquireRetryInterval: "1 second",
      maxConsecutiveFailures: 3,
      attemptTimeout: "2 seconds",
      metadata: { a: "1", b: "2" },
      holderId: "me"
    })
    expect(base.autoRenew(false).options.autoRenew).toBe(false)
  })

  it("acquire() takes the lease with the options set", async () => {
    await using client = leasing()
    const lease = await client.lease("fluent").duration("5 minutes").autoRenew().timeout("30 seconds").acquire()
    expect(lease.expiresAt.getTime() - lease.acquiredAt.getTime()).toBe(300_000)
    const denied = client.lease("fluent").holderId("other").timeout(100).acquire()
    await expect(denied).rejects.toMatchObject({ _tag: "LeaseAcquisitionTimeoutError" })
  })

  it("tryAcquire() is one attempt: null while held", async () => {
    await using client = leasing()
    const job = client.lease("try").duration("5 seconds")
    const first = await job.tryAcquire()
    expect(first?.isHeld).toBe(true)
    expect(await job.holderId("other").tryAcquire()).toBeNull()
  })

  it("run(fn) is withLease: the result, then the lease is released", async () => {
    await using client = leasing()
    const token = await client
      .lease("run")
      .duration("5 seconds")
      .run(async (lease) => lease.fencingToken)
    expect(token).toBe(1n)
    expect((await client.inspect("run")).held).toBe(false)
  })

  it("signal(s) cancels the wait", async () => {
    await using client = leasing()
    await client.lease("cancel").duration("5 seconds").acquire()
    const controller = new AbortController()
    const pending = client.lease("cancel").holderId("other").signal(controller.signal).acquire()
    pending.catch(() => {})
    await sleep(50)
    controller.abort(new Error("stop"))
    await expect(pending).rejects.toThrow("stop")
  })
})
