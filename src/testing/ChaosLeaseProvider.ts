/**
 * Fault injection for any provider: a `LeaseProvider` that wraps the one provided underneath it.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { LeaseManager } from "distributed-leasing"
 * import { MemoryLeaseProvider } from "distributed-leasing/memory"
 * import { ChaosLeaseProvider, Fault, FaultPolicy, Latency } from "distributed-leasing/testing"
 *
 * const Chaos = ChaosLeaseProvider.layer({
 *   seed: 42,
 *   renew: [{ when: FaultPolicy.probability(0.2), fault: Fault.unavailable() }],
 *   all: [{ fault: Fault.latency(Latency.uniform("5 millis", "50 millis")) }]
 * })
 * const Leasing = LeaseManager.layer.pipe(Layer.provideMerge(Chaos), Layer.provide(MemoryLeaseProvider.layer()))
 * ```
 *
 * Because the core renews through the `LeaseProvider` in context, **automatic renewals go through the wrapper**
 * (the original's renewals bypassed it). Per call, each applicable rule is asked **once** (the original asked twice,
 * so p became p²), decisions are drawn from a generator seeded by `seed` (which the original ignored), and the
 * layer really wraps the provider below it (the original's DI registration wrapped nothing).
 *
 * Order of one call: `all` rules then the operation's rules are decided (latencies sampled, errors built) in one
 * synchronous step; request-phase faults apply in rule order (latency sleeps, a theft breaks the lease, the first
 * failure or timeout ends the call); then the call meets a partition or pause if one is on, reaches the real
 * provider, and reply-phase faults apply to the answer. Every injected fault is a `ChaosEvent`.
 *
 * `waitForRelease` (the push wake-up of waiters) passes through untouched: waiters always re-check with an
 * acquire, which is faulted.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Duration, Effect, Fiber, Layer, PubSub, Random, type Scope, Stream } from "effect"
import { ProviderUnavailableError } from "../LeaseError.ts"
import { LeaseProvider, type LeaseProviderShape } from "../LeaseProvider.ts"
import { ChaosController, type ChaosControllerShape, type ChaosStats } from "./ChaosController.ts"
import { type CallInfo, ChaosEvent, type PartitionMode } from "./ChaosEvent.ts"
import type { AcquireFaultError, ChaosRules, Fault, FaultRule, Phase, RenewFaultError } from "./Fault.ts"
import { always, type ChaosOperation, type DecisionContext, type FaultPolicy } from "./FaultPolicy.ts"
import * as Prng from "./internal/prng.ts"

/**
 * Options: the rules per operation (see `ChaosRules`), plus:
 *
 * @since 0.1.0
 */
export interface ChaosOptions extends ChaosRules {
  /** Seed of the decisions. Same seed and same order of calls → same decisions. Default: drawn from `Random`. */
  readonly seed?: number | undefined
  /** Apply the rules from the start. Default `true`. */
  readonly enabled?: boolean | undefined
  /**
   * Called synchronously with every event (for Promise code, counters and logs). It must not throw; if it does,
   * the exception is swallowed so that a broken callback cannot change the run.
   */
  readonly onFault?: ((event: ChaosEvent) => void) | undefined
}

interface CompiledRule<E> {
  readonly label: string
  readonly fault: Fault<E>
  readonly policy: FaultPolicy
  readonly matches: (name: string) => boolean
  /** How many calls this rule was asked about (its own counter: `DecisionContext.call`). */
  calls: number
}

/** Per operation: the `all` rules, then the operation's own (the order they are asked in). */
interface CompiledRules {
  readonly acquire: ReadonlyArray<CompiledRule<AcquireFaultError>>
  readonly renew: ReadonlyArray<CompiledRule<RenewFaultError>>
  readonly release: ReadonlyArray<CompiledRule<ProviderUnavailableError>>
  readonly inspect: ReadonlyArray<CompiledRule<ProviderUnavailableError>>
  readonly break: ReadonlyArray<CompiledRule<ProviderUnavailableError>>
}

