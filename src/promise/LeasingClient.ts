/**
 * The Promise API's client: `createLeasing({ provider })`, then `acquire`, `tryAcquire`, `withLease`, `inspect`,
 * `breakLease` and the fluent `lease(name)` builder.
 *
 * ```ts
 * import { createLeasing } from "distributed-leasing/promise"
 * import { MemoryLeaseProvider } from "distributed-leasing/memory"
 *
 * await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer() })
 * await using lease = await leasing.acquire("nightly-report", { duration: "30 seconds" })
 * await generateReport({ signal: lease.signal, fencingToken: lease.fencingToken })
 * ```
 *
 * Every method is one run of the matching `LeaseManager` effect through the client's `ManagedRuntime`; the lease
 * logic (waiting, renewal, loss, release) is the Effect API's, never re-implemented here.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Layer, type LogLevel, Option, Scope } from "effect"
import * as LeaseHealth from "../health/LeaseHealth.ts"
import type { Lease as CoreLease } from "../Lease.ts"
import type { LeaseTransferError } from "../LeaseError.ts"
import { type AcquireError, LeaseManager } from "../LeaseManager.ts"
import type { LeaseProvider } from "../LeaseProvider.ts"
import { type LeaderElectionClient, make as makeElection } from "./LeaderElection.ts"
import { type Lease, make as makeLease } from "./Lease.ts"
import { LeaseBuilder, type LeaseBuilderTarget } from "./LeaseBuilder.ts"
import { type AcquireOptions, type DurationInput, type LeaseOptions, toCoreOptions } from "./options.ts"
import { CallbackFailure, ClientRuntime } from "./runner.ts"

/**
 * What `inspect` returns: who holds a lease now, per the store. A plain object.
 *
 * @since 0.1.0
 */
export interface LeaseInfo {
  readonly name: string
  readonly held: boolean
  readonly holderId?: string
  readonly leaseId?: string
  /** The token of the current grant if held, else the last token granted (if any). */
  readonly fencingToken?: bigint
  /** When the current grant runs out (wall clock). */
  readonly expiresAt?: Date
  /** When the current grant was made, when the store records it. */
  readonly acquiredAt?: Date
  readonly metadata?: Readonly<Record<string, string>>
}

/**
 * Options of `leasing.election(name)`: lease options plus how often to observe the leader.
 *
 * @since 0.1.0
 */
export interface ElectionOptions extends LeaseOptions {
  /** How often the observed `leader` is re-read from the store. Default: half of the renew interval. */
  readonly observeInterval?: DurationInput | undefined
}

/**
 * Settings shared by every way of creating a client.
 *
 * @since 0.1.0
 */
export interface ClientOptions {
  /**
   * The least severe log level written (the library logs renewal failures and losses as warnings, and listener
   * failures). Default `"Info"`; `"None"` silences it.
   */
  readonly logLevel?: LogLevel.LogLevel | undefined
}

/**
 * Options of `createLeasing`.
 *
 * @since 0.1.0
 */
export interface CreateLeasingOptions extends ClientOptions {
  /**
   * The provider layer, for example `MemoryLeaseProvider.layer()` or `RedisLeaseProvider.layer({ url })`. It is
   * built on first use (or by `ready()`) and torn down by `close()`.
   */
  readonly provider: Layer.Layer<LeaseProvider, unknown>
  /** Options applied to every lease, under the per-call options. */
  readonly defaults?: LeaseOptions | undefined
  /** Identifies this process as a holder. Default `host:pid:random`. */
  readonly holderId?: string | undefined
}

/**
 * A client of the lease store. Close it (`await leasing.close()` or `await using`) to release every lease it
 * holds and disconnect.
 *
 * @since 0.1.0
 */
export class LeasingClient implements AsyncDisposable, LeaseBuilderTarget {
  readonly #runtime: ClientRuntime

  /** @internal Clients are made by `createLeasing`, `createLeasingFromEnv` or `createLeasingFromLayer`. */
  constructor(runtime: ClientRuntime) {
    this.#runtime = runtime
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#runtime.closed
  }

  /**
   * Builds the provider now (connects, for a remote store). Optional: the first call does it anyway. Rejects with
   * the provider's error (`ProviderUnavailableError`, `InvalidLeaseOptionsError`, a `ConfigError`, ...); a failed
   * build is not retried, so close the client and create a new one.
   */
  ready(): Promise<void> {
    return this.#runtime.run(Effect.asVoid(LeaseManager), { operation: "ready" })
  }

