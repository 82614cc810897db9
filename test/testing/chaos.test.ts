/**
 * The chaos provider, fault by fault and policy by policy, on the memory provider under TestClock. Each test names
 * the defect of the original chaos package it guards against, where there is one (original-csharp-library.md §7):
 * policies evaluated twice (p became p²), automatic renewals bypassing the wrapper, the seed ignored, and a DI
 * registration that wrapped nothing.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Random, Stream } from "effect"
import { TestClock } from "effect/testing"
import { LeaseManager, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import {
  ChaosController,
  type ChaosEvent,
  ChaosLeaseProvider,
  type ChaosOptions,
  Fault,
  FaultPolicy,
  Latency
} from "../../src/testing/index.ts"

const chaosOn = (options: ChaosOptions) =>
  Effect.gen(function* () {
    const real = yield* MemoryLeaseProvider.make()
    const chaos = yield* ChaosLeaseProvider.make(real, options)
    return { real, chaos, provider: chaos.provider }
  })

const request = (name: string, leaseId: string, ms = 10_000) => ({
  name,
  holderId: leaseId,
  leaseId,
  duration: Duration.millis(ms)
})

/** Runs `n` inspect calls and returns which ones failed (1-based call numbers). */
const failingInspects = (provider: LeaseProviderShape, n: number) =>
  Effect.gen(function* () {
    const failed: Array<number> = []
    for (let call = 1; call <= n; call++) {
      const exit = yield* Effect.exit(provider.inspect("job"))
      if (Exit.isFailure(exit)) failed.push(call)
    }
    return failed
  })

const managerOn = (provider: LeaseProviderShape, holderId: string) =>
  LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider))

