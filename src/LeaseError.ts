/**
 * The tagged error union of the library.
 *
 * Every failure a user can see is one of these classes. They are real `Error` subclasses (so the Promise API
 * throws the very same classes and `instanceof` works) and they carry a `_tag` (so `Effect.catchTag` works).
 * Each carries the `leaseName` it concerns, and the `provider` and `leaseId` where they are known.
 *
 * @since 0.1.0
 */
import { Data, Duration } from "effect"

/**
 * Why a held lease stopped being ours.
 *
 * - `expired`: the store says the lease ran out before it could be renewed.
 * - `stolen`: the store says someone else holds it now.
 * - `released`: it was released or handed off while work was still running under it.
 * - `broken`: an operator broke it (`breakLease`).
 * - `unconfirmed`: no renewal was confirmed before the safety deadline (the store may be unreachable);
 *   we stop trusting the lease *before* the store could give it to someone else.
 *
 * @since 0.1.0
 */
export type LeaseLostReason = "expired" | "stolen" | "released" | "broken" | "unconfirmed"

/** @since 0.1.0 */
export const LeaseLostReasons: ReadonlyArray<LeaseLostReason> = [
  "expired",
  "stolen",
  "released",
  "broken",
  "unconfirmed"
]

/**
 * The operation a provider was performing when it failed.
 *
 * @since 0.1.0
 */
export type LeaseOperation = "acquire" | "renew" | "release" | "inspect" | "break" | "handoff" | "claim" | "connect"