  /**
   * Acquires `name`, waiting while it is held elsewhere (up to `options.timeout`, default: forever).
   *
   * Rejects with `LeaseAcquisitionTimeoutError` when the timeout passes, `ProviderUnavailableError` when the store
   * keeps failing, `InvalidLeaseOptionsError` for bad options, or `options.signal.reason` when the signal aborts
   * (the wait stops at once and nothing is left held).
   */
  async acquire(name: string, options?: AcquireOptions): Promise<Lease> {
    const lease = await this.#take("acquire", name, options)
    // `acquire` waits until it holds the lease: it never answers "held elsewhere".
    if (lease === null) throw new Error(`acquire of "${name}" returned no lease`)
    return lease
  }

  /**
   * Exactly one attempt: the lease if it was free, `null` if it is held elsewhere (`timeout` is ignored).
   */
  tryAcquire(name: string, options?: AcquireOptions): Promise<Lease | null> {
    return this.#take("tryAcquire", name, options)
  }

  /**
   * Claims a lease handed to this holder with `lease.handoff(holderId)` elsewhere, using the transfer token it
   * returned. The new lease has a higher fencing token. Rejects with `LeaseTransferError` for a wrong or expired
   * token (fall back to `acquire`).
   */
  async claim(name: string, transferToken: string, options?: AcquireOptions): Promise<Lease> {
    const lease = await this.#take("claim", name, options, transferToken)
    if (lease === null) throw new Error(`claim of "${name}" returned no lease`)
    return lease
  }

  /**
   * A leader election on `name`: `campaign()`, `resign(successor?)`, `isLeader`, `leader`, `on(...)` and
   * `runWhileLeader(fn)`. Closing the client (or the election) resigns.
   */
  election(name: string, options?: ElectionOptions): Promise<LeaderElectionClient> {
    const runner = this.#runtime
    const { observeInterval, ...rest } = options ?? {}
    const core = toCoreOptions(rest)
    return runner.run(
      makeElection(runner, name, {
        ...core,
        ...(observeInterval === undefined ? {} : { observeInterval })
      }),
      { operation: "election" }
    )
  }

  /**
   * The health of every lease held through this client, and of the store when `probe` is set (see
   * `docs/observability.md`).
   */
  health(options?: LeaseHealth.HealthOptions): Promise<LeaseHealth.HealthReport> {
    return this.#runtime.run(LeaseHealth.check(options), { operation: "health" })
  }