describe("decisions are made exactly once per call", () => {
  it.effect("p = 0.5 over 10 000 calls faults about half of them, not a quarter (the original's p²)", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({
        seed: 1,
        inspect: [{ when: FaultPolicy.probability(0.5), fault: Fault.unavailable() }]
      })
      const failed = yield* failingInspects(provider, 10_000)
      const rate = failed.length / 10_000
      expect(rate).toBeGreaterThan(0.48)
      expect(rate).toBeLessThan(0.52)
      const stats = yield* chaos.stats
      expect(stats.calls.inspect).toBe(10_000)
      expect(stats.faulted.inspect).toBe(failed.length)
      expect(stats.events.Failure).toBe(failed.length)
    })
  )

  it.effect("p = 0.1 gives about 10%, with one random draw per call", () =>
    Effect.gen(function* () {
      const { provider } = yield* chaosOn({
        seed: 2,
        inspect: [{ when: FaultPolicy.probability(0.1), fault: Fault.unavailable() }]
      })
      const failed = yield* failingInspects(provider, 10_000)
      expect(failed.length / 10_000).toBeGreaterThan(0.09)
      expect(failed.length / 10_000).toBeLessThan(0.11)
    })
  )

  it.effect("firstCalls(3) fails calls 1, 2 and 3 and lets the 4th through (the original let the 2nd through)", () =>
    Effect.gen(function* () {
      const { provider } = yield* chaosOn({
        inspect: [{ when: FaultPolicy.firstCalls(3), fault: Fault.unavailable() }]
      })
      expect(yield* failingInspects(provider, 6)).toEqual([1, 2, 3])
    })
  )

  it.effect("nth, every, sequence, afterCalls and betweenCalls count calls, not evaluations", () =>
    Effect.gen(function* () {
      const run = (when: FaultPolicy.FaultPolicy, n = 10) =>
        Effect.flatMap(chaosOn({ inspect: [{ when, fault: Fault.unavailable() }] }), ({ provider }) =>
          failingInspects(provider, n)
        )
      expect(yield* run(FaultPolicy.nth(3))).toEqual([3])
      expect(yield* run(FaultPolicy.nth(1, 4, 9))).toEqual([1, 4, 9])
      expect(yield* run(FaultPolicy.every(3))).toEqual([3, 6, 9])
      expect(yield* run(FaultPolicy.every(4, { offset: 1 }))).toEqual([5, 9])
      expect(yield* run(FaultPolicy.sequence([true, false, false]))).toEqual([1, 4, 7, 10])
      expect(yield* run(FaultPolicy.sequence([false, true], { repeat: false }))).toEqual([2])
      expect(yield* run(FaultPolicy.afterCalls(7))).toEqual([8, 9, 10])
      expect(yield* run(FaultPolicy.betweenCalls(2, 4))).toEqual([2, 3, 4])
      expect(yield* run(FaultPolicy.not(FaultPolicy.betweenCalls(2, 9)))).toEqual([1, 10])
      expect(yield* run(FaultPolicy.and(FaultPolicy.every(2), FaultPolicy.afterCalls(5)))).toEqual([6, 8, 10])
      expect(yield* run(FaultPolicy.or(FaultPolicy.nth(1), FaultPolicy.nth(10)))).toEqual([1, 10])
    })
  )

  it.effect("each rule keeps its own counter; `all` rules see every operation", () =>
    Effect.gen(function* () {
      const { provider } = yield* chaosOn({
        all: [{ when: FaultPolicy.nth(2), fault: Fault.unavailable(), label: "second-call-of-anything" }],
        acquire: [{ when: FaultPolicy.nth(2), fault: Fault.conflict() }]
      })
      const a1 = yield* Effect.exit(provider.tryAcquire(request("a", "x1"))) // all#1, acquire#1
      const i1 = yield* Effect.exit(provider.inspect("a")) // all#2: fails
      const a2 = yield* Effect.flip(provider.tryAcquire(request("b", "x2"))) // all#3, acquire#2: conflict
      expect(Exit.isSuccess(a1)).toBe(true)
      expect(Exit.isFailure(i1)).toBe(true)
      expect(a2._tag).toBe("LeaseConflictError")
    })
  )

  it.effect("a rule limited to some lease names neither fires on nor counts the others", () =>
    Effect.gen(function* () {
      const { provider } = yield* chaosOn({
        inspect: [{ leases: /^jobs\//, when: FaultPolicy.nth(2), fault: Fault.unavailable() }]
      })
      expect(Exit.isSuccess(yield* Effect.exit(provider.inspect("jobs/a")))).toBe(true)
      expect(Exit.isSuccess(yield* Effect.exit(provider.inspect("other")))).toBe(true)
      expect(Exit.isFailure(yield* Effect.exit(provider.inspect("jobs/b")))).toBe(true)
    })
  )
})

describe("seeds", () => {
  const pattern = (seed: number) =>
    Effect.flatMap(
      chaosOn({
        seed,
        inspect: [
          { when: FaultPolicy.probability(0.3), fault: Fault.unavailable() },
          { when: FaultPolicy.probability(0.5), fault: Fault.latency(Latency.uniform("1 millis", "2 millis")) }
        ]
      }),
      ({ provider }) =>
        Effect.gen(function* () {
          const out: Array<string> = []
          for (let i = 0; i < 200; i++) {
            const fiber = yield* Effect.forkChild(Effect.exit(provider.inspect("job")))
            yield* TestClock.adjust("2 millis")
            const exit = yield* Fiber.join(fiber)
            out.push(Exit.isFailure(exit) ? "x" : ".")
          }
          return out.join("")
        })
    )

  it.effect("the same seed gives the same decisions; another seed gives others (the original ignored its seed)", () =>
    Effect.gen(function* () {
      const first = yield* pattern(42)
      expect(yield* pattern(42)).toBe(first)
      expect(yield* pattern(43)).not.toBe(first)
      expect(first).toContain("x")
      expect(first).toContain(".")
    })
  )

  it.effect("without a seed, one is drawn from Random (so Random.withSeed replays it) and reported", () =>
    Effect.gen(function* () {
      const drawn = () => Effect.map(chaosOn({}), ({ chaos }) => chaos.seed).pipe(Random.withSeed("replay"))
      const seed = yield* drawn()
      expect(yield* drawn()).toBe(seed)
      const { chaos } = yield* chaosOn({ seed: 7 })
      expect(chaos.seed).toBe(7)
      expect((yield* chaos.stats).seed).toBe(7)
    })
  )
})

