/**
 * The user-facing service: acquire, try, run under, inspect and break leases.
 *
 * `LeaseManager.layer` builds it on any `LeaseProvider` layer:
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { LeaseManager } from "distributed-leasing"
 * import { MemoryLeaseProvider } from "distributed-leasing/memory"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const leases = yield* LeaseManager
 *     const lease = yield* leases.acquire("nightly-report", { duration: "30 seconds" })
 *     yield* Effect.log(`holding with fencing token ${lease.fencingToken}`)
 *   }) // <- scope closes: renewal stops and the lease is released
 * )
 *
 * Effect.runPromise(program.pipe(Effect.provide(LeaseManager.layer.pipe(Layer.provide(MemoryLeaseProvider.layer())))))
 * ```
 *
 * @since 0.1.0
 */

import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Context, Duration, Effect, Layer, Option, type Scope } from "effect"
import * as Acquire from "./internal/acquire.ts"
import * as Runtime from "./internal/leaseRuntime.ts"
import { validateName } from "./internal/names.ts"
import * as Telemetry from "./internal/telemetry.ts"
import { Lease } from "./Lease.ts"
import {
  type InvalidLeaseOptionsError,
  InvalidLeaseOptionsError as InvalidOptions,
  type LeaseAcquisitionTimeoutError,
  type LeaseLostError,
  type LeaseTransferError,
  type ProviderUnavailableError
} from "./LeaseError.ts"
import * as LeaseOptions from "./LeaseOptions.ts"
import { type LeaseInfo, LeaseProvider, type LeaseProviderShape } from "./LeaseProvider.ts"

/**
 * What `acquire` can fail with.
 *
 * @since 0.1.0
 */
export type AcquireError = LeaseAcquisitionTimeoutError | ProviderUnavailableError | InvalidLeaseOptionsError

/**
 * Settings of a manager.
 *
 * @since 0.1.0
 */
export interface LeaseManagerConfig {
  /** Identifies this process as a holder. Default `host:pid:random`. */
  readonly holderId?: string | undefined
  /** Options applied to every lease, under the per-call options. */
  readonly defaults?: LeaseOptions.LeaseOptions | undefined
}

/**
 * The service.
 *
 * @since 0.1.0
 */
export interface LeaseManagerShape {
  /** This manager's holder id. */
  readonly holderId: string
  /** The provider it talks to. */
  readonly provider: LeaseProviderShape
  /**
   * Acquires `name`, waiting while it is held elsewhere (up to `options.timeout`, default: forever). The lease is
   * bound to the caller's `Scope`. Interrupting the wait leaves nothing held.
   */
  readonly acquire: (
    name: string,
    options?: LeaseOptions.LeaseOptions
  ) => Effect.Effect<Lease, AcquireError, Scope.Scope>
  /** Exactly one attempt: `Some(lease)` if granted, `None` if held elsewhere. */
  readonly tryAcquire: (
    name: string,
    options?: LeaseOptions.LeaseOptions
  ) => Effect.Effect<Option.Option<Lease>, ProviderUnavailableError | InvalidLeaseOptionsError, Scope.Scope>
  /**
   * Claims a lease handed to this holder with `lease.handoff(holderId)`, using the transfer token it returned. The
   * new lease has a higher fencing token. Fails with `LeaseTransferError` for a wrong or expired token.
   */
  readonly claim: (
    name: string,
    transferToken: string,
    options?: LeaseOptions.LeaseOptions
  ) => Effect.Effect<Lease, LeaseTransferError | ProviderUnavailableError | InvalidLeaseOptionsError, Scope.Scope>
  /**
   * Acquires `name`, runs `use` while holding it, then releases it. If the lease is lost first, `use` is
   * interrupted and the result fails with `LeaseLostError`.
   */
  readonly withLease: <A, E, R>(
    name: string,
    use: Effect.Effect<A, E, R> | ((lease: Lease) => Effect.Effect<A, E, R>),
    options?: LeaseOptions.LeaseOptions
  ) => Effect.Effect<A, E | AcquireError | LeaseLostError, Exclude<R, Scope.Scope>>
  /** Who holds `name` now, per the store. */
  readonly inspect: (name: string) => Effect.Effect<LeaseInfo, ProviderUnavailableError | InvalidLeaseOptionsError>
  /** Forcibly frees `name`, whoever holds it (an operator action). Returns whether a holder was evicted. */
  readonly breakLease: (name: string) => Effect.Effect<boolean, ProviderUnavailableError | InvalidLeaseOptionsError>
  /** Leases currently held through this manager. */
  readonly held: Effect.Effect<ReadonlyArray<Lease>>
}