const where = (args: { readonly provider?: string | undefined; readonly leaseId?: string | undefined }): string => {
  const parts: Array<string> = []
  if (args.provider !== undefined) parts.push(`provider ${args.provider}`)
  if (args.leaseId !== undefined) parts.push(`lease id ${args.leaseId}`)
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`
}

/**
 * `acquire` gave up: the lease stayed held by someone else for the whole timeout.
 *
 * @since 0.1.0
 */
export class LeaseAcquisitionTimeoutError extends Data.TaggedError("LeaseAcquisitionTimeoutError")<{
  readonly leaseName: string
  readonly timeout: Duration.Duration
  readonly attempts: number
  /** The holder seen on the last attempt, when the store tells. */
  readonly holderId?: string | undefined
  readonly provider?: string | undefined
  readonly message: string
}> {
  readonly isRetryable = true
  constructor(args: {
    readonly leaseName: string
    readonly timeout: Duration.Duration
    readonly attempts: number
    readonly holderId?: string | undefined
    readonly provider?: string | undefined
  }) {
    super({
      ...args,
      message:
        `Could not acquire lease "${args.leaseName}" within ${Duration.format(args.timeout)} ` +
        `after ${args.attempts} attempt(s)` +
        (args.holderId === undefined ? "" : `: it is held by "${args.holderId}"`) +
        where(args)
    })
  }
}

/**
 * A write lost a race against another writer of the same lease (for example two acquirers creating the
 * lease record at once). The waiting loop treats it as "held" and tries again.
 *
 * @since 0.1.0
 */
export class LeaseConflictError extends Data.TaggedError("LeaseConflictError")<{
  readonly leaseName: string
  readonly holderId?: string | undefined
  readonly provider?: string | undefined
  readonly leaseId?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
  readonly message: string
}> {
  readonly isRetryable = true
  constructor(args: {
    readonly leaseName: string
    readonly holderId?: string | undefined
    readonly provider?: string | undefined
    readonly leaseId?: string | undefined
    readonly detail?: string | undefined
    readonly cause?: unknown
  }) {
    super({
      ...args,
      message:
        `Lease "${args.leaseName}" is contended` +
        (args.holderId === undefined ? "" : ` (held by "${args.holderId}")`) +
        (args.detail === undefined ? "" : `: ${args.detail}`) +
        where(args)
    })
  }
}

/**
 * A renewal failed without proving the lease lost (for example the store was unreachable). The lease may
 * still be held; automatic renewal keeps retrying until the safety deadline.
 *
 * @since 0.1.0
 */
export class LeaseRenewalError extends Data.TaggedError("LeaseRenewalError")<{
  readonly leaseName: string
  readonly leaseId: string
  readonly attempt: number
  readonly provider?: string | undefined
  readonly cause: unknown
  readonly message: string
}> {
  readonly isRetryable = true
  constructor(args: {
    readonly leaseName: string
    readonly leaseId: string
    readonly attempt: number
    readonly provider?: string | undefined
    readonly cause: unknown
  }) {
    const causeMessage = args.cause instanceof Error ? `: ${args.cause.message}` : ""
    super({
      ...args,
      message: `Renewal attempt ${args.attempt} of lease "${args.leaseName}" failed${causeMessage}${where(args)}`
    })
  }
}

/**
 * The lease is no longer ours; see `reason`. Work protected by it must stop.
 *
 * @since 0.1.0
 */
export class LeaseLostError extends Data.TaggedError("LeaseLostError")<{
  readonly leaseName: string
  readonly reason: LeaseLostReason
  readonly leaseId?: string | undefined
  readonly provider?: string | undefined
  readonly detail?: string | undefined
  readonly message: string
}> {
  readonly isRetryable = false
  constructor(args: {
    readonly leaseName: string
    readonly reason: LeaseLostReason
    readonly leaseId?: string | undefined
    readonly provider?: string | undefined
    readonly detail?: string | undefined
  }) {
    super({
      ...args,
      message:
        `Lease "${args.leaseName}" was lost (${args.reason})` +
        (args.detail === undefined ? "" : `: ${args.detail}`) +
        where(args)
    })
  }
}

/**
 * The store could not be reached or answered with an error that says nothing about the lease itself.
 * `isRetryable` tells whether trying again can help (a timeout, a refused connection, throttling) or not
 * (bad credentials, a missing container, a key of the wrong type).
 *
 * @since 0.1.0
 */
export class ProviderUnavailableError extends Data.TaggedError("ProviderUnavailableError")<{
  readonly provider: string
  readonly operation: LeaseOperation
  readonly isRetryable: boolean
  readonly leaseName?: string | undefined
  readonly leaseId?: string | undefined
  /** When the store asked us to wait (HTTP `Retry-After`, `x-ms-retry-after-ms`). */
  readonly retryAfter?: Duration.Duration | undefined
  /** The call got no answer in time (it may still have taken effect in the store). */
  readonly isTimeout?: boolean | undefined
  readonly detail: string
  readonly cause?: unknown
  readonly message: string
}> {
  constructor(args: {
    readonly provider: string
    readonly operation: LeaseOperation
    readonly isRetryable: boolean
    readonly leaseName?: string | undefined
    readonly leaseId?: string | undefined
    readonly retryAfter?: Duration.Duration | undefined
    readonly isTimeout?: boolean | undefined
    readonly detail: string
    readonly cause?: unknown
  }) {
    super({
      ...args,
      message:
        `${args.provider} ${args.operation}` +
        (args.leaseName === undefined ? "" : ` of lease "${args.leaseName}"`) +
        ` failed (${args.isRetryable ? "retryable" : "not retryable"}): ${args.detail}`
    })
  }
}

/**
 * Options, names, durations, credentials or settings were rejected before anything was sent to a store.
 * The message names the offending field and value.
 *
 * @since 0.1.0
 */
export class InvalidLeaseOptionsError extends Data.TaggedError("InvalidLeaseOptionsError")<{
  readonly leaseName?: string | undefined
  readonly provider?: string | undefined
  /** The option (or path of options) that is wrong, e.g. `"renewInterval"` or `"credential.tenantId"`. */
  readonly field: string
  readonly detail: string
  readonly message: string
}> {
  readonly isRetryable = false
  constructor(args: {
    readonly leaseName?: string | undefined
    readonly provider?: string | undefined
    readonly field: string
    readonly detail: string
  }) {
    super({
      ...args,
      message:
        `Invalid option "${args.field}"` +
        (args.leaseName === undefined ? "" : ` for lease "${args.leaseName}"`) +
        (args.provider === undefined ? "" : ` (provider ${args.provider})`) +
        `: ${args.detail}`
    })
  }
}

/**
 * Why a claim of a handed-off lease was refused.
 *
 * - `invalid-token`: no handoff with this token is pending for this lease (wrong token, or already claimed).
 * - `expired`: the claim window passed, or the lease was broken, before the claim.
 * - `not-successor`: the lease was handed to another holder.
 *
 * @since 0.1.0
 */
export type LeaseTransferReason = "invalid-token" | "expired" | "not-successor"

/**
 * A `claim` of a handed-off lease was refused. Not retryable: the successor should fall back to `acquire`.
 *
 * @since 0.1.0
 */
export class LeaseTransferError extends Data.TaggedError("LeaseTransferError")<{
  readonly leaseName: string
  readonly reason: LeaseTransferReason
  readonly provider?: string | undefined
  readonly detail?: string | undefined
  readonly message: string
}> {
  readonly isRetryable = false
  constructor(args: {
    readonly leaseName: string
    readonly reason: LeaseTransferReason
    readonly provider?: string | undefined
    readonly detail?: string | undefined
  }) {
    super({
      ...args,
      message:
        `Cannot claim lease "${args.leaseName}" (${args.reason})` +
        (args.detail === undefined ? "" : `: ${args.detail}`) +
        where(args)
    })
  }
}

/**
 * Every error the library can fail with.
 *
 * @since 0.1.0
 */
export type LeaseError =
  | LeaseAcquisitionTimeoutError
  | LeaseConflictError
  | LeaseRenewalError
  | LeaseLostError
  | ProviderUnavailableError
  | InvalidLeaseOptionsError
  | LeaseTransferError

const tags = new Set<string>([
  "LeaseAcquisitionTimeoutError",
  "LeaseConflictError",
  "LeaseRenewalError",
  "LeaseLostError",
  "ProviderUnavailableError",
  "InvalidLeaseOptionsError",
  "LeaseTransferError"
])

/**
 * Whether a value is one of the library's errors.
 *
 * @since 0.1.0
 */
export const isLeaseError = (u: unknown): u is LeaseError =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag)