describe("the layer wraps the provider beneath it, and automatic renewals go through it", () => {
  it.effect("every automatic renewal of a 60 s lease fails through the wrapper; the lease is lost at 54 s", () => {
    const Chaos = ChaosLeaseProvider.layer({ seed: 1, renew: [{ fault: Fault.unavailable() }] })
    const Leasing = LeaseManager.layer.pipe(Layer.provideMerge(Chaos), Layer.provide(MemoryLeaseProvider.layer()))
    return Effect.gen(function* () {
      const manager = yield* LeaseManager
      const chaos = yield* ChaosController
      // The manager talks to the faulty provider: the layer wrapped what was below it.
      expect(yield* LeaseProvider).toBe(chaos.provider)
      yield* manager.inspect("job")
      expect((yield* chaos.stats).calls.inspect).toBe(1)
      const lease = yield* manager.acquire("job")
      yield* TestClock.adjust("60 seconds")
      expect(lease.state).toBe("lost")
      expect(lease.lostError?.reason).toBe("unconfirmed")
      const stats = yield* chaos.stats
      // Renewal at 40 s and retries at 41.75, 45.25 and 52.25 s: all four went through the wrapper.
      expect(stats.calls.renew).toBe(4)
      expect(stats.events.Failure).toBe(4)
      // Declared lost as `unconfirmed`, it was then released (release is not faulted): the store is free again.
      const info = yield* chaos.underlying.inspect("job")
      expect(info.held).toBe(false)
      expect(info.fencingToken).toBe(lease.fencingToken)
    }).pipe(Effect.provide(Leasing))
  })

  it.effect("wrap(realLayer, options) is the same wiring in one call", () =>
    Effect.gen(function* () {
      const chaos = yield* ChaosController
      const provider = yield* LeaseProvider
      expect(provider).toBe(chaos.provider)
      expect(provider.name).toBe("memory")
      const failure = yield* Effect.flip(provider.inspect("x"))
      expect(failure.isRetryable).toBe(false)
      expect(failure.operation).toBe("inspect")
    }).pipe(
      Effect.provide(
        ChaosLeaseProvider.wrap(MemoryLeaseProvider.layer(), {
          inspect: [{ fault: Fault.unavailable({ retryable: false }) }]
        })
      )
    )
  )
})