/**
 * A holder id that tells operators where a lease is held: `host:pid:random`.
 *
 * @since 0.1.0
 */
export const defaultHolderId = (): string => `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`

/**
 * Resolves options for one lease and checks them against the provider's limits.
 *
 * @since 0.1.0
 */
export const resolveOptions = (
  provider: LeaseProviderShape,
  name: string,
  ...layers: ReadonlyArray<LeaseOptions.LeaseOptions | undefined>
): Effect.Effect<LeaseOptions.ResolvedLeaseOptions, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const resolved = yield* LeaseOptions.resolve(LeaseOptions.merge(...layers), name)
    const { minDuration, maxDuration } = provider.capabilities
    const outOfRange =
      (minDuration !== undefined && Duration.isLessThan(resolved.duration, minDuration)) ||
      (maxDuration !== undefined && Duration.isGreaterThan(resolved.duration, maxDuration))
    if (outOfRange) {
      return yield* new InvalidOptions({
        leaseName: name,
        provider: provider.name,
        field: "duration",
        detail:
          `the ${provider.name} provider can hold leases from ` +
          `${minDuration === undefined ? "0" : Duration.format(minDuration)} to ` +
          `${maxDuration === undefined ? "unlimited" : Duration.format(maxDuration)}, ` +
          `got ${Duration.format(resolved.duration)}`
      })
    }
    return resolved
  })

/** Resolved options kept per manager: resolving (a Schema decode and the schedule checks) costs more than a store call on the memory provider, and most callers pass the same few option sets. */
const maxCachedOptions = 256

/**
 * Resolves per-call options on top of `defaults`, remembering successful resolutions by the options' content (not
 * their identity: an options object may be mutated between calls). Failures are not kept, so their errors name the
 * lease they came from.
 */
const optionsCache = (provider: LeaseProviderShape, defaults: LeaseOptions.LeaseOptions | undefined) => {
  const cache = new Map<string, LeaseOptions.ResolvedLeaseOptions>()
  return (
    name: string,
    options: LeaseOptions.LeaseOptions | undefined
  ): Effect.Effect<LeaseOptions.ResolvedLeaseOptions, InvalidLeaseOptionsError> => {
    const key = options === undefined ? "" : contentKey(options)
    const hit = key === undefined ? undefined : cache.get(key)
    if (hit !== undefined) return Effect.succeed(hit)
    return Effect.map(resolveOptions(provider, name, defaults, options), (resolved) => {
      if (key !== undefined) {
        if (cache.size >= maxCachedOptions) cache.clear()
        cache.set(key, resolved)
      }
      return resolved
    })
  }
}

/**
 * A string that is equal for options with equal content, or `undefined` when they cannot be encoded. Scalars (the
 * usual `"30 seconds"`, numbers, booleans) are written directly, tagged with their type so `"10"` and `10` differ;
 * only objects (a `Duration`, `metadata`) go through `JSON.stringify`, which cost 3 µs per acquire when it ran on the
 * whole options object with a replacer.
 */
const contentKey = (options: LeaseOptions.LeaseOptions): string | undefined => {
  let key = ""
  const fields = options as Readonly<Record<string, unknown>>
  for (const name in fields) {
    const value = fields[name]
    switch (typeof value) {
      case "undefined":
        continue
      case "string":
        key += `${name}:s${value.length}:${value};`
        continue
      case "number":
      case "boolean":
      case "bigint":
        key += `${name}:${typeof value}:${String(value)};`
        continue
      case "object":
        try {
          key += `${name}:o:${JSON.stringify(value)};`
        } catch {
          return undefined
        }
        continue
      default:
        return undefined
    }
  }
  return key
}

/**
 * Builds a manager on the `LeaseProvider` in context.
 *
 * @since 0.1.0
 */