const matcher = (leases: FaultRule["leases"]): ((name: string) => boolean) => {
  if (leases === undefined) return () => true
  if (typeof leases === "string") return (name) => name === leases
  if (leases instanceof RegExp) return (name) => leases.test(name)
  return leases
}

const compileList = <E>(
  prefix: string,
  rules: ReadonlyArray<FaultRule<E>> | undefined
): ReadonlyArray<CompiledRule<E>> =>
  (rules ?? []).map((rule, index) => ({
    label: rule.label ?? `${prefix}[${index}]`,
    fault: rule.fault,
    policy: rule.when ?? always,
    matches: matcher(rule.leases),
    calls: 0
  }))

const compile = (rules: ChaosRules): CompiledRules => {
  // One compiled `all` list shared by every operation, so its rules keep one counter across operations.
  const all = compileList("all", rules.all)
  return {
    acquire: [...all, ...compileList("acquire", rules.acquire)],
    renew: [...all, ...compileList("renew", rules.renew)],
    release: [...all, ...compileList("release", rules.release)],
    inspect: [...all, ...compileList("inspect", rules.inspect)],
    break: [...all, ...compileList("break", rules.break)]
  }
}

/** What was decided for one call, drawn in one synchronous step. */
type Decision<E> =
  | { readonly _tag: "Latency"; readonly rule: string; readonly phase: Phase; readonly delay: Duration.Duration }
  | { readonly _tag: "Failure"; readonly rule: string; readonly phase: Phase; readonly error: E }
  | { readonly _tag: "Timeout"; readonly rule: string; readonly phase: Phase }
  | { readonly _tag: "Steal"; readonly rule: string }

interface Pending {
  readonly run: Effect.Effect<void>
  abandoned: boolean
}

const zeroCounts = (): Record<ChaosOperation, number> => ({ acquire: 0, renew: 0, release: 0, inspect: 0, break: 0 })

const zeroEvents = (): Record<ChaosEvent["_tag"], number> => ({
  Latency: 0,
  Failure: 0,
  Timeout: 0,
  Theft: 0,
  Partitioned: 0,
  Paused: 0,
  PartitionStarted: 0,
  PartitionEnded: 0,
  PauseStarted: 0,
  PauseEnded: 0
})

const toMillis = (input: Duration.Input | undefined): number =>
  input === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(Duration.fromInputUnsafe(input))

/**
 * Wraps `real`. The controller (and its background timers) lives in the current `Scope`.
 *
 * @since 0.1.0
 */