describe("faults", () => {
  it.effect("latency runs on the Clock: a 300 ms latency completes only when TestClock reaches it", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({ inspect: [{ fault: Fault.latency("300 millis") }] })
      const fiber = yield* Effect.forkChild(provider.inspect("job"))
      yield* TestClock.adjust("299 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const info = yield* Fiber.join(fiber)
      expect(info.held).toBe(false)
      expect((yield* chaos.stats).events.Latency).toBe(1)
    })
  )

  it.effect("a renewal slower than attemptTimeout is cut off by the core and retried", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({
        renew: [{ when: FaultPolicy.nth(1), fault: Fault.latency(Latency.fixed("10 seconds")) }]
      })
      const manager = yield* managerOn(provider, "a")
      const lease = yield* manager.acquire("job", { duration: "60 seconds" })
      yield* TestClock.adjust("50 seconds")
      // attemptTimeout is 6 s for a 60 s lease: the slow first attempt failed at 46 s, the retry went through.
      expect(lease.state).toBe("held")
      expect(lease.renewalCount).toBe(1)
      expect((yield* chaos.stats).calls.renew).toBe(2)
    })
  )

  it.effect("a timeout hangs until the caller gives up; the core's attemptTimeout interrupts it", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({ renew: [{ fault: Fault.timeout() }] })
      const manager = yield* managerOn(provider, "a")
      const lease = yield* manager.acquire("job", { duration: "60 seconds" })
      const timeouts = yield* chaos.events.pipe(
        Stream.map((e) => `${e._tag}@${e.at}`),
        Stream.take(2),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )
      yield* TestClock.adjust("60 seconds")
      // Renewal at 40 s, cut at 46 s (attemptTimeout: 10% of 60 s); retry at 47.75 s, cut at 53.75 s; lost at 54 s.
      expect(yield* Fiber.join(timeouts)).toEqual(["Timeout@40000", "Timeout@47750"])
      expect((yield* chaos.stats).calls.renew).toBe(2)
      expect(lease.lostError?.reason).toBe("unconfirmed")
    })
  )

  it.effect("a reply-phase failure: the store applied the acquire, the caller got an error", () =>
    Effect.gen(function* () {
      const { provider, real } = yield* chaosOn({
        acquire: [{ fault: Fault.unavailable({ phase: "reply" }) }]
      })
      const error = yield* Effect.flip(provider.tryAcquire(request("job", "lost-reply")))
      expect(error._tag).toBe("ProviderUnavailableError")
      const info = yield* real.inspect("job")
      expect(info.leaseId).toBe("lost-reply")
    })
  )

  it.effect("each mapped error type, retryable or not, reaches the caller as itself", () =>
    Effect.gen(function* () {
      const { provider } = yield* chaosOn({
        acquire: [
          { when: FaultPolicy.nth(1), fault: Fault.conflict({ holderId: "someone" }) },
          { when: FaultPolicy.nth(2), fault: Fault.invalidOptions({ field: "duration" }) },
          { when: FaultPolicy.nth(3), fault: Fault.unavailable({ retryable: false }) }
        ],
        renew: [{ fault: Fault.lost({ reason: "stolen" }) }],
        release: [{ fault: Fault.unavailable({ retryAfter: Duration.seconds(2) }) }]
      })
      const conflict = yield* Effect.flip(provider.tryAcquire(request("a", "1")))
      const invalid = yield* Effect.flip(provider.tryAcquire(request("a", "2")))
      const fatal = yield* Effect.flip(provider.tryAcquire(request("a", "3")))
      assert.isTrue(conflict._tag === "LeaseConflictError" && conflict.holderId === "someone")
      assert.isTrue(invalid._tag === "InvalidLeaseOptionsError" && invalid.field === "duration")
      assert.isTrue(fatal._tag === "ProviderUnavailableError" && !fatal.isRetryable)
      const granted = yield* provider.tryAcquire(request("a", "4"))
      expect(granted._tag).toBe("Acquired")
      const lost = yield* Effect.flip(provider.renew({ name: "a", leaseId: "4", duration: Duration.seconds(10) }))
      assert.isTrue(lost._tag === "LeaseLostError" && lost.reason === "stolen")
      const busy = yield* Effect.flip(provider.release({ name: "a", leaseId: "4" }))
      expect(busy.isRetryable).toBe(true)
      expect(busy.retryAfter).toEqual(Duration.seconds(2))
    })
  )

  it.effect("the types keep faults to the operations that can fail that way", () =>
    Effect.gen(function* () {
      const rejected: ChaosOptions = {
        // @ts-expect-error a lost lease is not an answer an acquire can give
        acquire: [{ fault: Fault.lost() }],
        // @ts-expect-error nor is a conflict an answer a release can give
        release: [{ fault: Fault.conflict() }]
      }
      expect(Object.keys(rejected)).toEqual(["acquire", "release"])
      const { provider } = yield* chaosOn({ renew: [{ fault: Fault.lost() }] })
      const error = yield* Effect.flip(provider.renew({ name: "a", leaseId: "x", duration: Duration.seconds(1) }))
      expect(error._tag).toBe("LeaseLostError")
    })
  )

  it.effect("a steal rule on an acquire is a takeover; the old holder learns it at its next renewal", () =>
    Effect.gen(function* () {
      const real = yield* MemoryLeaseProvider.make()
      const thefts: Array<ChaosEvent> = []
      const honest = yield* ChaosLeaseProvider.make(real, { seed: 1 })
      const thief = yield* ChaosLeaseProvider.make(real, {
        seed: 1,
        acquire: [{ fault: Fault.steal() }],
        onFault: (e) => thefts.push(e)
      })
      const a = yield* managerOn(honest.provider, "a")
      const b = yield* managerOn(thief.provider, "b")
      const leaseA = yield* a.acquire("job", { duration: "30 seconds" })
      const leaseB = yield* b.acquire("job", { duration: "30 seconds", timeout: 0 })
      expect(leaseB.fencingToken).toBe(leaseA.fencingToken + 1n)
      // Both believe they hold it until A's renewal at 20 s.
      expect(leaseA.state).toBe("held")
      yield* TestClock.adjust("20 seconds")
      expect(leaseA.lostError?.reason).toBe("stolen")
      expect(leaseB.state).toBe("held")
      assert.isTrue(thefts[0]?._tag === "Theft" && thefts[0].evictedLeaseId === leaseA.leaseId)
      assert.isTrue(thefts[0]?._tag === "Theft" && thefts[0].source === "rule" && thefts[0].evictedHolderId === "a")
    })
  )

  it.effect("controller.steal breaks the lease behind its holder's back", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({})
      const manager = yield* managerOn(provider, "a")
      const lease = yield* manager.acquire("job", { duration: "30 seconds" })
      expect(yield* chaos.steal("job")).toBe(true)
      expect(yield* chaos.steal("job")).toBe(false)
      expect(lease.state).toBe("held") // it does not know yet
      yield* TestClock.adjust("20 seconds")
      expect(lease.lostError?.reason).toBe("broken")
      expect((yield* chaos.stats).events.Theft).toBe(2)
    })
  )
})

