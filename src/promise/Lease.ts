/**
 * A held lease, as the Promise API hands it out.
 *
 * It is a thin view of the core `Lease`: every field reads the core lease, `renew()` and `release()` run the
 * core's effects, and loss is the core's `lost`. What it adds is the Promise-world shape of those things:
 *
 * - `signal`: an `AbortSignal` aborted with the `LeaseLostError` the moment the lease is lost (or, when it is
 *   released while work may still run under it, with a `LeaseLostError` of reason `"released"`). Pass it to
 *   `fetch`, streams, child processes: the work protected by the lease stops with it.
 * - `on(event, listener)`: callbacks for the core's event stream, fed by one fiber that the first `on` starts and
 *   the end of the lease stops. A listener that throws (or an `async` listener that rejects) is caught and logged:
 *   it can never break the renewal, and it never becomes an unhandled rejection.
 * - `[Symbol.asyncDispose]`: `await using lease = await leasing.acquire("job")` releases at the end of the block.
 *
 * The signal and the event fiber are made on first use: a lease whose `signal` is never read and that never gets a
 * listener costs no `AbortController` and no fiber of its own, only the core lease and a finalizer on its scope.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import type { Lease as CoreLease, LeaseState } from "../Lease.ts"
import { LeaseLostError } from "../LeaseError.ts"
import { type LeaseEvent, LeaseEvent as LeaseEventEnum } from "../LeaseEvent.ts"
import {
  eventNames,
  fromCoreEvent,
  type LeaseEventListener,
  type LeaseEventMap,
  type LeaseEventName
} from "./events.ts"
import type { DurationInput } from "./options.ts"
import type { Runner } from "./runner.ts"

/**
 * How long a release waits for the listeners of the `released` event to be called before it returns anyway.
 * The event stream ends right after `Released`, so this is only a bound against the unexpected.
 */
const drainBound = 1_000

type AnyListener = (event: LeaseEventMap[LeaseEventName]) => void

const noop = () => {}

/** The listeners of one lease, and the dispatch of the core's events to them. */
class Listeners {
  readonly #byName = new Map<LeaseEventName, Set<{ readonly listener: AnyListener }>>()
  readonly #leaseName: string
  readonly #runner: Runner
  /** The fiber feeding `dispatch` from the core's events, started with the first listener. */
  dispatcher: Fiber.Fiber<void, unknown> | undefined

  constructor(leaseName: string, runner: Runner) {
    this.#leaseName = leaseName
    this.#runner = runner
  }

  /** Whether `lost` listeners were called: the loss can reach them by two paths (see `Session.end`), once. */
  #lostDelivered = false

  add(name: LeaseEventName, listener: AnyListener): () => void {
    // One entry per `on` call, so registering the same function twice needs two unsubscribes, like EventTarget
    // with distinct options and unlike a Set of functions (which would silently merge them).
    const entry = { listener }
    const set = this.#byName.get(name) ?? new Set()
    set.add(entry)
    this.#byName.set(name, set)
    return () => {
      set.delete(entry)
    }
  }

