/**
 * Renewal and loss timelines under TestClock, and one regression test per core defect of the original library
 * (shared/docs/reference/original-csharp-library.md §3, "Defects found").
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Layer, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  type LeaseEvent,
  LeaseManager,
  LeaseProvider,
  type LeaseProviderShape,
  ProviderUnavailableError,
  resolveLeaseOptions
} from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { withFaults } from "../conformance/faults.ts"

const seconds = (ms: number) => ms / 1000

/** A provider that records the (virtual) time of each renew call and fails those `failing(t)` says. */
const recording = (real: LeaseProviderShape, failing: (t: number) => boolean) => {
  const renewAt: Array<number> = []
  const provider: LeaseProviderShape = {
    ...real,
    renew: (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        renewAt.push(seconds(now))
        return failing(seconds(now))
          ? Effect.fail(
              new ProviderUnavailableError({
                provider: real.name,
                operation: "renew",
                isRetryable: true,
                leaseName: request.name,
                detail: "injected"
              })
            )
          : real.renew(request)
      })
  }
  return { provider, renewAt }
}

const managerOn = (provider: LeaseProviderShape, holderId = "me") =>
  LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider))

const memory = MemoryLeaseProvider.layer()

const collect = (events: Stream.Stream<LeaseEvent>) =>
  events.pipe(Stream.runCollect, Effect.forkChild({ startImmediately: true }))

describe("renewal timeline of a 60 s lease", () => {
  it.effect("renews at 40 s, retries at 41.75, 45.25 and 52.25 s, declares the loss at 54 s", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const { provider, renewAt } = recording(real, () => true)
      const manager = yield* managerOn(provider)
      const lease = yield* manager.acquire("job")
      const events = yield* collect(lease.events)
      // At the moment of loss, record the time and what the store says.
      const lostAt = yield* Effect.forkChild(
        Effect.andThen(lease.lost, Effect.all([Clock.currentTimeMillis, real.inspect("job")])),
        { startImmediately: true }
      )
      yield* TestClock.adjust("39 seconds")
      expect(renewAt).toEqual([])
      yield* TestClock.adjust("1 second")
      expect(renewAt).toEqual([40])
      yield* TestClock.adjust("20 seconds")
      expect(renewAt).toEqual([40, 41.75, 45.25, 52.25])
      const [lostTime, info] = yield* Fiber.join(lostAt)
      expect(seconds(lostTime)).toBe(54)
      // The store still held it at the moment we gave up: it would have expired there only at 60 s.
      expect(info.held).toBe(true)
      expect(Duration.toMillis(info.remaining ?? Duration.zero)).toBe(6000)
      expect(lease.state).toBe("lost")
      expect(lease.lostError?.reason).toBe("unconfirmed")
      const timeline = (yield* Fiber.join(events)).map((e) =>
        e._tag === "RenewalFailed" ? `RenewalFailed#${e.attempt}${e.willRetry ? "+" : ""}` : e._tag
      )
      expect(timeline).toEqual([
        "Acquired",
        "RenewalFailed#1+",
        "RenewalFailed#2+",
        "RenewalFailed#3+",
        "RenewalFailed#4",
        "Lost"
      ])
    }).pipe(Effect.provide(memory))
  )

  it.effect("a renewal that succeeds after retries re-anchors the next one on its own send time", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      // Fails at 40 and 41.75, succeeds at 45.25: the next renewal is due 40 s after 45.25.
      const { provider, renewAt } = recording(real, (t) => t < 45)
      const manager = yield* managerOn(provider)
      const lease = yield* manager.acquire("job")
      yield* TestClock.adjust("50 seconds")
      expect(renewAt).toEqual([40, 41.75, 45.25])
      expect(lease.renewalCount).toBe(1)
      expect(lease.expiresAt.getTime()).toBe(105_250)
      yield* TestClock.adjust("35.25 seconds") // t = 85.25
      expect(renewAt).toEqual([40, 41.75, 45.25, 85.25])
      expect(lease.state).toBe("held")
    }).pipe(Effect.provide(memory))
  )

  it.effect("Renewed events report the slack left on the lease", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      const lease = yield* manager.acquire("job")
      const events = yield* collect(lease.events.pipe(Stream.take(3)))
      yield* TestClock.adjust("80 seconds")
      const renewed = (yield* Fiber.join(events)).filter((e) => e._tag === "Renewed")
      expect(renewed.length).toBe(2)
      for (const event of renewed) {
        // Renewed at 2/3 of the lease with an instant store: 1/3 of 60 s minus the 1% drift allowance was left.
        if (event._tag === "Renewed") expect(Duration.toMillis(event.slack)).toBe(20_000 - 600)
      }
    }).pipe(Effect.provide(LeaseManager.layer.pipe(Layer.provide(memory))))
  )
})

