/**
 * The handle on a chaos provider: its events, its counters, and switches a test flips at runtime (partition the
 * store, pause it, steal a lease, turn the rules off or replace them).
 *
 * `ChaosLeaseProvider.layer` provides it next to the faulty `LeaseProvider`; `ChaosLeaseProvider.make` returns it
 * as a value (with the faulty provider as `provider`).
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ChaosController } from "distributed-leasing/testing"
 *
 * const outage = Effect.gen(function* () {
 *   const chaos = yield* ChaosController
 *   yield* chaos.partition("5 seconds") // every call fails for 5 s of Clock time
 *   yield* chaos.steal("nightly-report") // break the lease behind its holder's back
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Context, type Duration, type Effect, Stream } from "effect"
import type { ProviderUnavailableError } from "../LeaseError.ts"
import type { LeaseProviderShape } from "../LeaseProvider.ts"
import type { ChaosEvent, PartitionMode } from "./ChaosEvent.ts"
import type { ChaosRules } from "./Fault.ts"
import type { ChaosOperation } from "./FaultPolicy.ts"

/**
 * Counters of a chaos provider since it was built.
 *
 * @since 0.1.0
 */
export interface ChaosStats {
  /** The seed its decisions are drawn from. */
  readonly seed: number
  /** Calls per operation. */
  readonly calls: Readonly<Record<ChaosOperation, number>>
  /** Calls per operation that had at least one fault injected (a rule fired, or a partition or pause hit them). */
  readonly faulted: Readonly<Record<ChaosOperation, number>>
  /** Events emitted, by tag. */
  readonly events: Readonly<Record<ChaosEvent["_tag"], number>>
}

/**
 * The controller.
 *
 * @since 0.1.0
 */
export interface ChaosControllerShape {
  /** The faulty provider (what the `LeaseProvider` of the layer is). */
  readonly provider: LeaseProviderShape
  /** The real provider underneath, untouched by any fault: for checks behind the chaos' back. */
  readonly underlying: LeaseProviderShape
  /** The seed of the decisions (the one given, or the one drawn when none was: log it to replay a failure). */
  readonly seed: number
  /** Every event from the moment the stream is run. */
  readonly events: Stream.Stream<ChaosEvent>
  readonly stats: Effect.Effect<ChaosStats>
  /** Whether the rules are applied (partitions and pauses are independent of this switch). */
  readonly enabled: Effect.Effect<boolean>
  /** Apply the rules again after `disable`. */
  readonly enable: Effect.Effect<void>
  /** Stop applying the rules: calls pass through (still counted). Partitions and pauses stay as they are. */
  readonly disable: Effect.Effect<void>
  /** Replaces the rules. The rules' call counters start over. */
  readonly setRules: (rules: ChaosRules) => Effect.Effect<void>
  /**
   * Partitions the store from this provider: every call fails with a retryable `ProviderUnavailableError`
   * (`mode: "fail"`, the default) or hangs until interrupted (`mode: "hang"`), for `duration` of `Clock` time or
   * until `heal`. Calls that hung stay hung after the partition heals, like packets that were dropped.
   */
  readonly partition: (
    duration?: Duration.Input | undefined,
    options?: { readonly mode?: PartitionMode | undefined }
  ) => Effect.Effect<void>
  /** Ends a partition now. */
  readonly heal: Effect.Effect<void>
  readonly partitioned: Effect.Effect<boolean>
  /**
   * Pauses the store, like `SIGSTOP`: calls are held, in order, for `duration` of `Clock` time or until `resume`;
   * then they reach the store in the order they were made, and their callers get the answers if they still wait.
   * With `deliverLate: true` (the default) the calls whose callers gave up meanwhile are delivered too, as a frozen
   * server executes what was already in its socket; with `false` they are dropped, as requests never sent by a
   * frozen client.
   */
  readonly pause: (
    duration?: Duration.Input | undefined,
    options?: { readonly deliverLate?: boolean | undefined }
  ) => Effect.Effect<void>
  /** Ends a pause now: delivers the held calls (in order) and returns when they were answered. */
  readonly resume: Effect.Effect<void>
  readonly paused: Effect.Effect<boolean>
  /**
   * Breaks the lease `name` through the real provider, whoever holds it, as a thief or an operator would. Returns
   * whether a holder was evicted. Emits a `Theft` event.
   */
  readonly steal: (name: string) => Effect.Effect<boolean, ProviderUnavailableError>
}

/**
 * The controller service, provided by `ChaosLeaseProvider.layer` and `wrap`.
 *
 * @since 0.1.0
 */
export class ChaosController extends Context.Service<ChaosController, ChaosControllerShape>()(
  "distributed-leasing/testing/ChaosController"
) {
  /** The events of the controller in context. */
  static readonly events: Stream.Stream<ChaosEvent, never, ChaosController> = Stream.unwrap(
    ChaosController.useSync((chaos) => chaos.events)
  )
  /** The counters of the controller in context. */
  static readonly stats: Effect.Effect<ChaosStats, never, ChaosController> = ChaosController.use((c) => c.stats)
  /** `partition` on the controller in context. */
  static readonly partition = (
    duration?: Duration.Input | undefined,
    options?: { readonly mode?: PartitionMode | undefined }
  ): Effect.Effect<void, never, ChaosController> => ChaosController.use((c) => c.partition(duration, options))
  /** `heal` on the controller in context. */
  static readonly heal: Effect.Effect<void, never, ChaosController> = ChaosController.use((c) => c.heal)
  /** `pause` on the controller in context. */
  static readonly pause = (
    duration?: Duration.Input | undefined,
    options?: { readonly deliverLate?: boolean | undefined }
  ): Effect.Effect<void, never, ChaosController> => ChaosController.use((c) => c.pause(duration, options))
  /** `resume` on the controller in context. */
  static readonly resume: Effect.Effect<void, never, ChaosController> = ChaosController.use((c) => c.resume)
  /** `steal` on the controller in context. */
  static readonly steal = (name: string): Effect.Effect<boolean, ProviderUnavailableError, ChaosController> =>
    ChaosController.use((c) => c.steal(name))
  /** `disable` on the controller in context. */
  static readonly disable: Effect.Effect<void, never, ChaosController> = ChaosController.use((c) => c.disable)
  /** `enable` on the controller in context. */
  static readonly enable: Effect.Effect<void, never, ChaosController> = ChaosController.use((c) => c.enable)
}