describe("partitions and pauses", () => {
  it.effect("a partition fails every call for its duration, by Clock time; heal ends it early", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({})
      yield* chaos.partition("5 seconds")
      expect(yield* chaos.partitioned).toBe(true)
      const during = yield* Effect.flip(provider.tryAcquire(request("job", "1")))
      expect(during.isRetryable).toBe(true)
      expect(Exit.isFailure(yield* Effect.exit(provider.inspect("job")))).toBe(true)
      yield* TestClock.adjust("5 seconds")
      expect(yield* chaos.partitioned).toBe(false)
      expect((yield* provider.tryAcquire(request("job", "2")))._tag).toBe("Acquired")
      yield* chaos.partition()
      expect(Exit.isFailure(yield* Effect.exit(provider.inspect("job")))).toBe(true)
      yield* chaos.heal
      expect(Exit.isSuccess(yield* Effect.exit(provider.inspect("job")))).toBe(true)
      const stats = yield* chaos.stats
      expect(stats.events.PartitionStarted).toBe(2)
      expect(stats.events.PartitionEnded).toBe(2)
      expect(stats.events.Partitioned).toBe(3)
    })
  )

  it.effect("a hanging partition: calls hang until interrupted, and stay hung after it heals", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({})
      yield* chaos.partition("1 second", { mode: "hang" })
      const fiber = yield* Effect.forkChild(provider.inspect("job"))
      yield* TestClock.adjust("10 seconds")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* Fiber.interrupt(fiber)
      expect(Exit.isSuccess(yield* Effect.exit(provider.inspect("job")))).toBe(true)
    })
  )

  it.effect("a pause holds calls and delivers them in order on resume, even those whose callers gave up", () =>
    Effect.gen(function* () {
      const { provider, chaos, real } = yield* chaosOn({})
      yield* chaos.pause()
      const first = yield* Effect.forkChild(provider.tryAcquire(request("job", "first")), { startImmediately: true })
      const abandoned = yield* Effect.forkChild(provider.tryAcquire(request("other", "gave-up")), {
        startImmediately: true
      })
      const second = yield* Effect.forkChild(provider.tryAcquire(request("job", "second")), { startImmediately: true })
      yield* TestClock.adjust("1 minute")
      expect(first.pollUnsafe()).toBeUndefined()
      yield* Fiber.interrupt(abandoned)
      expect((yield* real.inspect("job")).held).toBe(false) // nothing reached the store yet
      yield* chaos.resume
      expect((yield* Fiber.join(first))._tag).toBe("Acquired")
      expect((yield* Fiber.join(second))._tag).toBe("Held")
      // The abandoned request was still executed, as a frozen server runs what is in its socket.
      expect((yield* real.inspect("other")).leaseId).toBe("gave-up")
      expect(yield* chaos.paused).toBe(false)
    })
  )

  it.effect("deliverLate: false drops the calls whose callers gave up; a timed pause resumes by itself", () =>
    Effect.gen(function* () {
      const { provider, chaos, real } = yield* chaosOn({})
      const ended: Array<ChaosEvent> = []
      const watcher = yield* chaos.events.pipe(
        Stream.filter((e) => e._tag === "PauseEnded"),
        Stream.take(1),
        Stream.runForEach((e) => Effect.sync(() => ended.push(e))),
        Effect.forkChild({ startImmediately: true })
      )
      yield* chaos.pause("3 seconds", { deliverLate: false })
      const abandoned = yield* Effect.forkChild(provider.tryAcquire(request("job", "gave-up")), {
        startImmediately: true
      })
      const waiting = yield* Effect.forkChild(provider.inspect("job"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(abandoned)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(watcher)
      expect((yield* Fiber.join(waiting)).held).toBe(false)
      expect((yield* real.inspect("job")).held).toBe(false)
      assert.isTrue(ended[0]?._tag === "PauseEnded" && ended[0].delivered === 1 && ended[0].dropped === 1)
    })
  )

  it.effect(
    "a holder whose store is paused past its safety deadline reports the loss while the store still holds it",
    () =>
      Effect.gen(function* () {
        const { provider, chaos, real } = yield* chaosOn({})
        const manager = yield* managerOn(provider, "a")
        const lease = yield* manager.acquire("job", { duration: "10 seconds" })
        yield* chaos.pause()
        const lostAt = yield* Effect.forkChild(Effect.andThen(lease.lost, real.inspect("job")), {
          startImmediately: true
        })
        yield* TestClock.adjust("9 seconds")
        const info = yield* Fiber.join(lostAt)
        expect(lease.lostError?.reason).toBe("unconfirmed")
        expect(info.leaseId).toBe(lease.leaseId)
        yield* chaos.resume
      })
  )
})