  /** Calls the listeners of `event` in the dispatcher fiber; their failures are logged, never propagated. */
  readonly dispatch = (event: LeaseEvent): Effect.Effect<void> =>
    Effect.suspend(() => {
      const mapped = fromCoreEvent(event)
      if (mapped === undefined) return Effect.void
      if (mapped.type === "lost") {
        if (this.#lostDelivered) return Effect.void
        this.#lostDelivered = true
      }
      const set = this.#byName.get(mapped.type)
      if (set === undefined || set.size === 0) return Effect.void
      const failures: Array<unknown> = []
      // A snapshot: a listener that unsubscribes (itself or another) does not disturb this round.
      for (const { listener } of Array.from(set)) {
        try {
          const result: unknown = listener(mapped)
          if (isThenable(result)) {
            // Not awaited (a slow listener must not delay the next event), but never left unhandled.
            result.then(undefined, (error: unknown) =>
              this.#runner.logWarning(this.#failureMessage(mapped.type, "rejected"), error)
            )
          }
        } catch (error) {
          failures.push(error)
        }
      }
      return Effect.forEach(failures, (error) => Effect.logWarning(this.#failureMessage(mapped.type, "threw"), error), {
        discard: true
      })
    })

  #failureMessage(name: LeaseEventName, how: string): string {
    return `a "${name}" listener of lease "${this.#leaseName}" ${how}; the error was ignored`
  }
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && "then" in u && typeof u.then === "function"

/** The reason `signal` is aborted with when the lease ends by release rather than by loss. */
const releasedError = (core: CoreLease): LeaseLostError =>
  new LeaseLostError({
    leaseName: core.name,
    reason: "released",
    leaseId: core.leaseId,
    provider: core.provider,
    detail: "the lease was released"
  })

/**
 * What a Promise-API lease adds to the core lease: the signal, the listeners, and the end of both. The signal's
 * controller, its loss watcher and the listeners are all made on first use.
 */
class Session {
  readonly core: CoreLease
  readonly runner: Runner
  /** The lease's private scope when the Promise API owns one (`acquire`, `tryAcquire`, `claim`). */
  readonly #own: Scope.Closeable | undefined
  #controller: AbortController | undefined
  /** Waits for the core's `lost` to abort the signal; started with the signal while the lease is held. */
  #watcher: Fiber.Fiber<LeaseLostError> | undefined
  #listeners: Listeners | undefined
  /** Set when `end` began: from then on, a signal made on first access is born aborted. */
  #ended = false
  #released: Promise<void> | undefined

  constructor(core: CoreLease, runner: Runner, own: Scope.Closeable | undefined) {
    this.core = core
    this.runner = runner
    this.#own = own
  }

  signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal
    const controller = new AbortController()
    this.#controller = controller
    const core = this.core
    if (this.#ended || !core.isHeld) {
      // The lease already ended: the signal is born aborted, with the reason it would have been aborted with.
      // A lost lease's `lostError` is the very error its `lost` completes with; it never changes once set.
      controller.abort(core.lostError ?? releasedError(core))
    } else {
      // Started synchronously, so it waits on `lost` before this returns: no loss can slip between.
      const watcher = Effect.runFork(core.lost)
      watcher.addObserver((exit) => {
        if (Exit.isSuccess(exit)) controller.abort(exit.value)
      })
      this.#watcher = watcher
    }
    return controller.signal
  }

  on(name: LeaseEventName, listener: AnyListener): () => void {
    // The lease ended before `on`: every event it will ever have was emitted already ("from now on" is nothing).
    // The last of them (`Lost` or `Released`) is published after the state leaves `held`, never before.
    if (!this.core.isHeld) return noop
    let listeners = this.#listeners
    if (listeners === undefined) {
      listeners = new Listeners(this.core.name, this.runner)
      this.#listeners = listeners
    }
    const off = listeners.add(name, listener)
    if (listeners.dispatcher === undefined) {
      // Started synchronously, so it subscribes before this returns. The stream replays the most recent event
      // first, one that happened before this listener was added: dropped. Every later event reaches the listeners
      // registered by the time it is dispatched.
      listeners.dispatcher = this.runner.fork(Stream.runForEach(Stream.drop(this.core.events, 1), listeners.dispatch))
    }
    return off
  }

