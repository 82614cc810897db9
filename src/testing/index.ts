/**
 * `distributed-leasing/testing`: the chaos and simulation kit.
 *
 * - `ChaosLeaseProvider`: fault injection for any provider (latency, errors, timeouts, intermittent windows, lease
 *   theft, partitions, pauses), with seeded, once-per-call decisions and automatic renewals going through it.
 * - `ChaosController`: its events (a `Stream`), counters and runtime switches.
 * - `Fault`, `FaultPolicy`, `Latency`: what to inject, when, and how long.
 * - `FencedResource`: a checker that plays the protected resource and reports stale writes, overlapping holds and
 *   gaps.
 *
 * With the memory provider and `TestClock`, a fault scenario of thousands of lease cycles is deterministic and runs
 * in seconds. See `docs/testing.md`.
 *
 * @since 0.1.0
 */

export { ChaosController, type ChaosControllerShape, type ChaosStats } from "./ChaosController.ts"
export { type CallInfo, ChaosEvent, faultTags, type PartitionMode } from "./ChaosEvent.ts"
export type { ChaosOptions } from "./ChaosLeaseProvider.ts"
export * as ChaosLeaseProvider from "./ChaosLeaseProvider.ts"
export type {
  AcquireFaultError,
  ChaosRules,
  FailureFault,
  FaultRule,
  LatencyFault,
  Phase,
  RenewFaultError,
  StealFault,
  StoreFaultError,
  TimeoutFault
} from "./Fault.ts"
export * as Fault from "./Fault.ts"
export type { ChaosOperation, DecisionContext } from "./FaultPolicy.ts"
export * as FaultPolicy from "./FaultPolicy.ts"
export type {
  FencedReport,
  FencedResourceShape,
  FencedWrite,
  Hold,
  Trackable,
  WriteOutcome
} from "./FencedResource.ts"
export * as FencedResource from "./FencedResource.ts"
export { StaleWriteError } from "./FencedResource.ts"
export * as Latency from "./Latency.ts"