describe("switches and observation", () => {
  it.effect("disable lets calls through (still counted), enable and setRules switch faults at runtime", () =>
    Effect.gen(function* () {
      const { provider, chaos } = yield* chaosOn({ inspect: [{ fault: Fault.unavailable() }] })
      expect(Exit.isFailure(yield* Effect.exit(provider.inspect("a")))).toBe(true)
      yield* chaos.disable
      expect(yield* chaos.enabled).toBe(false)
      expect(Exit.isSuccess(yield* Effect.exit(provider.inspect("a")))).toBe(true)
      yield* chaos.enable
      expect(Exit.isFailure(yield* Effect.exit(provider.inspect("a")))).toBe(true)
      yield* chaos.setRules({ inspect: [{ when: FaultPolicy.nth(2), fault: Fault.unavailable() }] })
      expect(yield* failingInspects(provider, 3)).toEqual([2])
      const stats = yield* chaos.stats
      expect(stats.calls.inspect).toBe(6)
      expect(stats.faulted.inspect).toBe(3)
    })
  )

  it.effect(
    "the stream and the onFault callback see the same events, in order; a throwing callback changes nothing",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const { provider, chaos } = yield* chaosOn({
          seed: 3,
          inspect: [{ when: FaultPolicy.every(2), fault: Fault.unavailable() }],
          onFault: (event) => {
            seen.push(event._tag)
            throw new Error("a broken callback")
          }
        })
        const streamed = yield* chaos.events.pipe(
          Stream.map((e) => e._tag),
          Stream.take(4),
          Stream.runCollect,
          Effect.forkChild({ startImmediately: true })
        )
        expect(yield* failingInspects(provider, 4)).toEqual([2, 4])
        yield* chaos.partition("1 second")
        yield* Effect.exit(provider.inspect("a"))
        expect(yield* Fiber.join(streamed)).toEqual(["Failure", "Failure", "PartitionStarted", "Partitioned"])
        expect(seen).toEqual(["Failure", "Failure", "PartitionStarted", "Partitioned"])
      })
  )
})
