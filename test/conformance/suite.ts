/**
 * The behavioural contract every provider must pass.
 *
 * Register a provider in two lines:
 *
 * ```ts
 * import { conformanceSuite } from "../conformance/suite.ts"
 * conformanceSuite("memory", { layer: MemoryLeaseProvider.layer(), clock: "test" })
 * ```
 *
 * `clock: "test"` runs under `TestClock` (memory: a 60 s lease in milliseconds); `clock: "live"` runs in real time
 * against a real server, with a short lease `duration`. The tests assert invariants (never two holders, tokens
 * strictly increase, loss before the store's expiry) rather than timings.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, type Layer, Option, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  type Lease,
  type LeaseEvent,
  LeaseManager,
  type LeaseManagerShape,
  type LeaseOptions,
  LeaseProvider,
  type LeaseProviderShape
} from "../../src/index.ts"
import { type Faults, withFaults } from "./faults.ts"

export interface ConformanceOptions {
  /** The provider under test. Built once per test. */
  readonly layer: Layer.Layer<LeaseProvider, unknown>
  /** `test`: run under TestClock; `live`: real time against a real store. */
  readonly clock: "test" | "live"
  /** The lease duration the tests use. Default 60 s under TestClock, 2 s live. */
  readonly duration?: Duration.Input
  /**
   * Extra lease options for every test (e.g. a longer `attemptTimeout` for a store that needs several requests per
   * acquire on a loaded machine). The suite's `duration` still applies.
   */
  readonly leaseOptions?: LeaseOptions | undefined
  /** Contenders in the mutual-exclusion test. Default 8. */
  readonly contenders?: number
  /** Critical sections per contender in the mutual-exclusion test. Default 4 (TestClock) or 2 (live). */
  readonly cycles?: number
  /**
   * Run the tests of the suite concurrently (each uses its own lease names). Default: true for a live clock, where
   * stores with long minimum leases (Azure Blob: 15 s) would otherwise take minutes.
   */
  readonly concurrent?: boolean
}

interface Ctx {
  readonly real: LeaseProviderShape
  /** Lease duration in ms. */
  readonly d: number
  readonly opts: LeaseOptions
  readonly name: (label: string) => string
  readonly manager: (holderId: string, provider?: LeaseProviderShape) => Effect.Effect<LeaseManagerShape>
  readonly faults: () => Faults
  /** Lets time pass: TestClock.adjust, or a real sleep. */
  readonly advance: (ms: number) => Effect.Effect<void>
  /** Waits for a fiber, moving the TestClock forward in small steps when under test. */
  readonly settle: <A, E>(fiber: Fiber.Fiber<A, E>, stepMs?: number) => Effect.Effect<Exit.Exit<A, E>>
}

