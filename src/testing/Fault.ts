/**
 * What to inject into a provider call, and rules that pair a fault with the policy that decides when.
 *
 * - `latency`: the call is delayed (a fixed time or a `Latency` distribution).
 * - `fail` and its helpers (`unavailable`, `lost`, `conflict`, `invalidOptions`): the call fails with one of the
 *   errors that operation can fail with, retryable or not. The types keep you honest: `lost` only fits renewals,
 *   `conflict` and `invalidOptions` only fit acquisitions, `unavailable` fits everything.
 * - `timeout`: the call hangs until it is interrupted (the core bounds every store call with `attemptTimeout`).
 * - `steal`: the lease named in the call is broken behind its holder's back, through the *real* provider's
 *   `breakLease`, before the call goes on. On an acquire this is a takeover: the caller gets a lease whose old
 *   holder still believes it holds it, until its next renewal tells it otherwise.
 *
 * **Phase.** `"request"` (the default) applies the fault before the store sees the call: a failed or timed-out
 * request never reached it. `"reply"` lets the store apply the call first and then delays, fails or loses the
 * answer: the nastier case where an acquire or a renewal *did* happen but the caller cannot know.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import {
  InvalidLeaseOptionsError,
  LeaseConflictError,
  LeaseLostError,
  type LeaseLostReason,
  ProviderUnavailableError
} from "../LeaseError.ts"
import type { DecisionContext, FaultPolicy } from "./FaultPolicy.ts"
import * as Latency from "./Latency.ts"

/**
 * Before the store sees the call (`"request"`) or after it applied it (`"reply"`).
 *
 * @since 0.1.0
 */
export type Phase = "request" | "reply"

/**
 * Errors an injected acquire failure may have.
 *
 * @since 0.1.0
 */
export type AcquireFaultError = ProviderUnavailableError | LeaseConflictError | InvalidLeaseOptionsError

/**
 * Errors an injected renew failure may have.
 *
 * @since 0.1.0
 */
export type RenewFaultError = LeaseLostError | ProviderUnavailableError

/**
 * Errors an injected release, inspect or break failure may have.
 *
 * @since 0.1.0
 */
export type StoreFaultError = ProviderUnavailableError

/** @since 0.1.0 */
export interface LatencyFault {
  readonly _tag: "Latency"
  readonly latency: Latency.Latency
  readonly phase: Phase
}

/** @since 0.1.0 */
export interface TimeoutFault {
  readonly _tag: "Timeout"
  readonly phase: Phase
}

/** @since 0.1.0 */
export interface StealFault {
  readonly _tag: "Steal"
}

/** @since 0.1.0 */
export interface FailureFault<E> {
  readonly _tag: "Failure"
  readonly phase: Phase
  readonly description: string
  readonly error: (context: DecisionContext) => E
}

/**
 * A fault. `E` is the error it can fail a call with (`never` for latency, timeouts and theft), which decides the
 * operations it fits.
 *
 * @since 0.1.0
 */
export type Fault<E = never> = LatencyFault | TimeoutFault | StealFault | FailureFault<E>

/**
 * A fault and when to inject it.
 *
 * @since 0.1.0
 */
export interface FaultRule<E = never> {
  readonly fault: Fault<E>
  /** When to inject it. Default: every call (`FaultPolicy.always`). */
  readonly when?: FaultPolicy | undefined
  /** Only calls about these lease names (an exact name, a pattern or a predicate). Default: every name. */
  readonly leases?: string | RegExp | ((name: string) => boolean) | undefined
  /** Shown in events. Default: the operation and the rule's position, e.g. `renew[0]`. */
  readonly label?: string | undefined
}

/**
 * Adds latency to the call.
 *
 * @since 0.1.0
 */
export const latency = (
  delay: Duration.Input | Latency.Latency,
  options: { readonly phase?: Phase | undefined } = {}
): Fault => ({ _tag: "Latency", latency: Latency.fromInput(delay), phase: options.phase ?? "request" })

/**
 * The call hangs until interrupted. With `phase: "reply"` the store applies it first (the answer is lost).
 *
 * @since 0.1.0
 */
export const timeout = (options: { readonly phase?: Phase | undefined } = {}): Fault => ({
  _tag: "Timeout",
  phase: options.phase ?? "request"
})

/**
 * Breaks the lease named in the call (through the real provider) before the call goes on.
 *
 * @since 0.1.0
 */
export const steal = (): Fault => ({ _tag: "Steal" })