  /**
   * The finalizer on the lease's scope: aborts `signal`, releases the lease and lets the `released` listeners run.
   * Runs once per scope close, and again if `release()` runs it directly (under `withLease`); both are harmless.
   */
  readonly end: Effect.Effect<void> = Effect.suspend(() => {
    const core = this.core
    const wasHeld = core.isHeld
    this.#ended = true
    // Work running under the lease must stop before the store is told it is free. A loss the watcher has not
    // reported yet (the scope can close in the same instant, as under `withLease`) is still reported as such.
    const controller = this.#controller
    if (controller !== undefined && !controller.signal.aborted) controller.abort(core.lostError ?? releasedError(core))
    const watcher = this.#watcher
    if (watcher !== undefined) {
      this.#watcher = undefined
      watcher.interruptUnsafe()
    }
    // Under `withLease` the loss closes the scope at once, which can cut the core short before it publishes
    // `Lost`: then the `lost` listeners are called from here (the dispatcher makes sure it happens once).
    const listeners = this.#listeners
    const lost = core.lostError
    const release =
      listeners === undefined || wasHeld || lost === undefined
        ? core.release
        : Effect.andThen(
            listeners.dispatch(
              LeaseEventEnum.Lost({ name: core.name, leaseId: core.leaseId, reason: lost.reason, error: lost })
            ),
            core.release
          )
    return Effect.andThen(
      release,
      Effect.suspend(() => this.#drain(wasHeld))
    )
  })

  /**
   * After the release: releasing a held lease publishes `Released`, which ends the event stream, so waiting for the
   * dispatcher lets the `released` listeners run. After a loss there is nothing more to wait for. Read only now: a
   * listener added while the release ran started the dispatcher then.
   */
  #drain(wasHeld: boolean): Effect.Effect<void> {
    const dispatcher = this.#listeners?.dispatcher
    if (dispatcher === undefined) return Effect.void
    const interrupt = Fiber.interrupt(dispatcher)
    return wasHeld ? Effect.andThen(Effect.timeoutOption(Fiber.await(dispatcher), drainBound), interrupt) : interrupt
  }

  release(): Promise<void> {
    // After `close()` began, the client releases every lease itself: wait for that.
    this.#released ??=
      this.runner.closing ??
      this.runner.run(this.#own === undefined ? this.end : Scope.close(this.#own, Exit.void), {
        operation: "release",
        interruptOnClose: false
      })
    return this.#released
  }
}

/** @internal */
interface LeaseInternals {
  readonly session: Session
}

/**
 * A held lease. Fields that change over time (`expiresAt`, `isHeld`, `state`, ...) are getters that read the
 * current value.
 *
 * @since 0.1.0
 */
export class Lease implements AsyncDisposable {
  readonly #session: Session
  readonly #core: CoreLease

  /** @internal Leases are made by a `LeasingClient`. */
  constructor(internals: LeaseInternals) {
    this.#session = internals.session
    this.#core = internals.session.core
  }

  /** The lease name. */
  get name(): string {
    return this.#core.name
  }

  /** The id of this grant; a new grant of the same name has a new id. */
  get leaseId(): string {
    return this.#core.leaseId
  }

  /** Who holds it. */
  get holderId(): string {
    return this.#core.holderId
  }

  /**
   * Strictly greater than the token of every earlier grant of this name. Hand it to the resource you protect so it
   * can reject writes from a holder that lost the lease without knowing it.
   */
  get fencingToken(): bigint {
    return this.#core.fencingToken
  }

  /** The provider holding it (`"memory"`, `"redis"`, ...). */
  get provider(): string {
    return this.#core.provider
  }

  /** When the acquire request was sent (wall clock). */
  get acquiredAt(): Date {
    return this.#core.acquiredAt
  }

  /** When the current grant runs out in the store (wall clock); moves forward with each renewal. */
  get expiresAt(): Date {
    return this.#core.expiresAt
  }

  /** `"held"`, then `"lost"` or `"released"`. */
  get state(): LeaseState {
    return this.#core.state
  }

  /** Whether the lease is still held. */
  get isHeld(): boolean {
    return this.#core.isHeld
  }

  /** Confirmed renewals so far. */
  get renewalCount(): number {
    return this.#core.renewalCount
  }

  /** Why it was lost, once it is. */
  get lostError(): LeaseLostError | undefined {
    return this.#core.lostError
  }

  /**
   * Aborted as soon as this process stops holding the lease: when it is lost, with the `LeaseLostError` as
   * `signal.reason`; when it is released (by `release()`, `await using`, the end of `withLease` or
   * `leasing.close()`), with a `LeaseLostError` of reason `"released"`. Read after the lease ended, it is already
   * aborted, with that same reason.
   */
  get signal(): AbortSignal {
    return this.#session.signal()
  }

