/**
 * The time logic at Azure Blob's limits, under `TestClock`, on the memory provider given the Blob provider's
 * capabilities. Azurite runs in real time and its shortest lease is 15 s, so timelines are checked here, where a
 * 15 s lease takes milliseconds: what the core does with Blob's 15 s minimum and 60 s maximum.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Option, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { BlobLeaseProvider } from "../../src/azure/blob/index.ts"
import { ProviderUnavailableError } from "../../src/LeaseError.ts"
import { LeaseManager } from "../../src/LeaseManager.ts"
import { LeaseProvider, type LeaseProviderShape } from "../../src/LeaseProvider.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { withFaults } from "../conformance/faults.ts"

/** A memory store with the Blob provider's declared capabilities (built without any I/O). */
const blobShaped = Effect.gen(function* () {
  const blob = yield* BlobLeaseProvider.make({
    containerName: "leases",
    connectionString: Redacted.make("UseDevelopmentStorage=true")
  })
  const memory = yield* MemoryLeaseProvider.make()
  const provider: LeaseProviderShape = {
    ...memory,
    capabilities: {
      ...memory.capabilities,
      minDuration: blob.capabilities.minDuration,
      maxDuration: blob.capabilities.maxDuration
    }
  }
  return provider
})

const managerOn = (provider: LeaseProviderShape) =>
  LeaseManager.make({ holderId: "me" }).pipe(Effect.provideService(LeaseProvider, provider))

const seconds = (ms: number) => ms / 1000

describe("time logic at Azure Blob's lease limits (memory provider, TestClock)", () => {
  it.effect("durations outside 15–60 s never reach the provider", () =>
    Effect.gen(function* () {
      const faults = withFaults(yield* blobShaped)
      const manager = yield* managerOn(faults.provider)
      for (const duration of [
        Duration.millis(14_999),
        Duration.seconds(1),
        Duration.millis(60_001),
        Duration.hours(1)
      ]) {
        const error = yield* Effect.flip(Effect.scoped(manager.acquire("job", { duration })))
        expect(error._tag).toBe("InvalidLeaseOptionsError")
        const tried = yield* Effect.flip(Effect.scoped(manager.tryAcquire("job", { duration })))
        expect(tried._tag).toBe("InvalidLeaseOptionsError")
      }
      expect(faults.calls.acquire).toBe(0)
      // The bounds themselves are accepted.
      for (const duration of [Duration.seconds(15), Duration.seconds(60)]) {
        const lease = yield* Effect.scoped(manager.tryAcquire(`job-${Duration.toSeconds(duration)}`, { duration }))
        expect(Option.isSome(lease)).toBe(true)
      }
      expect(faults.calls.acquire).toBe(2)
    })
  )

  it.effect("a 15 s lease renews every 10 s and is kept for ten minutes", () =>
    Effect.gen(function* () {
      const provider = yield* blobShaped
      const manager = yield* managerOn(provider)
      const lease = yield* manager.acquire("leader", { duration: "15 seconds" })
      for (let i = 0; i < 60; i++) yield* TestClock.adjust("10 seconds")
      expect(lease.state).toBe("held")
      expect(lease.renewalCount).toBe(60)
      expect((yield* provider.inspect("leader")).leaseId).toBe(lease.leaseId)
    })
  )

  it.effect(
    "a 15 s lease whose renewals fail: retries at 10.44, 11.31 and 13.06 s, lost at 13.5 s, before the store's 15 s",
    () =>
      Effect.gen(function* () {
        const real = yield* blobShaped
        const renewAt: Array<number> = []
        const failing: LeaseProviderShape = {
          ...real,
          renew: (request) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              renewAt.push(seconds(now))
              return Effect.fail(
                new ProviderUnavailableError({
                  provider: real.name,
                  operation: "renew",
                  isRetryable: true,
                  leaseName: request.name,
                  detail: "injected 503"
                })
              )
            })
        }
        const manager = yield* managerOn(failing)
        const lease = yield* manager.acquire("leader", { duration: "15 seconds" })
        const lostAt = yield* Effect.forkChild(
          Effect.andThen(lease.lost, Effect.all([Clock.currentTimeMillis, real.inspect("leader")])),
          { startImmediately: true }
        )
        yield* TestClock.adjust("15 seconds")
        expect(renewAt).toEqual([10, 10.4375, 11.3125, 13.0625])
        const [time, info] = yield* Fiber.join(lostAt)
        expect(seconds(time)).toBe(13.5)
        expect(info.held).toBe(true)
        expect(lease.lostError?.reason).toBe("unconfirmed")
      })
  )

  it.effect("a hung store call is cut by the attempt timeout (1.5 s for 15 s) and the loss still comes at 13.5 s", () =>
    Effect.gen(function* () {
      const real = yield* blobShaped
      const hung: LeaseProviderShape = { ...real, renew: () => Effect.never }
      const manager = yield* managerOn(hung)
      const lease = yield* manager.acquire("leader", { duration: "15 seconds" })
      const lostAt = yield* Effect.forkChild(Effect.andThen(lease.lost, Clock.currentTimeMillis), {
        startImmediately: true
      })
      yield* TestClock.adjust("15 seconds")
      expect(seconds(yield* Fiber.join(lostAt))).toBe(13.5)
      expect(lease.state).toBe("lost")
    })
  )
})