/**
 * Fails the call with the error `error` builds from the call's context.
 *
 * @since 0.1.0
 */
export const fail = <E>(
  description: string,
  error: (context: DecisionContext) => E,
  options: { readonly phase?: Phase | undefined } = {}
): Fault<E> => ({ _tag: "Failure", phase: options.phase ?? "request", description, error })

const injected = "injected by the chaos provider"

/**
 * Fails with `ProviderUnavailableError` (retryable by default): the store could not be reached or failed. Fits
 * every operation.
 *
 * @since 0.1.0
 */
export const unavailable = (
  options: {
    readonly retryable?: boolean | undefined
    readonly retryAfter?: Duration.Duration | undefined
    readonly detail?: string | undefined
    readonly phase?: Phase | undefined
  } = {}
): Fault<ProviderUnavailableError> => {
  const retryable = options.retryable ?? true
  return fail(
    `unavailable(${retryable ? "retryable" : "not retryable"})`,
    (context) =>
      new ProviderUnavailableError({
        provider: context.provider,
        operation: context.operation,
        isRetryable: retryable,
        leaseName: context.name,
        leaseId: context.leaseId,
        retryAfter: options.retryAfter,
        detail: options.detail ?? injected
      }),
    { phase: options.phase }
  )
}

/**
 * Fails a renewal with `LeaseLostError` (reason `expired` by default): the store says the lease is gone, whether
 * or not it is. Fits `renew` only.
 *
 * @since 0.1.0
 */
export const lost = (
  options: {
    readonly reason?: LeaseLostReason | undefined
    readonly detail?: string | undefined
    readonly phase?: Phase | undefined
  } = {}
): Fault<LeaseLostError> => {
  const reason = options.reason ?? "expired"
  return fail(
    `lost(${reason})`,
    (context) =>
      new LeaseLostError({
        leaseName: context.name,
        reason,
        leaseId: context.leaseId,
        provider: context.provider,
        detail: options.detail ?? injected
      }),
    { phase: options.phase }
  )
}

/**
 * Fails an acquisition with `LeaseConflictError`: it lost a race against another writer. Fits `acquire` only.
 *
 * @since 0.1.0
 */
export const conflict = (
  options: { readonly holderId?: string | undefined; readonly detail?: string | undefined } = {}
): Fault<LeaseConflictError> =>
  fail(
    "conflict",
    (context) =>
      new LeaseConflictError({
        leaseName: context.name,
        holderId: options.holderId,
        provider: context.provider,
        leaseId: context.leaseId,
        detail: options.detail ?? injected
      })
  )

/**
 * Fails an acquisition with `InvalidLeaseOptionsError` (never retryable): the store rejected the request's
 * options. Fits `acquire` only.
 *
 * @since 0.1.0
 */
export const invalidOptions = (
  options: { readonly field?: string | undefined; readonly detail?: string | undefined } = {}
): Fault<InvalidLeaseOptionsError> =>
  fail(
    "invalidOptions",
    (context) =>
      new InvalidLeaseOptionsError({
        leaseName: context.name,
        provider: context.provider,
        field: options.field ?? "duration",
        detail: options.detail ?? injected
      })
  )

/**
 * A short description of a fault, used in events.
 *
 * @since 0.1.0
 */
export const describe = <E>(fault: Fault<E>): string => {
  switch (fault._tag) {
    case "Latency":
      return `latency ${fault.latency.description}${fault.phase === "reply" ? " (reply)" : ""}`
    case "Timeout":
      return `timeout${fault.phase === "reply" ? " (reply)" : ""}`
    case "Steal":
      return "steal"
    case "Failure":
      return `${fault.description}${fault.phase === "reply" ? " (reply)" : ""}`
  }
}

/**
 * Rules per operation. `all` applies to every operation and is evaluated first, then the operation's own rules;
 * each rule is evaluated exactly once per call it applies to.
 *
 * @since 0.1.0
 */
export interface ChaosRules {
  readonly all?: ReadonlyArray<FaultRule<StoreFaultError>> | undefined
  readonly acquire?: ReadonlyArray<FaultRule<AcquireFaultError>> | undefined
  readonly renew?: ReadonlyArray<FaultRule<RenewFaultError>> | undefined
  readonly release?: ReadonlyArray<FaultRule<StoreFaultError>> | undefined
  readonly inspect?: ReadonlyArray<FaultRule<StoreFaultError>> | undefined
  readonly break?: ReadonlyArray<FaultRule<StoreFaultError>> | undefined
}