describe("regressions of the original library", () => {
  it.effect("renewal is anchored on the last renewal, not on the acquisition", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const { provider, renewAt } = recording(real, () => false)
      const manager = yield* managerOn(provider)
      yield* manager.acquire("job")
      yield* TestClock.adjust("200 seconds")
      expect(renewAt).toEqual([40, 80, 120, 160, 200])
    }).pipe(Effect.provide(memory))
  )

  it.effect("the renew interval comes from this lease's duration, not from the default duration", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const { provider, renewAt } = recording(real, () => false)
      // The manager's default is 60 s; this lease is 15 s, so it renews every 10 s (the original used 40 s
      // and declared such a lease lost).
      const manager = yield* LeaseManager.make({ holderId: "me", defaults: { duration: "60 seconds" } }).pipe(
        Effect.provideService(LeaseProvider, provider)
      )
      const lease = yield* manager.acquire("job", { duration: "15 seconds" })
      yield* TestClock.adjust("45 seconds")
      expect(renewAt).toEqual([10, 20, 30, 40])
      expect(lease.state).toBe("held")
    }).pipe(Effect.provide(memory))
  )

  it.effect("the time to live never grows on renewal", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const manager = yield* managerOn(real)
      const lease = yield* manager.acquire("job")
      for (let i = 1; i <= 5; i++) {
        yield* TestClock.adjust("40 seconds")
        const info = yield* real.inspect("job")
        // Right after each renewal the store holds exactly one duration, not the time since acquisition.
        expect(Duration.toMillis(info.remaining ?? Duration.zero)).toBe(60_000)
        expect(lease.expiresAt.getTime() - lease.lastRenewedAt.getTime()).toBe(60_000)
      }
      expect(lease.renewalCount).toBe(5)
    }).pipe(Effect.provide(memory))
  )

  it.effect("a timeout of 0 still makes one attempt", () =>
    Effect.gen(function* () {
      const faults = withFaults(yield* LeaseProvider)
      const manager = yield* managerOn(faults.provider)
      const lease = yield* manager.acquire("job", { timeout: 0 })
      expect(lease.state).toBe("held")
      expect(faults.calls.acquire).toBe(1)
    }).pipe(Effect.provide(memory))
  )

  it.effect("store errors while waiting are retried with backoff instead of aborting the wait", () =>
    Effect.gen(function* () {
      const faults = withFaults(yield* LeaseProvider)
      const manager = yield* managerOn(faults.provider)
      faults.failAcquire = true
      const waiting = yield* Effect.forkChild(manager.acquire("job"), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      const failedAttempts = faults.calls.acquire
      expect(failedAttempts).toBeGreaterThan(2)
      expect(failedAttempts).toBeLessThan(10) // backoff, not a busy loop
      expect(waiting.pollUnsafe()).toBeUndefined()
      faults.failAcquire = false
      yield* TestClock.adjust("5 seconds")
      const lease = yield* Fiber.join(waiting)
      expect(lease.state).toBe("held")
    }).pipe(Effect.provide(memory))
  )

  it.effect("a store that stays down ends the wait with a clear error after maxConsecutiveFailures", () =>
    Effect.gen(function* () {
      const faults = withFaults(yield* LeaseProvider)
      const manager = yield* managerOn(faults.provider)
      faults.failAcquire = true
      const waiting = yield* Effect.forkChild(Effect.flip(manager.acquire("job", { maxConsecutiveFailures: 4 })), {
        startImmediately: true
      })
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(waiting)
      expect(error._tag).toBe("ProviderUnavailableError")
      expect(error.message).toContain("gave up after 4 consecutive store failures")
      expect(faults.calls.acquire).toBe(4)
    }).pipe(Effect.provide(memory))
  )

  it.effect("a non-retryable store error fails the wait at once", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      let calls = 0
      const provider: LeaseProviderShape = {
        ...real,
        tryAcquire: (request) =>
          Effect.suspend(() => {
            calls++
            return Effect.fail(
              new ProviderUnavailableError({
                provider: real.name,
                operation: "acquire",
                isRetryable: false,
                leaseName: request.name,
                detail: "NOAUTH"
              })
            )
          })
      }
      const manager = yield* managerOn(provider)
      const error = yield* Effect.flip(manager.acquire("job"))
      expect(error._tag).toBe("ProviderUnavailableError")
      expect(calls).toBe(1)
    }).pipe(Effect.provide(memory))
  )

  it.effect("option validation accounts for the whole retry schedule", () =>
    Effect.gen(function* () {
      // The original's defaults: 60 s lease, renew at 40 s, retries from 5 s: 40 + 5 + 10 + 20 = 75 > 54.
      const error = yield* Effect.flip(resolveLeaseOptions({ duration: 60_000, retryInterval: 5_000, maxRetries: 3 }))
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      expect(error.field).toBe("retryInterval")
      expect(error.message).toContain("40000 ms")
      expect(error.message).toContain("5000 ms")
      expect(error.message).toContain("54000 ms")
      // Our defaults always fit, for any duration.
      for (const duration of [10, 1_000, 15_000, 60_000, 3_600_000]) {
        const resolved = yield* resolveLeaseOptions({ duration })
        const last =
          Duration.toMillis(resolved.renewInterval) +
          Duration.toMillis(resolved.retryInterval) * (2 ** resolved.maxRetries - 1)
        expect(last).toBeLessThan(duration * resolved.safetyThreshold)
      }
    })
  )

  it.effect("defaults match the original library where they are safe", () =>
    Effect.gen(function* () {
      const resolved = yield* resolveLeaseOptions({})
      expect(Duration.toMillis(resolved.duration)).toBe(60_000)
      expect(Duration.toMillis(resolved.renewInterval)).toBe(40_000)
      expect(Duration.toMillis(resolved.retryInterval)).toBe(1_750)
      expect(resolved.maxRetries).toBe(3)
      expect(resolved.safetyThreshold).toBe(0.9)
      expect(resolved.autoRenew).toBe(true)
      expect(Duration.isFinite(resolved.timeout)).toBe(false)
      const fromString = yield* resolveLeaseOptions({ duration: "2 minutes", timeout: "30 seconds" })
      expect(Duration.toMillis(fromString.duration)).toBe(120_000)
      expect(Duration.toMillis(fromString.renewInterval)).toBe(80_000)
      expect(Duration.toMillis(fromString.timeout)).toBe(30_000)
    })
  )
})

