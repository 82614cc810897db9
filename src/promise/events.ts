/**
 * The events a Promise-API lease emits to `lease.on(...)` listeners.
 *
 * They are the core's `LeaseEvent`s as plain objects: a `type` instead of a `_tag`, and durations as numbers of
 * milliseconds (the unit of the Promise API) instead of Effect `Duration`s. `Acquired` is not offered: a listener
 * can only be added to a lease that is already acquired.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"
import type { LeaseLostError, LeaseLostReason } from "../LeaseError.ts"
import type { LeaseEvent } from "../LeaseEvent.ts"

/**
 * A renewal was confirmed by the store.
 *
 * @since 0.1.0
 */
export interface RenewedEvent {
  readonly type: "renewed"
  readonly name: string
  readonly leaseId: string
  /** The new expiry in the store (wall clock). */
  readonly expiresAt: Date
  /** How long the store now holds the lease, in milliseconds. */
  readonly ttl: number
  /** Milliseconds that were left on the lease when the renewal was confirmed: the early warning for slow stores. */
  readonly slack: number
}

/**
 * One renewal attempt failed; `willRetry` tells whether another attempt is scheduled before the safety deadline.
 *
 * @since 0.1.0
 */
export interface RenewalFailedEvent {
  readonly type: "renewalFailed"
  readonly name: string
  readonly leaseId: string
  readonly attempt: number
  readonly willRetry: boolean
  readonly error: Error
}

/**
 * The lease is no longer ours. `lease.signal` is aborted with the same `error`.
 *
 * @since 0.1.0
 */
export interface LostEvent {
  readonly type: "lost"
  readonly name: string
  readonly leaseId: string
  readonly reason: LeaseLostReason
  readonly error: LeaseLostError
}

/**
 * The lease was released; `confirmed` is `false` when the store could not be told (it then expires by itself).
 *
 * @since 0.1.0
 */
export interface ReleasedEvent {
  readonly type: "released"
  readonly name: string
  readonly leaseId: string
  readonly confirmed: boolean
}

/**
 * Event name → event type, for `lease.on(name, listener)`.
 *
 * @since 0.1.0
 */
export interface LeaseEventMap {
  readonly renewed: RenewedEvent
  readonly renewalFailed: RenewalFailedEvent
  readonly lost: LostEvent
  readonly released: ReleasedEvent
}

/**
 * The names `lease.on` accepts.
 *
 * @since 0.1.0
 */
export type LeaseEventName = keyof LeaseEventMap

/**
 * A listener of `name`. It may be `async`: a rejection is caught and logged like a throw.
 *
 * @since 0.1.0
 */
export type LeaseEventListener<K extends LeaseEventName> = (event: LeaseEventMap[K]) => void

/** @internal */
export const eventNames: ReadonlyArray<LeaseEventName> = ["renewed", "renewalFailed", "lost", "released"]

/**
 * The Promise-API form of a core event, or `undefined` for `Acquired`.
 *
 * @internal
 */
export const fromCoreEvent = (event: LeaseEvent): LeaseEventMap[LeaseEventName] | undefined => {
  switch (event._tag) {
    case "Acquired":
      return undefined
    case "Renewed":
      return {
        type: "renewed",
        name: event.name,
        leaseId: event.leaseId,
        expiresAt: event.expiresAt,
        ttl: Duration.toMillis(event.ttl),
        slack: Duration.toMillis(event.slack)
      }
    case "RenewalFailed":
      return {
        type: "renewalFailed",
        name: event.name,
        leaseId: event.leaseId,
        attempt: event.attempt,
        willRetry: event.willRetry,
        error: event.error
      }
    case "Lost":
      return { type: "lost", name: event.name, leaseId: event.leaseId, reason: event.reason, error: event.error }
    case "Released":
      return { type: "released", name: event.name, leaseId: event.leaseId, confirmed: event.confirmed }
  }
}
