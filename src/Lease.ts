/**
 * A held lease.
 *
 * A `Lease` is returned by `LeaseManager.acquire` / `tryAcquire` and is bound to the caller's `Scope`: closing
 * the scope stops its renewal and releases it in the store. While it lives, it renews itself in the background
 * (unless `autoRenew: false`) and watches its own safety deadline: if no renewal is confirmed in time it is
 * declared lost *before* the store could hand it to someone else, `lost` completes and `events` emits `Lost`.
 *
 * Hand `fencingToken` to the resource you protect: it strictly increases across holders of the same name, so the
 * resource can reject writes from a holder that lost the lease without knowing it (a paused process).
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, type Stream } from "effect"
import * as Runtime from "./internal/leaseRuntime.ts"
import {
  InvalidLeaseOptionsError,
  type LeaseLostError,
  type LeaseRenewalError,
  type ProviderUnavailableError
} from "./LeaseError.ts"
import type { LeaseEvent } from "./LeaseEvent.ts"
import type { ResolvedLeaseOptions } from "./LeaseOptions.ts"

export type { LeaseState, LeaseStatus } from "./internal/leaseRuntime.ts"

/**
 * A held lease. Fields that change over time (`expiresAt`, `state`, ...) are getters that read the current value.
 *
 * @since 0.1.0
 */
export class Lease {
  readonly #runtime: Runtime.LeaseRuntime

  /** @internal */
  constructor(runtime: Runtime.LeaseRuntime) {
    this.#runtime = runtime
  }

  /** The lease name. */
  get name(): string {
    return this.#runtime.name
  }

  /** The id of this grant; a new grant of the same name has a new id. */
  get leaseId(): string {
    return this.#runtime.leaseId
  }

  /** Who holds it (this process's holder id, or the one passed to `acquire`). */
  get holderId(): string {
    return this.#runtime.holderId
  }

  /** Strictly greater than the token of every earlier grant of this name. */
  get fencingToken(): bigint {
    return this.#runtime.fencingToken
  }

  /** The name of the provider holding it (`"memory"`, `"redis"`, ...). */
  get provider(): string {
    return this.#runtime.provider.name
  }

  /** When the acquire request was sent (wall clock). */
  get acquiredAt(): Date {
    return new Date(this.#runtime.acquiredAtWall)
  }

  /** When the current grant runs out in the store, counted from when its request was sent (wall clock). */
  get expiresAt(): Date {
    return new Date(this.#runtime.expiresAtWall)
  }

  /** When the last renewal request that was confirmed was sent (the acquisition time before any renewal). */
  get lastRenewedAt(): Date {
    return new Date(this.#runtime.lastRenewedAtWall)
  }

  /** `held`, then `lost` or `released`. */
  get state(): Runtime.LeaseState {
    return this.#runtime.state
  }

  /** Whether the lease is still held. */
  get isHeld(): boolean {
    return this.#runtime.state === "held"
  }

  /** Confirmed renewals so far. */
  get renewalCount(): number {
    return this.#runtime.renewalCount
  }

  /** Failed renewal attempts since the last confirmed one. */
  get consecutiveFailures(): number {
    return this.#runtime.consecutiveFailures
  }

  /** The time that was left on the lease when the last renewal was confirmed. */
  get lastSlack(): Duration.Duration | undefined {
    return this.#runtime.lastSlack
  }

  /** Why it was lost, once it is. */
  get lostError(): LeaseLostError | undefined {
    return this.#runtime.lostError
  }

  /** The resolved options it was acquired with. */
  get options(): ResolvedLeaseOptions {
    return this.#runtime.options
  }

  #events: Stream.Stream<LeaseEvent> | undefined

  /**
   * The lease's events: the most recent event first (`Acquired` right after acquisition), then every new one.
   * The stream ends after `Lost` or `Released`.
   */
  get events(): Stream.Stream<LeaseEvent> {
    this.#events ??= Runtime.events(this.#runtime)
    return this.#events
  }

  // The effects below are built on access, not held by every lease: with thousands of leases held, prebuilt
  // effect trees were a third of each lease's memory.

  /** Completes with the loss (reason `expired`, `stolen`, `broken`, `unconfirmed` or `released` by handoff). */
  get lost(): Effect.Effect<LeaseLostError> {
    return Deferred.await(this.#runtime.lost)
  }

  /**
   * Renews now. Fails with `LeaseLostError` when the store says the lease is gone (it is then marked lost), or
   * `LeaseRenewalError` when the store could not confirm (the lease stays held until its safety deadline).
   */
  get renew(): Effect.Effect<void, LeaseRenewalError | LeaseLostError> {
    return Runtime.renewOnce(this.#runtime, 1, false)
  }

  /** Stops renewal and releases the lease in the store (only if still ours there). Idempotent, never fails. */
  get release(): Effect.Effect<void> {
    return Runtime.release(this.#runtime)
  }

  /** Time left before the local safety deadline, at which an unconfirmed lease is declared lost. */
  get remaining(): Effect.Effect<Duration.Duration> {
    return Runtime.timeLeft(this.#runtime)
  }

  /**
   * Hands the lease to the holder `successorHolderId`, atomically: it is never free in between. Returns the
   * transfer token the successor passes to `LeaseManager.claim(name, token)` within `claimWindow` (default: the
   * lease's duration); unclaimed, the reservation expires like a lease. Once committed this lease is finished:
   * `lost` completes with reason `released` and work under it (`withLease`) is interrupted.
   */
  handoff(
    successorHolderId: string,
    options?: { readonly claimWindow?: Duration.Input | undefined }
  ): Effect.Effect<string, LeaseLostError | ProviderUnavailableError | InvalidLeaseOptionsError> {
    const window = options?.claimWindow === undefined ? undefined : Duration.fromInput(options.claimWindow)
    if (window !== undefined && window._tag === "None") {
      return Effect.fail(
        new InvalidLeaseOptionsError({ leaseName: this.name, field: "claimWindow", detail: "is not a valid duration" })
      )
    }
    return Runtime.handoff(this.#runtime, successorHolderId, window?._tag === "Some" ? window.value : undefined)
  }

  /** Where the lease stands in its renewal cycle (for health checks and dashboards). */
  get status(): Effect.Effect<Runtime.LeaseStatus> {
    return Runtime.status(this.#runtime)
  }

  toString(): string {
    return `Lease(${this.name}, ${this.state}, token ${this.fencingToken}, id ${this.leaseId})`
  }

  toJSON(): unknown {
    return {
      _id: "Lease",
      name: this.name,
      leaseId: this.leaseId,
      holderId: this.holderId,
      fencingToken: this.fencingToken.toString(),
      provider: this.provider,
      state: this.state,
      acquiredAt: this.acquiredAt.toISOString(),
      expiresAt: this.expiresAt.toISOString()
    }
  }
}

/**
 * Whether a value is a `Lease`.
 *
 * @since 0.1.0
 */
export const isLease = (u: unknown): u is Lease => u instanceof Lease