export const make = (config: LeaseManagerConfig = {}): Effect.Effect<LeaseManagerShape, never, LeaseProvider> =>
  Effect.gen(function* () {
    // Every store call becomes a child span of the lease operation that made it, and its failures are counted.
    const provider = Telemetry.instrument(yield* LeaseProvider)
    const holderId = config.holderId ?? defaultHolderId()
    const live = new Map<Runtime.LeaseRuntime, Lease>()
    const onEnd = (runtime: Runtime.LeaseRuntime) => {
      live.delete(runtime)
    }
    // One timer for all the leases of this manager, instead of a fiber and a timer per lease.
    const scheduler = Runtime.makeScheduler()
    const resolve = optionsCache(provider, config.defaults)
    const waiting = new Acquire.Waiting()

    const acquireWith = (name: string, options: LeaseOptions.LeaseOptions | undefined, once: boolean) =>
      Effect.flatMap(Runtime.monotonicMillis, (started) => {
        const outcome = (result: "acquired" | "timeout" | "error") =>
          Effect.flatMap(Runtime.monotonicMillis, (now) => Telemetry.acquisition(provider.name, result, now - started))
        return attemptAcquire(name, options, once, outcome).pipe(
          Effect.tapError((error) => {
            const result = error._tag === "LeaseAcquisitionTimeoutError" ? "timeout" : "error"
            return Effect.andThen(Effect.annotateCurrentSpan("lease.outcome", result), outcome(result))
          })
        )
      }).pipe(
        Telemetry.span(once ? "lease.try_acquire" : "lease.acquire", {
          attributes: { "lease.name": name, "lease.provider": provider.name }
        })
      )

    /** Resolves the per-call inputs shared by acquire and claim. */
    const prepare = (name: string, options: LeaseOptions.LeaseOptions | undefined) =>
      Effect.gen(function* () {
        yield* validateName(name, provider.name)
        const resolved = yield* resolve(name, options)
        const args: Acquire.AcquireArgs = {
          provider,
          name,
          holderId: resolved.holderId ?? holderId,
          options: resolved,
          waiting
        }
        yield* Effect.annotateCurrentSpan("lease.holder_id", args.holderId)
        return args
      })

    /** Turns a grant into a lease on `parent`. Runs inside the uninterruptible region that received the grant. */
    const startLease = (args: Acquire.AcquireArgs, grant: Runtime.Grant, parent: Scope.Scope) =>
      Effect.gen(function* () {
        const runtime = yield* Runtime.start({
          name: args.name,
          holderId: args.holderId,
          provider,
          options: args.options,
          grant,
          parent,
          scheduler,
          onEnd
        })
        const lease = new Lease(runtime)
        live.set(runtime, lease)
        yield* Effect.annotateCurrentSpan({
          "lease.outcome": "acquired",
          "lease.id": lease.leaseId,
          "lease.fencing_token": lease.fencingToken.toString()
        })
        return lease
      })

    const attemptAcquire = (
      name: string,
      options: LeaseOptions.LeaseOptions | undefined,
      once: boolean,
      outcome: (result: "acquired" | "timeout") => Effect.Effect<void>
    ) =>
      Effect.gen(function* () {
        const args = yield* prepare(name, options)
        const parent = yield* Effect.scope
        // Uninterruptible except while waiting (`restore`): a grant is always turned into a lease registered on
        // the caller's scope before an interruption can take effect, so nothing is ever left held unseen.
        return yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            const grant = yield* Acquire.waitForGrant(args, once, restore)
            if (Option.isNone(grant)) {
              yield* Effect.annotateCurrentSpan("lease.outcome", "held")
              yield* outcome("timeout")
              return Option.none<Lease>()
            }
            const lease = yield* startLease(args, grant.value, parent)
            yield* outcome("acquired")
            return Option.some(lease)
          })
        )
      })

    const claim = (name: string, transferToken: string, options?: LeaseOptions.LeaseOptions) =>
      Effect.gen(function* () {
        const args = yield* prepare(name, options)
        const parent = yield* Effect.scope
        return yield* Effect.uninterruptible(
          Effect.flatMap(Acquire.claimOnce(args, transferToken), (grant) => startLease(args, grant, parent))
        )
      }).pipe(
        Effect.tapError((error) => Effect.annotateCurrentSpan("lease.outcome", error._tag)),
        Telemetry.span("lease.claim", {
          attributes: { "lease.name": name, "lease.provider": provider.name }
        })
      )

    // On a synchronous store (memory) a burst of acquisitions never suspends, so timers (renewals, deadlines) would
    // not run until the burst ends, by which time early leases are past their safety deadline. Every 16th grant
    // yields to the event loop.
    let grants = 0
    const breathe = <A>(value: A) => (++grants % 16 === 0 ? Effect.as(Effect.yieldNow, value) : Effect.succeed(value))

    const acquire = (name: string, options?: LeaseOptions.LeaseOptions) =>
      acquireWith(name, options, false).pipe(
        // waitForGrant returns None only in `once` mode, so this is a grant.
        Effect.flatMap((lease) => (Option.isSome(lease) ? breathe(lease.value) : Effect.die("unreachable")))
      )

    const tryAcquire = (name: string, options?: LeaseOptions.LeaseOptions) =>
      acquireWith(name, options, true).pipe(
        Effect.catchTag("LeaseAcquisitionTimeoutError", () => Effect.succeed(Option.none<Lease>())),
        Effect.flatMap(
          (lease): Effect.Effect<Option.Option<Lease>> =>
            Option.isSome(lease) ? breathe(lease) : Effect.succeed(lease)
        )
      )

    const withLease = <A, E, R>(
      name: string,
      use: Effect.Effect<A, E, R> | ((lease: Lease) => Effect.Effect<A, E, R>),
      options?: LeaseOptions.LeaseOptions
    ): Effect.Effect<A, E | AcquireError | LeaseLostError, Exclude<R, Scope.Scope>> =>
      Effect.scoped(
        Effect.gen(function* () {
          const lease = yield* acquire(name, options)
          const work = typeof use === "function" ? use(lease) : use
          return yield* Effect.raceFirst(work, Effect.flatMap(lease.lost, Effect.fail))
        })
      )

    const inspect = (name: string) => validateName(name, provider.name).pipe(Effect.andThen(provider.inspect(name)))

    const breakLease = (name: string) =>
      validateName(name, provider.name).pipe(
        Effect.andThen(provider.breakLease(name)),
        Effect.tap((evicted) => Effect.annotateCurrentSpan("lease.outcome", evicted ? "broken" : "free")),
        Effect.tap((evicted) =>
          evicted
            ? Effect.logInfo("lease broken by an operator").pipe(
                Effect.annotateLogs({ "lease.name": name, "lease.provider": provider.name })
              )
            : Effect.void
        ),
        Telemetry.span("lease.break", {
          attributes: { "lease.name": name, "lease.provider": provider.name }
        })
      )

    const shape: LeaseManagerShape = {
      holderId,
      provider,
      acquire,
      tryAcquire,
      claim,
      withLease,
      inspect,
      breakLease,
      held: Effect.sync(() => Array.from(live.values()))
    }
    return shape
  })

