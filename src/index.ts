/**
 * `distributed-leasing`: time-bounded, renewable, exclusive leases on Effect 4.
 *
 * The core: the lease manager, the lease, its options, events and errors, and the provider SPI. Providers live
 * in their own entry points (`distributed-leasing/memory`, `/redis`, ...) so importing the core loads no SDK.
 *
 * @since 0.1.0
 */

export { Leasing } from "./config/index.ts"
export * as LeaseHealth from "./health/LeaseHealth.ts"
export { LeaderElection, type LeaderElectionOptions } from "./LeaderElection.ts"
export { isLease, Lease, type LeaseState, type LeaseStatus } from "./Lease.ts"
export {
  InvalidLeaseOptionsError,
  isLeaseError,
  LeaseAcquisitionTimeoutError,
  LeaseConflictError,
  type LeaseError,
  LeaseLostError,
  type LeaseLostReason,
  LeaseLostReasons,
  type LeaseOperation,
  LeaseRenewalError,
  LeaseTransferError,
  type LeaseTransferReason,
  ProviderUnavailableError
} from "./LeaseError.ts"
export { LeaseEvent } from "./LeaseEvent.ts"
export {
  type AcquireError,
  defaultHolderId,
  LeaseManager,
  type LeaseManagerConfig,
  type LeaseManagerShape
} from "./LeaseManager.ts"
export * as LeaseMetrics from "./LeaseMetrics.ts"
export {
  DurationInput,
  defaults as defaultLeaseOptions,
  type LeaseOptions,
  LeaseOptionsSchema,
  merge as mergeLeaseOptions,
  type ResolvedLeaseOptions,
  resolve as resolveLeaseOptions
} from "./LeaseOptions.ts"
export {
  type Acquired,
  type AcquireRequest,
  type AcquireResult,
  acquired,
  type ClaimRequest,
  free,
  type HandoffRequest,
  type Held,
  held,
  type LeaseInfo,
  LeaseProvider,
  type LeaseProviderCapabilities,
  type LeaseProviderShape,
  type Renewed
} from "./LeaseProvider.ts"