  /** `acquire`, `tryAcquire` or `claim` into a new child scope of the client's scope, which `lease.release()` closes. */
  async #take(
    operation: "acquire" | "tryAcquire" | "claim",
    name: string,
    options: AcquireOptions | undefined,
    transferToken?: string
  ) {
    const runner = this.#runtime
    const core = toCoreOptions(options)
    // If the run is interrupted right after the lease was made (an abort in the same instant), the run rejects and
    // the caller never sees the lease: it is released here rather than left held until close().
    let made: Lease | undefined
    const program = LeaseManager.use((manager) =>
      Effect.uninterruptibleMask((restore) => {
        const take: Effect.Effect<CoreLease | undefined, AcquireError | LeaseTransferError, Scope.Scope> =
          operation === "acquire"
            ? manager.acquire(name, core)
            : operation === "claim"
              ? manager.claim(name, transferToken ?? "", core)
              : Effect.map(manager.tryAcquire(name, core), Option.getOrUndefined)
        // The lease's own scope, a child of the client's: `close()` closes it with the others, `release()` alone.
        // The core lease lives in `inner`, which the one finalizer of `scope` closes after the Promise lease's end.
        const scope = Scope.forkUnsafe(runner.scope, "sequential")
        const inner = Scope.makeUnsafe("sequential")
        return restore(Scope.provide(take, inner)).pipe(
          Effect.matchCauseEffect({
            onFailure: (cause) =>
              Scope.close(inner, Exit.failCause(cause)).pipe(
                Effect.andThen(Scope.close(scope, Exit.failCause(cause))),
                Effect.andThen(Effect.failCause(cause))
              ),
            onSuccess: (lease) => {
              if (lease === undefined) {
                return Scope.close(inner, Exit.void).pipe(
                  Effect.andThen(Scope.close(scope, Exit.void)),
                  Effect.as(null)
                )
              }
              return Effect.map(makeLease(lease, scope, runner, { scope, inner }), (l) => {
                made = l
                return l
              })
            }
          })
        )
      })
    )
    try {
      return await runner.run(program, { operation, signal: options?.signal })
    } catch (error) {
      if (made !== undefined) await made.release()
      throw error
    }
  }

  /**
   * Acquires `name`, calls `fn` with the lease, releases the lease when `fn` settles and returns its result.
   *
   * - If the lease is lost before `fn` settles, rejects at once with the `LeaseLostError`; `lease.signal` is
   *   aborted with it, so `fn` can stop (a Promise cannot be cancelled from outside).
   * - If `fn` throws or rejects, rejects with that same error.
   * - The lease is always released, whatever happens.
   */
  withLease<A>(name: string, fn: (lease: Lease) => A | PromiseLike<A>, options?: AcquireOptions): Promise<A> {
    const runner = this.#runtime
    const core = toCoreOptions(options)
    const program = Effect.gen(function* () {
      const manager = yield* LeaseManager
      return yield* manager.withLease(
        name,
        (lease) =>
          Effect.gen(function* () {
            // The core's scope for this lease: it closes (and releases) when `fn` settles or the lease is lost.
            const scope = yield* Effect.scope
            const handle = yield* makeLease(lease, scope, runner)
            return yield* Effect.tryPromise({
              try: async () => fn(handle),
              catch: (error) => new CallbackFailure({ error })
            })
          }),
        core
      )
    })
    return runner.run(program, { operation: "withLease", signal: options?.signal })
  }

  /** Who holds `name` now, per the store. */
  inspect(name: string): Promise<LeaseInfo> {
    const program = Effect.map(
      LeaseManager.use((manager) => manager.inspect(name)),
      (info): LeaseInfo => ({
        name: info.name,
        held: info.held,
        ...(info.holderId === undefined ? {} : { holderId: info.holderId }),
        ...(info.leaseId === undefined ? {} : { leaseId: info.leaseId }),
        ...(info.fencingToken === undefined ? {} : { fencingToken: info.fencingToken }),
        ...(info.expiresAt === undefined ? {} : { expiresAt: info.expiresAt }),
        ...(info.acquiredAt === undefined ? {} : { acquiredAt: info.acquiredAt }),
        ...(info.metadata === undefined ? {} : { metadata: { ...info.metadata } })
      })
    )
    return this.#runtime.run(program, { operation: "inspect" })
  }

  /**
   * Forcibly frees `name`, whoever holds it (an operator action). Resolves to whether a holder was evicted; the
   * evicted holder finds out at its next renewal (its lease is lost with reason `"broken"`).
   */
  breakLease(name: string): Promise<boolean> {
    return this.#runtime.run(
      LeaseManager.use((manager) => manager.breakLease(name)),
      { operation: "breakLease" }
    )
  }

  /**
   * A fluent builder for one lease: `leasing.lease("job").duration("5 minutes").timeout("30 seconds").acquire()`.
   */
  lease(name: string): LeaseBuilder {
    return new LeaseBuilder(this, name)
  }

  /**
   * Cancels the calls in flight, releases every lease acquired through this client, then disconnects. Idempotent;
   * later calls reject with `LeasingClosedError`.
   */
  close(): Promise<void> {
    return this.#runtime.close()
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/**
 * Creates a client on a provider layer.
 *
 * @since 0.1.0
 */
export const createLeasing = (options: CreateLeasingOptions): LeasingClient =>
  createLeasingFromLayer(
    LeaseManager.layerWith({ holderId: options.holderId, defaults: toCoreOptions(options.defaults) }).pipe(
      Layer.provide(options.provider)
    ),
    options
  )

/**
 * Creates a client on a `LeaseManager` layer, for apps that build their manager with Effect (for example
 * `Leasing.layerConfig`) and hand it to Promise code.
 *
 * @since 0.1.0
 */
export const createLeasingFromLayer = (
  layer: Layer.Layer<LeaseManager, unknown>,
  options: ClientOptions = {}
): LeasingClient => new LeasingClient(new ClientRuntime(layer, options.logLevel))
