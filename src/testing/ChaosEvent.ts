/**
 * What the chaos provider did, as events: one per injected fault, plus the start and end of partitions and pauses.
 *
 * They arrive on `ChaosController.events` (a `Stream`) and through the `onFault` callback option (for Promise
 * code and quick counters). `at` is `Clock` time in milliseconds, so under `TestClock` it is virtual time.
 *
 * @since 0.1.0
 */
import { Data, type Duration } from "effect"
import type { AcquireFaultError, Phase, RenewFaultError } from "./Fault.ts"
import type { ChaosOperation } from "./FaultPolicy.ts"

/**
 * How a partitioned call behaves: it fails at once (`"fail"`, a refused connection) or hangs until interrupted
 * (`"hang"`, packets dropped on the floor).
 *
 * @since 0.1.0
 */
export type PartitionMode = "fail" | "hang"

/**
 * The call an event is about.
 *
 * @since 0.1.0
 */
export interface CallInfo {
  /** `Clock` time in milliseconds. */
  readonly at: number
  readonly operation: ChaosOperation
  readonly leaseName: string
  /** The lease id of the call (acquire: the requested one; inspect and break: `undefined`). */
  readonly leaseId: string | undefined
  /** 1-based index of the call among all calls of this operation through this chaos provider. */
  readonly call: number
}

/**
 * - `Latency`, `Failure`, `Timeout`: a rule fired on a call (`rule` is its label).
 * - `Theft`: a lease was broken behind its holder's back, by a `steal` rule or by `ChaosController.steal`.
 * - `Partitioned`: a call hit a partition (failed or hung). `Paused`: a call was held by a pause.
 * - `PartitionStarted` / `PartitionEnded`, `PauseStarted` / `PauseEnded`: the controller's switches.
 *
 * @since 0.1.0
 */
export type ChaosEvent = Data.TaggedEnum<{
  Latency: CallInfo & { readonly rule: string; readonly phase: Phase; readonly delay: Duration.Duration }
  Failure: CallInfo & {
    readonly rule: string
    readonly phase: Phase
    readonly error: AcquireFaultError | RenewFaultError
  }
  Timeout: CallInfo & { readonly rule: string; readonly phase: Phase }
  Theft: {
    readonly at: number
    readonly leaseName: string
    /** Whether a holder was evicted (false when the lease was free). */
    readonly evicted: boolean
    /** The lease id that was evicted, as `inspect` saw it just before the break. */
    readonly evictedLeaseId: string | undefined
    readonly evictedHolderId: string | undefined
    /** A `steal` rule on a call, or `ChaosController.steal`. */
    readonly source: "rule" | "controller"
    readonly operation: ChaosOperation | undefined
    readonly rule: string | undefined
  }
  Partitioned: CallInfo & { readonly mode: PartitionMode }
  Paused: CallInfo
  PartitionStarted: { readonly at: number; readonly until: number | undefined; readonly mode: PartitionMode }
  PartitionEnded: { readonly at: number }
  PauseStarted: { readonly at: number; readonly until: number | undefined; readonly deliverLate: boolean }
  PauseEnded: {
    readonly at: number
    /** Held calls that reached the store when the pause ended. */
    readonly delivered: number
    /** Held calls whose callers had given up, dropped because `deliverLate` was false. */
    readonly dropped: number
  }
}>

/**
 * Constructors and matchers (`ChaosEvent.Theft({...})`, `ChaosEvent.$is("Failure")`, ...).
 *
 * @since 0.1.0
 */
export const ChaosEvent = Data.taggedEnum<ChaosEvent>()

/**
 * The tags of events injected into calls (as opposed to the controller's switches).
 *
 * @since 0.1.0
 */
export const faultTags: ReadonlyArray<ChaosEvent["_tag"]> = [
  "Latency",
  "Failure",
  "Timeout",
  "Theft",
  "Partitioned",
  "Paused"
]