  /**
   * Calls `listener` for each `event` from now on. Returns a function that removes it.
   *
   * - `"renewed"`: a renewal was confirmed.
   * - `"renewalFailed"`: a renewal attempt failed (`willRetry` says whether another is scheduled).
   * - `"lost"`: the lease is no longer ours (`signal` aborts at the same time).
   * - `"released"`: the lease was released.
   *
   * A listener that throws, or rejects, is logged and ignored: it cannot break renewal. Added after the lease
   * ended, a listener is never called.
   */
  on<K extends LeaseEventName>(event: K, listener: LeaseEventListener<K>): () => void {
    if (!eventNames.includes(event)) {
      throw new TypeError(`Unknown lease event "${String(event)}": expected one of ${eventNames.join(", ")}`)
    }
    // The registry is keyed by event name, so a listener only ever receives events of its own type.
    return this.#session.on(event, listener as AnyListener)
  }

  /**
   * Renews now. Rejects with `LeaseLostError` when the store says the lease is gone (it is then lost, and `signal`
   * aborts), or `LeaseRenewalError` when the store could not confirm (the lease stays held until its safety
   * deadline, and automatic renewal keeps trying).
   */
  renew(): Promise<void> {
    return this.#session.runner.run(this.#core.renew, { operation: "renew" })
  }

  /**
   * Stops renewal and releases the lease in the store (only if it is still ours there). Idempotent; never rejects
   * because of the store (a release the store does not confirm expires there by itself).
   */
  release(): Promise<void> {
    return this.#session.release()
  }

  /**
   * Hands the lease to the holder `successorHolderId` with no moment when it is free (where the provider supports
   * it). Resolves with the transfer token the successor passes to `leasing.claim(name, token)` within
   * `claimWindow` (default: the lease's duration). This lease then ends: `signal` aborts with reason `"released"`.
   */
  async handoff(
    successorHolderId: string,
    options?: { readonly claimWindow?: DurationInput | undefined }
  ): Promise<string> {
    const token = await this.#session.runner.run(this.#core.handoff(successorHolderId, options), {
      operation: "handoff"
    })
    // The grant is gone: close this lease's scope now (its release is a no-op in the store).
    await this.release()
    return token
  }

  /** `release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release()
  }

  toString(): string {
    return `Lease(${this.name}, ${this.state}, token ${this.fencingToken}, id ${this.leaseId})`
  }

  toJSON(): unknown {
    return this.#core.toJSON()
  }
}

/**
 * Wraps a core lease, registering the finalizer that aborts `signal`, releases the lease and lets the `released`
 * listeners run. The lease's signal and its listeners' fiber are made on first use.
 *
 * - Under `withLease` (`owned` left out), `scope` is the core's: the finalizer is added to it, and it closes when
 *   the callback settles.
 * - When the Promise API owns the lease (`acquire`, `tryAcquire`, `claim`), `scope` is the lease's private scope,
 *   a child of the client's, and `owned.inner` the scope the core lease was acquired into. `scope` gets a single
 *   finalizer, the release and then the close of `inner` (one finalizer closes faster than two in a row), and
 *   `release()` closes `scope`.
 *
 * @internal
 */
export const make = (
  core: CoreLease,
  scope: Scope.Scope,
  runner: Runner,
  owned?: { readonly scope: Scope.Closeable; readonly inner: Scope.Closeable }
): Effect.Effect<Lease> =>
  Effect.suspend(() => {
    const session = new Session(core, runner, owned?.scope)
    const lease = new Lease({ session })
    if (owned === undefined) return Effect.as(Scope.addFinalizer(scope, session.end), lease)
    const inner = owned.inner
    return Effect.as(
      Scope.addFinalizerExit(scope, (exit) => Effect.andThen(session.end, Scope.close(inner, exit))),
      lease
    )
  })
