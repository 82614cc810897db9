/**
 * `distributed-leasing/promise`: the whole library for plain TypeScript callers, without Effect.
 *
 * ```ts
 * import { createLeasing, LeaseAcquisitionTimeoutError } from "distributed-leasing/promise"
 * import { MemoryLeaseProvider } from "distributed-leasing/memory"
 *
 * await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer() })
 * try {
 *   await using lease = await leasing.lease("nightly-report").duration("5 minutes").timeout("30 seconds").acquire()
 *   await generateReport({ signal: lease.signal, fencingToken: lease.fencingToken })
 * } catch (error) {
 *   if (error instanceof LeaseAcquisitionTimeoutError) console.log("another replica is running it")
 *   else throw error
 * }
 * ```
 *
 * Each method runs the Effect API's own operation through a `ManagedRuntime` (one run per call), so both APIs
 * share one implementation, and the errors are the Effect API's classes: `instanceof` works and `_tag` is kept.
 *
 * @module
 * @since 0.1.0
 */

export { ConfigError } from "effect/Config"
export {
  InvalidLeaseOptionsError,
  isLeaseError,
  LeaseAcquisitionTimeoutError,
  LeaseConflictError,
  type LeaseError,
  LeaseLostError,
  type LeaseLostReason,
  LeaseRenewalError,
  LeaseTransferError,
  type LeaseTransferReason,
  ProviderUnavailableError
} from "../LeaseError.ts"
export type {
  LeaseEventListener,
  LeaseEventMap,
  LeaseEventName,
  LostEvent,
  ReleasedEvent,
  RenewalFailedEvent,
  RenewedEvent
} from "./events.ts"
export { type CreateLeasingFromEnvOptions, createLeasingFromEnv } from "./fromEnv.ts"
export { type ElectionEventMap, LeaderElectionClient } from "./LeaderElection.ts"
export { Lease } from "./Lease.ts"
export { LeaseBuilder } from "./LeaseBuilder.ts"
export {
  type ClientOptions,
  type CreateLeasingOptions,
  createLeasing,
  createLeasingFromLayer,
  type ElectionOptions,
  type LeaseInfo,
  LeasingClient
} from "./LeasingClient.ts"
export { LeasingClosedError } from "./LeasingClosedError.ts"
export type { AcquireOptions, DurationInput, LeaseOptions } from "./options.ts"
