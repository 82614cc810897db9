/**
 * How the Promise API runs the Effect API: one `ManagedRuntime` per client, one Effect run per call.
 *
 * This module is the only place where an Effect outcome becomes a Promise outcome:
 *
 * - A success resolves. A typed failure rejects with the error itself (the very class the Effect API fails with,
 *   so `instanceof` and `_tag` work); a `withLease` callback's own rejection is passed through untouched.
 * - An interruption caused by the caller's `AbortSignal` rejects with `signal.reason`, as `fetch` does; one caused
 *   by `close()` rejects with `LeasingClosedError`. `Effect.runPromise` would reject with a generic "All fibers
 *   interrupted" error instead, so runs use `runPromiseExit` and map the `Exit` here.
 * - An already aborted signal rejects before anything runs (`throwIfAborted`): a run would execute its synchronous
 *   prefix, possibly a whole store round trip on the memory provider, before noticing the abort.
 *
 * The client's `Scope` (parallel, so `close()` releases many leases at once) is the parent of every lease's scope.
 * `close()` cancels the calls in flight, closes that scope (which releases every lease while the provider is still
 * up), and only then disposes the runtime (which tears the provider down).
 *
 * @internal
 */
import { Cause, Data, Effect, Exit, type Layer, type LogLevel, ManagedRuntime, References, Scope } from "effect"
import type { LeaseManager } from "../LeaseManager.ts"
import { LeasingClosedError } from "./LeasingClosedError.ts"

/**
 * The failure of a `withLease` callback, carried through the Effect error channel and unwrapped on rejection.
 *
 * @internal
 */
export class CallbackFailure extends Data.TaggedError("CallbackFailure")<{ readonly error: unknown }> {}

/** @internal */
export interface RunOptions {
  /** The public call, for `LeasingClosedError`. */
  readonly operation: string
  readonly signal?: AbortSignal | undefined
  /**
   * Whether `close()` interrupts this run. Default `true`. Releases are not interrupted: `close()` waits for them,
   * so a `release()` racing with `close()` resolves instead of rejecting.
   */
  readonly interruptOnClose?: boolean | undefined
}

/**
 * What a lease needs from its client.
 *
 * @internal
 */
export interface Runner {
  run<A, E>(effect: Effect.Effect<A, E, LeaseManager>, options: RunOptions): Promise<A>
  /** The pending or finished `close()`, once it was called. */
  readonly closing: Promise<void> | undefined
  /** Logs outside any fiber (for `async` listeners that reject). */
  logWarning(message: string, error: unknown): void
}

/**
 * The runtime, scope and bookkeeping of one client.
 *
 * @internal
 */
export class ClientRuntime implements Runner {
  readonly #runtime: ManagedRuntime.ManagedRuntime<LeaseManager, unknown>
  readonly #logLevel: LogLevel.LogLevel | undefined
  readonly #closeController = new AbortController()
  readonly #inFlight = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined
  /** The parent of every lease's scope. */
  readonly scope: Scope.Closeable = Scope.makeUnsafe("parallel")

  constructor(layer: Layer.Layer<LeaseManager, unknown>, logLevel?: LogLevel.LogLevel | undefined) {
    this.#runtime = ManagedRuntime.make(layer)
    this.#logLevel = logLevel
  }

  get closing(): Promise<void> | undefined {
    return this.#closing
  }

  get closed(): boolean {
    return this.#closing !== undefined
  }

  #configure<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.#logLevel === undefined
      ? effect
      : Effect.provideService(effect, References.MinimumLogLevel, this.#logLevel)
  }

  async run<A, E>(effect: Effect.Effect<A, E, LeaseManager>, options: RunOptions): Promise<A> {
    if (this.#closing !== undefined) throw new LeasingClosedError({ operation: options.operation })
    const signal = options.signal
    signal?.throwIfAborted()
    const signals: Array<AbortSignal> = []
    if (signal !== undefined) signals.push(signal)
    if (options.interruptOnClose !== false) signals.push(this.#closeController.signal)
    const combined = signals.length > 1 ? AbortSignal.any(signals) : signals[0]
    const pending = this.#runtime.runPromiseExit(
      this.#configure(effect),
      combined === undefined ? undefined : { signal: combined }
    )
    this.#inFlight.add(pending)
    let exit: Exit.Exit<A, unknown>
    try {
      exit = await pending
    } finally {
      this.#inFlight.delete(pending)
    }
    if (Exit.isSuccess(exit)) return exit.value
    if (Cause.hasInterruptsOnly(exit.cause)) {
      if (signal?.aborted) throw signal.reason
      if (this.#closing !== undefined) throw new LeasingClosedError({ operation: options.operation })
    }
    const error = Cause.squash(exit.cause)
    throw error instanceof CallbackFailure ? error.error : error
  }

  logWarning(message: string, error: unknown): void {
    Effect.runFork(this.#configure(Effect.logWarning(message, error)))
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    // 1. Cancel the calls in flight (waits end at once and leave nothing held; releases are not cancelled).
    this.#closeController.abort()
    await Promise.allSettled(Array.from(this.#inFlight))
    // 2. Release every lease while the provider is still up. Not through the runtime: it may have failed to build
    //    (then there is no lease, and running through it would only repeat the build failure).
    await Effect.runPromise(this.#configure(Scope.close(this.scope, Exit.void)))
    // 3. Tear the layers down (connections, subscriptions).
    await this.#runtime.dispose()
  }
}