describe("loss without renewal", () => {
  it.effect("autoRenew: false declares the lease expired at its safety deadline", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      const lease = yield* manager.acquire("job", { autoRenew: false })
      yield* TestClock.adjust("53 seconds")
      expect(lease.state).toBe("held")
      yield* TestClock.adjust("1 second")
      expect(lease.state).toBe("lost")
      expect((yield* lease.lost).reason).toBe("expired")
    }).pipe(Effect.provide(LeaseManager.layer.pipe(Layer.provide(memory))))
  )

  it.effect("a holder whose lease was taken over learns it is stolen at its next renewal", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const a = yield* managerOn(real, "a")
      const lease = yield* a.acquire("job", { duration: "20 seconds" })
      // Someone force-expires it behind our back and takes it.
      yield* real.breakLease("job")
      const b = yield* managerOn(real, "b")
      const taken = yield* b.tryAcquire("job", { duration: "20 seconds" })
      assert.isTrue(Option.isSome(taken))
      yield* TestClock.adjust("14 seconds")
      expect(lease.state).toBe("lost")
      expect(lease.lostError?.reason).toBe("stolen")
      const exit = yield* Effect.exit(lease.renew)
      expect(Exit.isFailure(exit)).toBe(true)
    }).pipe(Effect.provide(memory))
  )

  it.effect("a loss that ends withLease is still published as a Lost event, with the store's reason", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const manager = yield* managerOn(real)
      const events: Array<string> = []
      const outside = yield* Effect.scope
      const running = yield* Effect.forkChild(
        Effect.flip(
          manager.withLease(
            "job",
            (lease) =>
              // The event collector runs outside the work, which itself never ends.
              lease.events.pipe(
                Stream.runForEach((e) =>
                  Effect.sync(() => events.push(e._tag === "Lost" ? `Lost:${e.reason}` : e._tag))
                ),
                Effect.forkIn(outside),
                Effect.andThen(Effect.never)
              ),
            { duration: "15 seconds" }
          )
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust("1 second")
      yield* real.breakLease("job")
      yield* TestClock.adjust("10 seconds") // the renewal at 10 s finds the lease broken
      const error = yield* Fiber.join(running)
      expect(error._tag).toBe("LeaseLostError")
      if (error._tag === "LeaseLostError") expect(error.reason).toBe("broken")
      expect(events).toEqual(["Acquired", "Lost:broken"])
    }).pipe(Effect.provide(memory))
  )

  it.effect("a manual renew after a break fails with the store's reason", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const manager = yield* managerOn(real)
      const lease = yield* manager.acquire("job")
      yield* real.breakLease("job")
      const error = yield* Effect.flip(lease.renew)
      expect(error._tag).toBe("LeaseLostError")
      if (error._tag === "LeaseLostError") expect(error.reason).toBe("broken")
    }).pipe(Effect.provide(memory))
  )

  it.effect("leases granted at awkward clock offsets still renew (no float rounding spin)", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const manager = yield* managerOn(real)
      const leases = []
      for (const offset of ["2 seconds", "100 millis", "333 millis", "1 millis", "7 seconds"] as const) {
        yield* TestClock.adjust(offset)
        leases.push(yield* manager.acquire(`job-${leases.length}`, { duration: "10 seconds" }))
      }
      yield* TestClock.adjust("35 seconds")
      for (const lease of leases) {
        expect(lease.state).toBe("held")
        expect(lease.renewalCount).toBeGreaterThanOrEqual(4)
      }
    }).pipe(Effect.provide(memory))
  )

  it.effect("a handoff that gets no answer stops trusting the lease (the reservation may be in the store)", () =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const provider: LeaseProviderShape = { ...real, handoff: () => Effect.never }
      const manager = yield* managerOn(provider)
      const lease = yield* manager.acquire("job", { duration: "10 seconds" })
      const handing = yield* Effect.forkChild(Effect.flip(lease.handoff("b")), { startImmediately: true })
      yield* TestClock.adjust("1 second") // attemptTimeout: 10% of 10 s
      const error = yield* Fiber.join(handing)
      expect(error._tag).toBe("ProviderUnavailableError")
      expect(lease.state).toBe("lost")
      expect(lease.lostError?.reason).toBe("unconfirmed")
    }).pipe(Effect.provide(memory))
  )
})
