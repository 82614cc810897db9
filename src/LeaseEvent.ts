/**
 * What happens to a held lease, as a stream of events (`lease.events`).
 *
 * @since 0.1.0
 */
import { Data, type Duration } from "effect"
import type { LeaseLostError, LeaseLostReason } from "./LeaseError.ts"

/**
 * - `Acquired`: the grant, with its fencing token.
 * - `Renewed`: a renewal was confirmed; `slack` is the time that was left on the lease when it was, the early
 *   warning for slow stores and blocked event loops.
 * - `RenewalFailed`: one renewal attempt failed; `willRetry` says whether another attempt is scheduled before
 *   the safety deadline.
 * - `Lost`: the lease is no longer ours (`reason`).
 * - `Released`: the lease was released; `confirmed` is false when the store could not be told (it then
 *   expires there by itself).
 *
 * @since 0.1.0
 */
export type LeaseEvent = Data.TaggedEnum<{
  Acquired: {
    readonly name: string
    readonly leaseId: string
    readonly fencingToken: bigint
    readonly expiresAt: Date
    readonly ttl: Duration.Duration
  }
  Renewed: {
    readonly name: string
    readonly leaseId: string
    readonly expiresAt: Date
    readonly ttl: Duration.Duration
    readonly slack: Duration.Duration
  }
  RenewalFailed: {
    readonly name: string
    readonly leaseId: string
    readonly attempt: number
    readonly willRetry: boolean
    readonly error: Error
  }
  Lost: {
    readonly name: string
    readonly leaseId: string
    readonly reason: LeaseLostReason
    readonly error: LeaseLostError
  }
  Released: {
    readonly name: string
    readonly leaseId: string
    readonly confirmed: boolean
  }
}>

/**
 * Constructors and matchers for `LeaseEvent` (`LeaseEvent.Renewed({...})`, `LeaseEvent.$is("Lost")`, ...).
 *
 * @since 0.1.0
 */
export const LeaseEvent = Data.taggedEnum<LeaseEvent>()