export const conformanceSuite = (label: string, options: ConformanceOptions): void => {
  const live = options.clock === "live"
  const d = Duration.toMillis(Duration.fromInputUnsafe(options.duration ?? (live ? "2 seconds" : "60 seconds")))
  const contenders = options.contenders ?? 8
  const cycles = options.cycles ?? (live ? 2 : 4)
  const test = live ? it.live : it.effect

  const withCtx = <A, E>(body: (ctx: Ctx) => Effect.Effect<A, E, Scope.Scope>) =>
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const advance = (ms: number) => (live ? Effect.sleep(Duration.millis(ms)) : TestClock.adjust(Duration.millis(ms)))
      const ctx: Ctx = {
        real,
        d,
        opts: { ...options.leaseOptions, duration: Duration.millis(d) },
        name: (l) => `conf/${l}/${randomUUID().slice(0, 8)}`,
        manager: (holderId, provider = real) =>
          LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider)),
        faults: () => withFaults(real),
        advance,
        settle: <A2, E2>(fiber: Fiber.Fiber<A2, E2>, stepMs = d / 20): Effect.Effect<Exit.Exit<A2, E2>> =>
          Effect.gen(function* () {
            if (live) return yield* Fiber.await(fiber)
            for (let i = 0; i < 100_000; i++) {
              const done = fiber.pollUnsafe()
              if (done !== undefined) return done
              yield* TestClock.adjust(Duration.millis(stepMs))
            }
            return yield* Effect.die(new Error("fiber did not finish in 100 000 clock steps"))
          })
      }
      return yield* body(ctx)
    }).pipe(Effect.provide(options.layer, { local: true }), Effect.orDie)

  const timelineEntry = (events: Stream.Stream<LeaseEvent>) =>
    events.pipe(
      Stream.map((e) => e._tag),
      Stream.runCollect,
      Effect.forkChild({ startImmediately: true })
    )

  const suite = (options.concurrent ?? live) ? describe.concurrent : describe
  suite(`conformance: ${label} (${options.clock} clock, ${d} ms leases)`, () => {
    test("acquire, inspect and release", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const name = ctx.name("basic")
          const scope = yield* Scope.make()
          const lease = yield* a.acquire(name, ctx.opts).pipe(Scope.provide(scope))
          expect(lease.name).toBe(name)
          expect(lease.holderId).toBe("holder-a")
          expect(lease.state).toBe("held")
          expect(typeof lease.fencingToken).toBe("bigint")
          expect(lease.expiresAt.getTime()).toBeGreaterThan(lease.acquiredAt.getTime())
          const info = yield* a.inspect(name)
          expect(info.held).toBe(true)
          expect(info.holderId).toBe("holder-a")
          expect(info.leaseId).toBe(lease.leaseId)
          expect(info.fencingToken).toBe(lease.fencingToken)
          yield* Scope.close(scope, Exit.void)
          expect(lease.state).toBe("released")
          const after = yield* a.inspect(name)
          expect(after.held).toBe(false)
          expect(after.holderId).toBeUndefined()
        })
      ))

    test(`mutual exclusion among ${contenders} concurrent contenders`, () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const name = ctx.name("mutex")
          const managers = yield* Effect.forEach(
            Array.from({ length: contenders }, (_, i) => i),
            (i) => ctx.manager(`contender-${i}`)
          )
          let active = 0
          let maxActive = 0
          const tokens: Array<bigint> = []
          const critical = (lease: Lease) =>
            Effect.gen(function* () {
              active++
              maxActive = Math.max(maxActive, active)
              tokens.push(lease.fencingToken)
              yield* Effect.sleep(Duration.millis(Math.min(50, ctx.d / 20)))
              active--
            })
          const worker = (manager: LeaseManagerShape) =>
            Effect.repeat(manager.withLease(name, critical, { ...ctx.opts, timeout: Duration.millis(ctx.d * 30) }), {
              times: cycles - 1
            })
          const all = yield* Effect.forkChild(Effect.forEach(managers, worker, { concurrency: "unbounded" }), {
            startImmediately: true
          })
          const exit = yield* ctx.settle(all, 10)
          assert.isTrue(Exit.isSuccess(exit), `contenders failed: ${String(exit)}`)
          expect(maxActive).toBe(1)
          expect(tokens.length).toBe(contenders * cycles)
          for (let i = 1; i < tokens.length; i++) {
            expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as bigint)
          }
        })
      ))

    test("fencing tokens strictly increase across holders, after expiry and after a break", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("fence")
          const noRenew = { ...ctx.opts, autoRenew: false }
          const first = yield* Effect.scoped(
            Effect.gen(function* () {
              const lease = yield* a.acquire(name, noRenew)
              // Let it expire in the store without releasing it.
              const lost = yield* Effect.forkChild(lease.lost, { startImmediately: true })
              const exit = yield* ctx.settle(lost)
              assert.isTrue(Exit.isSuccess(exit))
              if (Exit.isSuccess(exit)) expect(exit.value.reason).toBe("expired")
              return lease.fencingToken
            })
          )
          // B waits for the store's expiry (the first lease was never released).
          const acquireB = yield* Effect.forkChild(
            Effect.scoped(
              Effect.map(b.acquire(name, { ...ctx.opts, timeout: Duration.millis(ctx.d * 3) }), (l) => l.fencingToken)
            ),
            { startImmediately: true }
          )
          const second = yield* ctx.settle(acquireB)
          assert.isTrue(Exit.isSuccess(second), String(second))
          const secondToken = Exit.isSuccess(second) ? second.value : 0n
          expect(secondToken).toBeGreaterThan(first)
          const third = yield* Effect.scoped(Effect.map(a.acquire(name, ctx.opts), (l) => l.fencingToken))
          expect(third).toBeGreaterThan(secondToken)
          const scope = yield* Scope.make()
          yield* b.acquire(name, ctx.opts).pipe(Scope.provide(scope))
          expect(yield* a.breakLease(name)).toBe(true)
          const fourth = yield* Effect.scoped(Effect.map(a.acquire(name, ctx.opts), (l) => l.fencingToken))
          expect(fourth).toBeGreaterThan(third)
          yield* Scope.close(scope, Exit.void)
          const info = yield* a.inspect(name)
          expect(info.held).toBe(false)
          // The counter survives release: inspect of a free lease reports the last token where the store keeps it.
          if (info.fencingToken !== undefined) expect(info.fencingToken).toBe(fourth)
        })
      ))

    test("auto-renewal keeps a lease over many durations", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("renew")
          const lease = yield* a.acquire(name, ctx.opts)
          const spans = live ? 3 : 10
          for (let i = 0; i < spans * 4; i++) yield* ctx.advance(ctx.d / 4)
          expect(lease.state).toBe("held")
          expect(lease.renewalCount).toBeGreaterThanOrEqual(Math.floor(spans * 1.5) - 1)
          expect(lease.expiresAt.getTime()).toBeGreaterThan(lease.acquiredAt.getTime() + ctx.d * (spans - 1))
          const info = yield* a.inspect(name)
          expect(info.leaseId).toBe(lease.leaseId)
          expect(Option.isNone(yield* b.tryAcquire(name, ctx.opts))).toBe(true)
          expect(lease.lastSlack).toBeDefined()
        })
      ))

    test("a renewal outage is reported as lost before the store expires the lease", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const faults = ctx.faults()
          const a = yield* ctx.manager("holder-a", faults.provider)
          const name = ctx.name("outage")
          const lease = yield* a.acquire(name, ctx.opts)
          const events = yield* timelineEntry(lease.events)
          faults.failRenew = true
          const lost = yield* Effect.forkChild(
            Effect.flatMap(lease.lost, (error) =>
              // At the very moment of loss, the store must still hold the lease for us: we stopped trusting it first.
              Effect.map(ctx.real.inspect(name), (info) => ({ error, info }))
            ),
            { startImmediately: true }
          )
          const exit = yield* ctx.settle(lost, ctx.d / 100)
          assert.isTrue(Exit.isSuccess(exit))
          if (!Exit.isSuccess(exit)) return
          expect(exit.value.error.reason).toBe("unconfirmed")
          expect(exit.value.info.held).toBe(true)
          expect(exit.value.info.leaseId).toBe(lease.leaseId)
          expect(lease.state).toBe("lost")
          const timeline = yield* Fiber.join(events)
          expect(timeline[0]).toBe("Acquired")
          expect(timeline.at(-1)).toBe("Lost")
          expect(timeline.filter((t) => t === "RenewalFailed").length).toBeGreaterThanOrEqual(1)
          expect(faults.calls.renew).toBeGreaterThanOrEqual(2)
        })
      ))

    test("release is checked against the owner: a stale holder cannot free the new holder's lease", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("owner")
          const scopeA = yield* Scope.make()
          const stale = yield* a.acquire(name, { ...ctx.opts, autoRenew: false }).pipe(Scope.provide(scopeA))
          expect(yield* a.breakLease(name)).toBe(true)
          const current = yield* b.acquire(name, ctx.opts)
          // The stale holder's direct release with its old id must not free B's lease...
          expect(yield* ctx.real.release({ name, leaseId: stale.leaseId })).toBe(false)
          // ...and neither may its renewal extend it or its scope's release free it.
          const renewed = yield* Effect.flip(stale.renew)
          expect(renewed._tag).toBe("LeaseLostError")
          yield* Scope.close(scopeA, Exit.void)
          const info = yield* a.inspect(name)
          expect(info.held).toBe(true)
          expect(info.holderId).toBe("holder-b")
          expect(info.leaseId).toBe(current.leaseId)
        })
      ))

    test("timeout 0 attempts exactly once", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const faults = ctx.faults()
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b", faults.provider)
          const name = ctx.name("zero")
          // Free: timeout 0 still attempts, and wins.
          const won = yield* Effect.scoped(Effect.map(b.acquire(name, { ...ctx.opts, timeout: 0 }), (l) => l.state))
          expect(won).toBe("held")
          expect(faults.calls.acquire).toBe(1)
          yield* a.acquire(name, ctx.opts)
          faults.calls.acquire = 0
          expect(Option.isNone(yield* b.tryAcquire(name, ctx.opts))).toBe(true)
          expect(faults.calls.acquire).toBe(1)
          const error = yield* Effect.flip(b.acquire(name, { ...ctx.opts, timeout: 0 }))
          expect(error._tag).toBe("LeaseAcquisitionTimeoutError")
          if (error._tag === "LeaseAcquisitionTimeoutError") expect(error.attempts).toBe(1)
          expect(faults.calls.acquire).toBe(2)
          const tried = yield* b.tryAcquire(name, { ...ctx.opts, timeout: 0 })
          expect(Option.isNone(tried)).toBe(true)
          expect(faults.calls.acquire).toBe(3)
        })
      ))

    test("acquire fails with LeaseAcquisitionTimeoutError while the lease stays held", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("timeout")
          yield* a.acquire(name, ctx.opts)
          const timeoutMs = Math.round(ctx.d * 1.5)
          const waiting = yield* Effect.forkChild(Effect.flip(b.acquire(name, { ...ctx.opts, timeout: timeoutMs })), {
            startImmediately: true
          })
          const exit = yield* ctx.settle(waiting)
          assert.isTrue(Exit.isSuccess(exit))
          if (!Exit.isSuccess(exit)) return
          const error = exit.value
          expect(error._tag).toBe("LeaseAcquisitionTimeoutError")
          if (error._tag !== "LeaseAcquisitionTimeoutError") return
          expect(error.leaseName).toBe(name)
          expect(error.attempts).toBeGreaterThan(1)
          expect(Duration.toMillis(error.timeout)).toBe(timeoutMs)
          expect(error.message).toContain(name)
          expect((yield* a.inspect(name)).holderId).toBe("holder-a")
        })
      ))

    test("interruption while waiting leaves nothing held", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("interrupt")
          const scopeA = yield* Scope.make()
          yield* a.acquire(name, ctx.opts).pipe(Scope.provide(scopeA))
          const waiting = yield* Effect.forkChild(
            Effect.scoped(Effect.andThen(b.acquire(name, ctx.opts), Effect.never)),
            {
              startImmediately: true
            }
          )
          yield* ctx.advance(ctx.d / 10)
          yield* Fiber.interrupt(waiting)
          yield* Scope.close(scopeA, Exit.void)
          yield* ctx.advance(ctx.d / 10)
          const info = yield* a.inspect(name)
          expect(info.held).toBe(false)
        })
      ))

    test("an attempt in flight when interrupted is released as soon as it lands", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const faults = ctx.faults()
          const b = yield* ctx.manager("holder-b", faults.provider)
          const name = ctx.name("inflight")
          const gate = yield* Deferred.make<void>()
          faults.acquireGate = gate
          const waiting = yield* Effect.forkChild(
            Effect.scoped(Effect.andThen(b.acquire(name, ctx.opts), Effect.never)),
            {
              startImmediately: true
            }
          )
          yield* ctx.advance(1)
          expect(faults.calls.acquire).toBe(1)
          const interrupting = yield* Effect.forkChild(Fiber.interrupt(waiting), { startImmediately: true })
          yield* ctx.advance(1)
          // The attempt reaches the store after the interrupt and wins there...
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(interrupting)
          const exit = yield* Fiber.await(waiting)
          expect(Exit.hasInterrupts(exit)).toBe(true)
          // ...and the grant was released right away instead of being left held until it expires.
          const info = yield* ctx.real.inspect(name)
          expect(info.held).toBe(false)
          expect(faults.calls.release).toBe(1)
        })
      ))

    test("closing the scope releases the lease", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("scope")
          const events = yield* Effect.scoped(
            Effect.gen(function* () {
              const lease = yield* a.acquire(name, ctx.opts)
              return yield* timelineEntry(lease.events)
            })
          )
          expect(yield* Fiber.join(events)).toEqual(["Acquired", "Released"])
          const next = yield* b.tryAcquire(name, ctx.opts)
          expect(Option.isSome(next)).toBe(true)
        })
      ))

    test("a waiter takes over as soon as the holder releases", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const b = yield* ctx.manager("holder-b")
          const name = ctx.name("handoff")
          const scopeA = yield* Scope.make()
          const first = yield* a.acquire(name, ctx.opts).pipe(Scope.provide(scopeA))
          const waiting = yield* Effect.forkChild(b.acquire(name, ctx.opts), { startImmediately: true })
          yield* ctx.advance(ctx.d / 10)
          yield* Scope.close(scopeA, Exit.void)
          // With push wake-up the waiter needs no clock movement to notice; without it, it polls with backoff.
          const exit = yield* ctx.settle(waiting, ctx.real.capabilities.waitForRelease ? 1 : ctx.d / 50)
          assert.isTrue(Exit.isSuccess(exit))
          if (Exit.isSuccess(exit)) expect(exit.value.fencingToken).toBeGreaterThan(first.fencingToken)
        })
      ))

    test("withLease interrupts the work when the lease is lost", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const name = ctx.name("withlease")
          let interrupted = false
          const started = yield* Deferred.make<void>()
          const work = Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                interrupted = true
              })
            )
          )
          const running = yield* Effect.forkChild(Effect.flip(a.withLease(name, work, ctx.opts)), {
            startImmediately: true
          })
          yield* Deferred.await(started)
          expect(yield* a.breakLease(name)).toBe(true)
          const exit = yield* ctx.settle(running)
          assert.isTrue(Exit.isSuccess(exit))
          if (!Exit.isSuccess(exit)) return
          expect(exit.value._tag).toBe("LeaseLostError")
          if (exit.value._tag === "LeaseLostError") expect(["broken", "expired", "stolen"]).toContain(exit.value.reason)
          expect(interrupted).toBe(true)
          // The result of withLease is the work's, and the lease is released after it.
          const value = yield* a.withLease(name, (lease) => Effect.succeed(lease.fencingToken), ctx.opts)
          expect(typeof value).toBe("bigint")
          expect((yield* a.inspect(name)).held).toBe(false)
        })
      ))

    test("leases are not re-entrant, and distinct or differently-cased names are independent", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const base = ctx.name("names")
          const upper = `${base}/Ünïcode/🚀`
          const lower = `${base}/ünïcode/🚀`
          yield* a.acquire(upper, ctx.opts)
          expect(Option.isNone(yield* a.tryAcquire(upper, ctx.opts))).toBe(true)
          const other = yield* a.tryAcquire(lower, ctx.opts)
          expect(Option.isSome(other)).toBe(true)
          const long = `${base}/${"x".repeat(255 - base.length - 1)}`
          expect(Option.isSome(yield* a.tryAcquire(long, ctx.opts))).toBe(true)
        })
      ))

    test("manual renew extends the lease; renew after a break reports the loss", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const name = ctx.name("manual")
          const lease = yield* a.acquire(name, { ...ctx.opts, autoRenew: false })
          const before = lease.expiresAt.getTime()
          yield* ctx.advance(ctx.d / 4)
          yield* lease.renew
          expect(lease.expiresAt.getTime()).toBeGreaterThan(before)
          expect(lease.renewalCount).toBe(1)
          yield* ctx.advance(ctx.d / 2)
          // Renewed at d/4, so still held at 3d/4 although the original grant was due to run out at 0.9 d.
          yield* ctx.advance(ctx.d / 4)
          expect(lease.state).toBe("held")
          yield* a.breakLease(name)
          const error = yield* Effect.flip(lease.renew)
          expect(error._tag).toBe("LeaseLostError")
          expect(lease.state).toBe("lost")
          const lost = yield* lease.lost
          expect(["broken", "expired"]).toContain(lost.reason)
        })
      ))

    test("metadata is stored with the lease where the provider supports it", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const name = ctx.name("meta")
          yield* a.acquire(name, { ...ctx.opts, metadata: { region: "westeurope", build: "42" } })
          const info = yield* a.inspect(name)
          if (ctx.real.capabilities.metadata) {
            expect(info.metadata).toEqual({ region: "westeurope", build: "42" })
          } else {
            expect(info.metadata).toBeUndefined()
          }
        })
      ))

    /** Handoff tests run only where the provider declares the capability; elsewhere they check it is absent. */
    const handoffTest = (name: string, body: (ctx: Ctx) => Effect.Effect<void, unknown, Scope.Scope>) =>
      test(`handoff: ${name}`, () =>
        withCtx((ctx) =>
          ctx.real.capabilities.handoff
            ? body(ctx)
            : Effect.sync(() => {
                expect(ctx.real.handoff).toBeUndefined()
                expect(ctx.real.claim).toBeUndefined()
              })
        ))

    handoffTest("ownership moves to the successor with no moment when the lease is free", (ctx) =>
      Effect.gen(function* () {
        const a = yield* ctx.manager("holder-a")
        const b = yield* ctx.manager("holder-b")
        const name = ctx.name("handoff")
        const first = yield* a.acquire(name, ctx.opts)
        // A watcher polls the store continuously from before the handoff until after the claim.
        const seen: Array<string> = []
        let watching = true
        const watcher = yield* Effect.forkChild(
          Effect.gen(function* () {
            while (watching) {
              const info = yield* ctx.real.inspect(name)
              seen.push(info.held ? `held:${info.holderId}` : "free")
              yield* Effect.sleep(Duration.millis(live ? 2 : ctx.d / 1000))
            }
          }),
          { startImmediately: true }
        )
        yield* ctx.advance(ctx.d / 100)
        const token = yield* first.handoff("holder-b")
        expect(first.state).toBe("released")
        const reason = yield* first.lost
        expect(reason.reason).toBe("released")
        yield* ctx.advance(ctx.d / 100)
        const second = yield* b.claim(name, token, ctx.opts)
        expect(second.holderId).toBe("holder-b")
        expect(second.fencingToken).toBeGreaterThan(first.fencingToken)
        yield* ctx.advance(ctx.d / 100)
        watching = false
        yield* Fiber.interrupt(watcher)
        expect(seen.length).toBeGreaterThan(2)
        expect(seen).not.toContain("free")
        expect(seen[0]).toBe("held:holder-a")
        expect(seen.at(-1)).toBe("held:holder-b")
        const info = yield* a.inspect(name)
        expect(info.leaseId).toBe(second.leaseId)
        // The old holder can no longer renew; a third party cannot take it.
        expect((yield* Effect.flip(first.renew))._tag).toBe("LeaseLostError")
        expect(Option.isNone(yield* a.tryAcquire(name, ctx.opts))).toBe(true)
      })
    )

    handoffTest("a wrong token, the wrong successor or an expired reservation is a typed error", (ctx) =>
      Effect.gen(function* () {
        const a = yield* ctx.manager("holder-a")
        const b = yield* ctx.manager("holder-b")
        const c = yield* ctx.manager("holder-c")
        const name = ctx.name("claim")
        const lease = yield* a.acquire(name, ctx.opts)
        // A provider whose reservations last the lease's own duration refuses any other window up front.
        const fixed = ctx.real.capabilities.fixedClaimWindow === true
        if (fixed) {
          const refused = yield* Effect.flip(lease.handoff("holder-b", { claimWindow: Duration.millis(ctx.d / 2) }))
          expect(refused._tag).toBe("InvalidLeaseOptionsError")
          expect(lease.state).toBe("held")
        }
        const window = fixed ? ctx.d : ctx.d / 2
        const token = yield* lease.handoff("holder-b", fixed ? {} : { claimWindow: Duration.millis(window) })
        const wrong = yield* Effect.flip(b.claim(name, randomUUID(), ctx.opts))
        expect(wrong._tag).toBe("LeaseTransferError")
        if (wrong._tag === "LeaseTransferError") expect(wrong.reason).toBe("invalid-token")
        const intruder = yield* Effect.flip(c.claim(name, token, ctx.opts))
        expect(intruder._tag).toBe("LeaseTransferError")
        if (intruder._tag === "LeaseTransferError") expect(intruder.reason).toBe("not-successor")
        // Unclaimed, the reservation expires like a lease, and the lease is free again.
        yield* ctx.advance(window + ctx.d / 10)
        const late = yield* Effect.flip(b.claim(name, token, ctx.opts))
        expect(late._tag).toBe("LeaseTransferError")
        if (late._tag === "LeaseTransferError") expect(["expired", "invalid-token"]).toContain(late.reason)
        const next = yield* c.tryAcquire(name, ctx.opts)
        assert.isTrue(Option.isSome(next))
        if (Option.isSome(next)) expect(next.value.fencingToken).toBeGreaterThan(lease.fencingToken)
      })
    )

    handoffTest("a handoff racing a renewal: both are serialised and the successor gets the lease", (ctx) =>
      Effect.gen(function* () {
        const a = yield* ctx.manager("holder-a")
        const b = yield* ctx.manager("holder-b")
        const name = ctx.name("race-renew")
        const lease = yield* a.acquire(name, ctx.opts)
        const renewing = yield* Effect.forkChild(Effect.exit(lease.renew), { startImmediately: true })
        const handing = yield* Effect.forkChild(lease.handoff("holder-b"), { startImmediately: true })
        const renewed = yield* Fiber.join(renewing)
        const token = yield* Fiber.join(handing)
        // The renewal ran first (it was queued first) and succeeded; the handoff then committed.
        expect(Exit.isSuccess(renewed)).toBe(true)
        expect(lease.state).toBe("released")
        const claimed = yield* b.claim(name, token, ctx.opts)
        expect(claimed.fencingToken).toBeGreaterThan(lease.fencingToken)
        // A renewal after the handoff fails: the old grant is gone.
        expect((yield* Effect.flip(lease.renew))._tag).toBe("LeaseLostError")
      })
    )

    handoffTest("a handoff racing a break never leaves two holders", (ctx) =>
      Effect.gen(function* () {
        const a = yield* ctx.manager("holder-a")
        const b = yield* ctx.manager("holder-b")
        const name = ctx.name("race-break")
        const lease = yield* a.acquire(name, ctx.opts)
        const [handed, broken] = yield* Effect.all([Effect.exit(lease.handoff("holder-b")), a.breakLease(name)], {
          concurrency: "unbounded"
        })
        expect(broken).toBe(true)
        if (Exit.isSuccess(handed)) {
          // The handoff committed first and the break evicted the reservation: the claim must fail.
          const claim = yield* Effect.flip(b.claim(name, handed.value, ctx.opts))
          expect(claim._tag).toBe("LeaseTransferError")
        } else {
          // The break came first: the handoff found the lease gone.
          expect(lease.state).toBe("lost")
        }
        expect(lease.state === "held").toBe(false)
        const info = yield* a.inspect(name)
        expect(info.held).toBe(false)
      })
    )

    test("invalid names, durations and options are typed errors", () =>
      withCtx((ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.manager("holder-a")
          const field = (effect: Effect.Effect<unknown, { readonly _tag: string }, Scope.Scope>) =>
            Effect.map(Effect.flip(effect), (error) =>
              error._tag === "InvalidLeaseOptionsError" && "field" in error ? error.field : `wrong error: ${error._tag}`
            )
          for (const bad of ["", "   ", "line\nbreak", "x".repeat(256)]) {
            expect(yield* field(a.acquire(bad, ctx.opts))).toBe("name")
            expect(yield* field(a.inspect(bad))).toBe("name")
          }
          const name = ctx.name("invalid")
          expect(yield* field(a.acquire(name, { duration: -5 }))).toBe("duration")
          expect(yield* field(a.acquire(name, { duration: "soon" as never }))).toBe("duration")
          expect(yield* field(a.acquire(name, { ...ctx.opts, safetyThreshold: 0.99 }))).toBe("safetyThreshold")
          expect(yield* field(a.acquire(name, { ...ctx.opts, maxRetries: 1.5 }))).toBe("maxRetries")
          expect(
            yield* field(a.acquire(name, { ...ctx.opts, retryInterval: Duration.millis(ctx.d / 2), maxRetries: 3 }))
          ).toBe("retryInterval")
          expect(yield* field(a.acquire(name, { ...ctx.opts, timeout: -1 }))).toBe("timeout")
          const { minDuration, maxDuration } = ctx.real.capabilities
          if (minDuration !== undefined) {
            const tooShort = Duration.toMillis(minDuration) / 2
            expect(yield* field(a.acquire(name, { duration: tooShort }))).toBe("duration")
          }
          if (maxDuration !== undefined) {
            const tooLong = Duration.toMillis(maxDuration) * 2
            expect(yield* field(a.acquire(name, { duration: tooLong }))).toBe("duration")
          }
          // Nothing was taken by any of the rejected calls.
          expect((yield* a.inspect(name)).held).toBe(false)
        })
      ))
  })
}