/**
 * The lease manager service. `yield* LeaseManager` gives the service; the statics build it and call it.
 *
 * @since 0.1.0
 */
export class LeaseManager extends Context.Service<LeaseManager, LeaseManagerShape>()(
  "distributed-leasing/LeaseManager"
) {
  /** A manager with a generated holder id and the default options. Needs a `LeaseProvider`. */
  static readonly layer: Layer.Layer<LeaseManager, never, LeaseProvider> = Layer.effect(LeaseManager, make())

  /** A manager with the given holder id and default options. Needs a `LeaseProvider`. */
  static readonly layerWith = (config: LeaseManagerConfig): Layer.Layer<LeaseManager, never, LeaseProvider> =>
    Layer.effect(LeaseManager, make(config))

  /** Builds a manager value (for several holders in one process, e.g. in tests). */
  static readonly make = make

  /** `acquire` on the manager in context. */
  static readonly acquire = (
    name: string,
    options?: LeaseOptions.LeaseOptions
  ): Effect.Effect<Lease, AcquireError, LeaseManager | Scope.Scope> =>
    LeaseManager.use((manager) => manager.acquire(name, options))

  /** `tryAcquire` on the manager in context. */
  static readonly tryAcquire = (
    name: string,
    options?: LeaseOptions.LeaseOptions
  ): Effect.Effect<
    Option.Option<Lease>,
    ProviderUnavailableError | InvalidLeaseOptionsError,
    LeaseManager | Scope.Scope
  > => LeaseManager.use((manager) => manager.tryAcquire(name, options))

  /** `claim` on the manager in context. */
  static readonly claim = (
    name: string,
    transferToken: string,
    options?: LeaseOptions.LeaseOptions
  ): Effect.Effect<
    Lease,
    LeaseTransferError | ProviderUnavailableError | InvalidLeaseOptionsError,
    LeaseManager | Scope.Scope
  > => LeaseManager.use((manager) => manager.claim(name, transferToken, options))

  /** `withLease` on the manager in context. */
  static readonly withLease = <A, E, R>(
    name: string,
    use: Effect.Effect<A, E, R> | ((lease: Lease) => Effect.Effect<A, E, R>),
    options?: LeaseOptions.LeaseOptions
  ): Effect.Effect<A, E | AcquireError | LeaseLostError, Exclude<R, Scope.Scope> | LeaseManager> =>
    LeaseManager.use((manager) => manager.withLease(name, use, options))

  /** `inspect` on the manager in context. */
  static readonly inspect = (
    name: string
  ): Effect.Effect<LeaseInfo, ProviderUnavailableError | InvalidLeaseOptionsError, LeaseManager> =>
    LeaseManager.use((manager) => manager.inspect(name))

  /** `breakLease` on the manager in context. */
  static readonly breakLease = (
    name: string
  ): Effect.Effect<boolean, ProviderUnavailableError | InvalidLeaseOptionsError, LeaseManager> =>
    LeaseManager.use((manager) => manager.breakLease(name))
}
