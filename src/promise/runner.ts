/**
 * How the Promise API runs the Effect API: one `ManagedRuntime` per client, one Effect run per call.
 *
 * This module is the only place where an Effect outcome becomes a Promise outcome:
 *
 * - A success resolves. A typed failure rejects with the error itself (the very class the Effect API fails with,
 *   so `instanceof` and `_tag` work); a `withLease` callback's own rejection is passed through untouched.
 * - An interruption caused by the caller's `AbortSignal` rejects with `signal.reason`, as `fetch` does; one caused
 *   by `close()` rejects with `LeasingClosedError`. `Effect.runPromise` would reject with a generic "All fibers
 *   interrupted" error instead, so runs fork a fiber and map its `Exit` here.
 * - An already aborted signal rejects before anything runs: a run would execute its synchronous prefix, possibly a
 *   whole store round trip on the memory provider, before noticing the abort.
 *
 * The client's `Scope` (parallel, so `close()` releases many leases at once) is the parent of every lease's scope.
 * `close()` cancels the calls in flight, closes that scope (which releases every lease while the provider is still
 * up), and only then disposes the runtime (which tears the provider down).
 *
 * @internal
 */
import {
  Cause,
  Context,
  Data,
  Effect,
  Exit,
  type Fiber,
  Layer,
  type LogLevel,
  ManagedRuntime,
  References,
  Scope
} from "effect"
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
  /**
   * Starts `effect` in the background with the client's services and log level (a lease's event dispatcher). Not a
   * call: `close()` does not wait for it, and the runtime's disposal interrupts it if nothing else did.
   */
  fork<A, E>(effect: Effect.Effect<A, E, LeaseManager>): Fiber.Fiber<A, unknown>
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
  /**
   * The runs that did not finish synchronously, each with whether `close()` interrupts it. A run that settles
   * within `run` (most of them on the memory provider) never enters it.
   */
  readonly #inFlight = new Map<Fiber.Fiber<unknown, unknown>, boolean>()
  #closing: Promise<void> | undefined
  /** Set before `close()` interrupts anything, so that the runs it interrupts see it (`#closing` is set after). */
  #closeCalled = false
  /** The parent of every lease's scope. */
  readonly scope: Scope.Closeable = Scope.makeUnsafe("parallel")
  /**
   * Forks a run on the runtime's built services: what `ManagedRuntime.runFork` does once they are built, minus
   * registering every fiber that does not finish synchronously for the runtime's disposal to interrupt (a WeakSet
   * entry, a finalizer and an observer per run, which adds up on an asynchronous store). That registration is not
   * needed here: `close()` settles every run before it disposes the runtime, and no run starts after `close()`.
   * Unset until the services are built (and forever if the build failed: runs then fail through the runtime).
   */
  #forkBuilt:
    | (<A, E>(effect: Effect.Effect<A, E, LeaseManager>, options?: Effect.RunOptions) => Fiber.Fiber<A, E>)
    | undefined
  #contextRequested = false

  constructor(layer: Layer.Layer<LeaseManager, unknown>, logLevel?: LogLevel.LogLevel | undefined) {
    // The log level is part of the runtime's services, so every run (and every fiber it forks: renewal, the event
    // dispatcher) logs at it without a per-run `provideService`. Added to the layer's output, after its build, so
    // the provider's own build is unaffected (it never was: the runtime builds its layer in a fiber of its own),
    // and over a level the layer may carry, as the per-run setting did.
    this.#runtime = ManagedRuntime.make(
      logLevel === undefined
        ? layer
        : Layer.flatMap(layer, (context) =>
            Layer.succeedContext(Context.add(context, References.MinimumLogLevel, logLevel))
          )
    )
    this.#logLevel = logLevel
  }

  get closing(): Promise<void> | undefined {
    return this.#closing
  }

  get closed(): boolean {
    return this.#closeCalled
  }

  #configure<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.#logLevel === undefined
      ? effect
      : Effect.provideService(effect, References.MinimumLogLevel, this.#logLevel)
  }

  run<A, E>(effect: Effect.Effect<A, E, LeaseManager>, options: RunOptions): Promise<A> {
    if (this.#closeCalled) return Promise.reject(new LeasingClosedError({ operation: options.operation }))
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(signal.reason)
    let fiber: Fiber.Fiber<A, unknown>
    try {
      // The caller's signal interrupts the fiber (the runtime listens to it only while the run is pending);
      // `close()` interrupts the runs of `#inFlight` itself, so no combined signal is needed.
      const runOptions = signal === undefined ? undefined : { signal }
      if (this.#forkBuilt !== undefined) {
        fiber = this.#forkBuilt(effect, runOptions)
      } else {
        fiber = this.#runtime.runFork(effect, runOptions)
        if (!this.#contextRequested) {
          // Asked after the first run started the build (never before: the provider is built on first use).
          this.#contextRequested = true
          this.#runtime.context().then(
            (context) => {
              if (!this.#closeCalled) this.#forkBuilt = Effect.runForkWith(context)
            },
            () => {}
          )
        }
      }
    } catch (error) {
      return Promise.reject(error)
    }
    // The fiber ran synchronously as far as it could: it may be done already.
    const done = fiber.pollUnsafe()
    if (done !== undefined) {
      try {
        return Promise.resolve(this.#outcome(done, options))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    this.#inFlight.set(fiber, options.interruptOnClose !== false)
    return new Promise<A>((resolve, reject) => {
      fiber.addObserver((exit) => {
        this.#inFlight.delete(fiber)
        try {
          resolve(this.#outcome(exit, options))
        } catch (error) {
          reject(error)
        }
      })
    })
  }

  /** The value of a run, or throws what the Promise rejects with. */
  #outcome<A>(exit: Exit.Exit<A, unknown>, options: RunOptions): A {
    if (Exit.isSuccess(exit)) return exit.value
    if (Cause.hasInterruptsOnly(exit.cause)) {
      if (options.signal?.aborted) throw options.signal.reason
      if (this.#closeCalled) throw new LeasingClosedError({ operation: options.operation })
    }
    const error = Cause.squash(exit.cause)
    throw error instanceof CallbackFailure ? error.error : error
  }

  fork<A, E>(effect: Effect.Effect<A, E, LeaseManager>): Fiber.Fiber<A, unknown> {
    return this.#runtime.runFork(effect)
  }

  logWarning(message: string, error: unknown): void {
    Effect.runFork(this.#configure(Effect.logWarning(message, error)))
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closeCalled = true
      this.#closing = this.#close()
    }
    return this.#closing
  }

  async #close(): Promise<void> {
    // 1. Cancel the calls in flight (waits end at once and leave nothing held; releases are not cancelled), and
    //    wait for all of them.
    //    A snapshot first: an interruption can settle runs, which leave `#inFlight` as it is iterated.
    const inFlight = Array.from(this.#inFlight)
    for (const [fiber, interrupt] of inFlight) if (interrupt) fiber.interruptUnsafe()
    await Promise.all(
      inFlight.map(
        ([fiber]) =>
          new Promise<void>((resolve) => {
            fiber.addObserver(() => resolve())
          })
      )
    )
    // 2. Release every lease while the provider is still up. Not through the runtime: it may have failed to build
    //    (then there is no lease, and running through it would only repeat the build failure).
    await Effect.runPromise(this.#configure(Scope.close(this.scope, Exit.void)))
    // 3. Tear the layers down (connections, subscriptions).
    await this.#runtime.dispose()
  }
}