export const make = (
  real: LeaseProviderShape,
  options: ChaosOptions = {}
): Effect.Effect<ChaosControllerShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const seed = Prng.normalizeSeed(options.seed ?? Math.floor((yield* Random.next) * 2 ** 32))
    const prng = Prng.make(seed)
    const start = yield* Clock.currentTimeMillis
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<ChaosEvent>(), PubSub.shutdown)
    const onFault = options.onFault

    let enabled = options.enabled ?? true
    let rules = compile(options)
    const calls = zeroCounts()
    const faulted = zeroCounts()
    const eventCounts = zeroEvents()

    let partitionState: { readonly until: number; readonly mode: PartitionMode } | undefined
    let partitionGeneration = 0
    let pauseState: { readonly deliverLate: boolean } | undefined
    let pauseGeneration = 0
    const queue: Array<Pending> = []
    // Set while held calls are being delivered: calls made meanwhile queue behind them, so order is kept.
    let draining = false
    let drainer: Fiber.Fiber<void> | undefined

    const emit = (event: ChaosEvent): void => {
      eventCounts[event._tag]++
      PubSub.publishUnsafe(pubsub, event)
      if (onFault !== undefined) {
        try {
          onFault(event)
        } catch {
          // A test's callback must not change the run it observes.
        }
      }
    }

    const stealNow = (
      name: string,
      source: "rule" | "controller",
      operation: ChaosOperation | undefined,
      rule: string | undefined
    ): Effect.Effect<boolean, ProviderUnavailableError> =>
      Effect.gen(function* () {
        // Who is evicted, for the event (and for checks that must tell a theft from a failure of the core).
        const before = yield* Effect.result(real.inspect(name))
        const evicted = yield* real.breakLease(name)
        const info = before._tag === "Success" && before.success.held ? before.success : undefined
        emit(
          ChaosEvent.Theft({
            at: yield* Clock.currentTimeMillis,
            leaseName: name,
            evicted,
            evictedLeaseId: evicted ? info?.leaseId : undefined,
            evictedHolderId: evicted ? info?.holderId : undefined,
            source,
            operation,
            rule
          })
        )
        return evicted
      })

    const partitionError = (info: CallInfo) =>
      new ProviderUnavailableError({
        provider: real.name,
        operation: info.operation,
        isRetryable: true,
        leaseName: info.leaseName,
        leaseId: info.leaseId,
        detail: "the store is partitioned (injected by the chaos provider)"
      })

    /** Holds a call while the store is paused; it runs when the pause ends (see `drain`). */
    const hold = <A, E>(info: CallInfo, forward: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.gen(function* () {
        const deferred = yield* Deferred.make<A, E>()
        const entry: Pending = {
          run: Effect.exit(forward).pipe(
            Effect.flatMap((exit) => Deferred.done(deferred, exit)),
            Effect.asVoid
          ),
          abandoned: false
        }
        queue.push(entry)
        emit(ChaosEvent.Paused(info))
        return yield* Deferred.await(deferred).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              entry.abandoned = true
            })
          )
        )
      })

    /** The call meets the store: a partition, a pause, or the real provider. */
    const deliver = <A, E>(
      info: CallInfo,
      forward: Effect.Effect<A, E>,
      noteFault: () => void
    ): Effect.Effect<A, E | ProviderUnavailableError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const partition = partitionState
        if (partition !== undefined && now < partition.until) {
          noteFault()
          emit(ChaosEvent.Partitioned({ ...info, at: now, mode: partition.mode }))
          return yield* partition.mode === "fail" ? Effect.fail(partitionError(info)) : Effect.never
        }
        if (pauseState !== undefined || draining) {
          noteFault()
          return yield* hold({ ...info, at: now }, forward)
        }
        return yield* forward
      })

    /**
     * One call through the chaos. `I` are the errors the rules may inject, all of which the operation can fail
     * with; partitions add `ProviderUnavailableError`, which every operation can fail with.
     */
    const intercept = <A, E, I extends AcquireFaultError | RenewFaultError>(
      operation: ChaosOperation,
      name: string,
      leaseId: string | undefined,
      applicable: ReadonlyArray<CompiledRule<I>>,
      forward: Effect.Effect<A, E>
    ): Effect.Effect<A, E | I | ProviderUnavailableError> =>
      Effect.suspend(() => {
        const call = ++calls[operation]
        // The quiet path costs one counter: chaos at p = 0 must not slow a large simulation down.
        if (
          (!enabled || applicable.length === 0) &&
          partitionState === undefined &&
          pauseState === undefined &&
          !draining
        ) {
          return forward
        }
        return decideAndRun(operation, name, leaseId, call, applicable, forward)
      })

    const decideAndRun = <A, E, I extends AcquireFaultError | RenewFaultError>(
      operation: ChaosOperation,
      name: string,
      leaseId: string | undefined,
      call: number,
      applicable: ReadonlyArray<CompiledRule<I>>,
      forward: Effect.Effect<A, E>
    ): Effect.Effect<A, E | I | ProviderUnavailableError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const info: CallInfo = { at: now, operation, leaseName: name, leaseId, call }
        let counted = false
        const noteFault = () => {
          if (counted) return
          counted = true
          faulted[operation]++
        }

        // Decide, in one synchronous step: each applicable rule is asked exactly once, and everything random
        // (latencies) is drawn now, so one call's draws are contiguous and a run replays from its seed.
        const decisions: Array<Decision<I>> = []
        if (enabled) {
          for (const rule of applicable) {
            if (!rule.matches(name)) continue
            rule.calls++
            const context: DecisionContext = {
              operation,
              name,
              leaseId,
              provider: real.name,
              call: rule.calls,
              now,
              elapsed: now - start,
              random: prng.next
            }
            if (!rule.policy.decide(context)) continue
            const fault = rule.fault
            switch (fault._tag) {
              case "Latency":
                decisions.push({
                  _tag: "Latency",
                  rule: rule.label,
                  phase: fault.phase,
                  delay: fault.latency.sample(prng.next)
                })
                break
              case "Failure":
                decisions.push({ _tag: "Failure", rule: rule.label, phase: fault.phase, error: fault.error(context) })
                break
              case "Timeout":
                decisions.push({ _tag: "Timeout", rule: rule.label, phase: fault.phase })
                break
              case "Steal":
                decisions.push({ _tag: "Steal", rule: rule.label })
                break
            }
          }
        }
        if (decisions.length > 0) noteFault()

        const apply = (phase: Phase) =>
          Effect.gen(function* () {
            for (const decision of decisions) {
              if (decision._tag === "Steal") {
                if (phase === "request") {
                  yield* stealNow(name, "rule", operation, decision.rule).pipe(Effect.ignore)
                }
                continue
              }
              if (decision.phase !== phase) continue
              const at = yield* Clock.currentTimeMillis
              switch (decision._tag) {
                case "Latency":
                  emit(ChaosEvent.Latency({ ...info, at, rule: decision.rule, phase, delay: decision.delay }))
                  yield* Effect.sleep(decision.delay)
                  break
                case "Failure":
                  emit(
                    ChaosEvent.Failure({
                      ...info,
                      at,
                      rule: decision.rule,
                      phase,
                      error: decision.error
                    })
                  )
                  return yield* Effect.fail(decision.error)
                case "Timeout":
                  emit(ChaosEvent.Timeout({ ...info, at, rule: decision.rule, phase }))
                  return yield* Effect.never
              }
            }
          })

        if (decisions.length === 0) return yield* deliver(info, forward, noteFault)
        yield* apply("request")
        const answer = yield* Effect.exit(deliver(info, forward, noteFault))
        yield* apply("reply")
        return yield* answer
      })

    const drain = (deliverLate: boolean): Effect.Effect<void> =>
      Effect.gen(function* () {
        let delivered = 0
        let dropped = 0
        // Stop if a new pause starts meanwhile: what is left waits for the next resume.
        while (pauseState === undefined) {
          const entry = queue.shift()
          if (entry === undefined) break
          if (entry.abandoned && !deliverLate) {
            dropped++
            continue
          }
          yield* entry.run
          delivered++
        }
        draining = false
        emit(ChaosEvent.PauseEnded({ at: yield* Clock.currentTimeMillis, delivered, dropped }))
      })

    const resume: Effect.Effect<void> = Effect.gen(function* () {
      const state = pauseState
      if (state !== undefined) {
        pauseState = undefined
        pauseGeneration++
        draining = true
        // The drain runs in the controller's scope, so an interrupted `resume` cannot strand held calls.
        drainer = yield* Effect.forkIn(drain(state.deliverLate), scope, { startImmediately: true })
      }
      const running = drainer
      if (draining && running !== undefined) yield* Fiber.join(running)
    })

    const pause = (
      duration?: Duration.Input | undefined,
      pauseOptions?: { readonly deliverLate?: boolean | undefined }
    ): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const ms = toMillis(duration)
        const deliverLate = pauseOptions?.deliverLate ?? true
        pauseState = { deliverLate }
        const generation = ++pauseGeneration
        emit(ChaosEvent.PauseStarted({ at: now, until: Number.isFinite(ms) ? now + ms : undefined, deliverLate }))
        if (Number.isFinite(ms)) {
          yield* Effect.forkIn(
            Effect.sleep(Duration.millis(ms)).pipe(
              Effect.andThen(Effect.suspend(() => (generation === pauseGeneration ? resume : Effect.void)))
            ),
            scope
          )
        }
      })

    const endPartition = Effect.gen(function* () {
      if (partitionState === undefined) return
      partitionState = undefined
      partitionGeneration++
      emit(ChaosEvent.PartitionEnded({ at: yield* Clock.currentTimeMillis }))
    })

    const partition = (
      duration?: Duration.Input | undefined,
      partitionOptions?: { readonly mode?: PartitionMode | undefined }
    ): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const ms = toMillis(duration)
        const mode = partitionOptions?.mode ?? "fail"
        partitionState = { until: now + ms, mode }
        const generation = ++partitionGeneration
        emit(ChaosEvent.PartitionStarted({ at: now, until: Number.isFinite(ms) ? now + ms : undefined, mode }))
        if (Number.isFinite(ms)) {
          // Calls check the deadline themselves (exact under TestClock); this timer only announces the end.
          yield* Effect.forkIn(
            Effect.sleep(Duration.millis(ms)).pipe(
              Effect.andThen(Effect.suspend(() => (generation === partitionGeneration ? endPartition : Effect.void)))
            ),
            scope
          )
        }
      })

    const provider: LeaseProviderShape = {
      name: real.name,
      capabilities: real.capabilities,
      tryAcquire: (request) =>
        Effect.suspend(() =>
          intercept("acquire", request.name, request.leaseId, rules.acquire, real.tryAcquire(request))
        ),
      renew: (request) =>
        Effect.suspend(() => intercept("renew", request.name, request.leaseId, rules.renew, real.renew(request))),
      release: (request) =>
        Effect.suspend(() => intercept("release", request.name, request.leaseId, rules.release, real.release(request))),
      inspect: (name) => Effect.suspend(() => intercept("inspect", name, undefined, rules.inspect, real.inspect(name))),
      breakLease: (name) =>
        Effect.suspend(() => intercept("break", name, undefined, rules.break, real.breakLease(name))),
      waitForRelease: real.waitForRelease,
      // Handoff and claim pass through unfaulted (they are not chaos operations yet), so the wrapped provider
      // offers exactly the capabilities it declares.
      handoff: real.handoff,
      claim: real.claim
    }

    const stats: Effect.Effect<ChaosStats> = Effect.sync(() => ({
      seed,
      calls: { ...calls },
      faulted: { ...faulted },
      events: { ...eventCounts }
    }))

    const controller: ChaosControllerShape = {
      provider,
      underlying: real,
      seed,
      events: Stream.fromPubSub(pubsub),
      stats,
      enabled: Effect.sync(() => enabled),
      enable: Effect.sync(() => {
        enabled = true
      }),
      disable: Effect.sync(() => {
        enabled = false
      }),
      setRules: (next) =>
        Effect.sync(() => {
          rules = compile(next)
        }),
      partition,
      heal: endPartition,
      partitioned: Effect.map(
        Clock.currentTimeMillis,
        (now) => partitionState !== undefined && now < partitionState.until
      ),
      pause,
      resume,
      paused: Effect.sync(() => pauseState !== undefined),
      steal: (name) => stealNow(name, "controller", undefined, undefined)
    }
    return controller
  })

/**
 * The faulty provider and its controller, wrapping the `LeaseProvider` provided under this layer:
 * `ChaosLeaseProvider.layer(options).pipe(Layer.provide(MemoryLeaseProvider.layer()))`.
 *
 * @since 0.1.0
 */
export const layer = (options: ChaosOptions = {}): Layer.Layer<LeaseProvider | ChaosController, never, LeaseProvider> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const real = yield* LeaseProvider
      const controller = yield* make(real, options)
      return Context.make(LeaseProvider, controller.provider).pipe(Context.add(ChaosController, controller))
    })
  )

/**
 * `layer(options)` over `real`: `ChaosLeaseProvider.wrap(RedisLeaseProvider.layer({ url }), { seed: 1, ... })`.
 *
 * @since 0.1.0
 */
export const wrap = <E, R>(
  real: Layer.Layer<LeaseProvider, E, R>,
  options: ChaosOptions = {}
): Layer.Layer<LeaseProvider | ChaosController, E, R> => layer(options).pipe(Layer.provide(real))
