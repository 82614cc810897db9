/**
 * A held lease, as the Promise API hands it out.
 *
 * It is a thin view of the core `Lease`: every field reads the core lease, `renew()` and `release()` run the
 * core's effects, and loss is the core's `lost`. What it adds is the Promise-world shape of those things:
 *
 * - `signal`: an `AbortSignal` aborted with the `LeaseLostError` the moment the lease is lost (or, when it is
 *   released while work may still run under it, with a `LeaseLostError` of reason `"released"`). Pass it to
 *   `fetch`, streams, child processes: the work protected by the lease stops with it.
 * - `on(event, listener)`: callbacks for the core's event stream, fed by one fiber that lives in the lease's scope.
 *   A listener that throws (or an `async` listener that rejects) is caught and logged: it can never break the
 *   renewal, and it never becomes an unhandled rejection.
 * - `[Symbol.asyncDispose]`: `await using lease = await leasing.acquire("job")` releases at the end of the block.
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

/** The listeners of one lease, and the dispatch of the core's events to them. */
class Listeners {
  readonly #byName = new Map<LeaseEventName, Set<{ readonly listener: AnyListener }>>()
  readonly #leaseName: string
  readonly #runner: Runner

  constructor(leaseName: string, runner: Runner) {
    this.#leaseName = leaseName
    this.#runner = runner
  }

  /** Whether `lost` listeners were called: the loss can reach them by two paths (see `make`), once. */
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

/** @internal */
interface LeaseInternals {
  readonly core: CoreLease
  readonly signal: AbortSignal
  readonly listeners: Listeners
  readonly runner: Runner
  readonly release: Effect.Effect<void>
}

/**
 * A held lease. Fields that change over time (`expiresAt`, `isHeld`, `state`, ...) are getters that read the
 * current value.
 *
 * @since 0.1.0
 */
export class Lease implements AsyncDisposable {
  readonly #core: CoreLease
  readonly #signal: AbortSignal
  readonly #listeners: Listeners
  readonly #runner: Runner
  readonly #release: Effect.Effect<void>
  #released: Promise<void> | undefined

  /** @internal Leases are made by a `LeasingClient`. */
  constructor(internals: LeaseInternals) {
    this.#core = internals.core
    this.#signal = internals.signal
    this.#listeners = internals.listeners
    this.#runner = internals.runner
    this.#release = internals.release
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
   * `leasing.close()`), with a `LeaseLostError` of reason `"released"`.
   */
  get signal(): AbortSignal {
    return this.#signal
  }

  /**
   * Calls `listener` for each `event` from now on. Returns a function that removes it.
   *
   * - `"renewed"`: a renewal was confirmed.
   * - `"renewalFailed"`: a renewal attempt failed (`willRetry` says whether another is scheduled).
   * - `"lost"`: the lease is no longer ours (`signal` aborts at the same time).
   * - `"released"`: the lease was released.
   *
   * A listener that throws, or rejects, is logged and ignored: it cannot break renewal.
   */
  on<K extends LeaseEventName>(event: K, listener: LeaseEventListener<K>): () => void {
    if (!eventNames.includes(event)) {
      throw new TypeError(`Unknown lease event "${String(event)}": expected one of ${eventNames.join(", ")}`)
    }
    // The registry is keyed by event name, so a listener only ever receives events of its own type.
    return this.#listeners.add(event, listener as AnyListener)
  }

  /**
   * Renews now. Rejects with `LeaseLostError` when the store says the lease is gone (it is then lost, and `signal`
   * aborts), or `LeaseRenewalError` when the store could not confirm (the lease stays held until its safety
   * deadline, and automatic renewal keeps trying).
   */
  renew(): Promise<void> {
    return this.#runner.run(this.#core.renew, { operation: "renew" })
  }

  /**
   * Stops renewal and releases the lease in the store (only if it is still ours there). Idempotent; never rejects
   * because of the store (a release the store does not confirm expires there by itself).
   */
  release(): Promise<void> {
    // After `close()` began, the client releases every lease itself: wait for that.
    this.#released ??=
      this.#runner.closing ?? this.#runner.run(this.#release, { operation: "release", interruptOnClose: false })
    return this.#released
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
    const token = await this.#runner.run(this.#core.handoff(successorHolderId, options), { operation: "handoff" })
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
 * Wraps a core lease bound to `scope`: starts the loss watcher and the event dispatcher in `scope`, and registers
 * on it a finalizer that aborts `signal`, releases the lease and lets the `released` listeners run.
 *
 * `own` is the lease's private scope when the Promise API owns one (`acquire`, `tryAcquire`): `release()` then
 * closes it. Under `withLease` the scope is the core's, and closes when the callback settles.
 *
 * @internal
 */
export const make = (
  core: CoreLease,
  scope: Scope.Scope,
  runner: Runner,
  own?: Scope.Closeable
): Effect.Effect<Lease> =>
  Effect.gen(function* () {
    const controller = new AbortController()
    const listeners = new Listeners(core.name, runner)
    yield* Effect.forkIn(
      Effect.flatMap(core.lost, (error) => Effect.sync(() => controller.abort(error))),
      scope,
      { startImmediately: true }
    )
    // Started now, so the replayed event it sees first is `Acquired` (ignored) and every later event reaches the
    // listeners registered by then.
    const dispatcher = yield* Effect.forkIn(Stream.runForEach(core.events, listeners.dispatch), scope, {
      startImmediately: true
    })
    const end = Effect.suspend(() => {
      const wasHeld = core.isHeld
      // Work running under the lease must stop before the store is told it is free. A loss the watcher has not
      // reported yet (the scope can close in the same instant, as under `withLease`) is still reported as such.
      if (!controller.signal.aborted) controller.abort(core.lostError ?? releasedError(core))
      // Under `withLease` the loss closes the scope at once, which can cut the core short before it publishes
      // `Lost`: then the `lost` listeners are called from here (the dispatcher makes sure it happens once).
      const lost = core.lostError
      const reportLoss =
        wasHeld || lost === undefined
          ? Effect.void
          : listeners.dispatch(
              LeaseEventEnum.Lost({ name: core.name, leaseId: core.leaseId, reason: lost.reason, error: lost })
            )
      return reportLoss.pipe(
        Effect.andThen(core.release),
        // Releasing a held lease publishes `Released`, which ends the event stream: waiting for the dispatcher lets
        // the `released` listeners run. After a loss there is nothing more to wait for.
        Effect.andThen(wasHeld ? Effect.timeoutOption(Fiber.await(dispatcher), drainBound) : Effect.void),
        Effect.asVoid
      )
    })
    // Added last, so it runs first when the scope closes: before the dispatcher is interrupted.
    yield* Scope.addFinalizer(scope, end)
    const release = own === undefined ? end : Scope.close(own, Exit.void)
    return new Lease({ core, signal: controller.signal, listeners, runner, release })
  })
