/**
 * Recording helpers for spans and metrics, so the lease logic says *what* happened in one line and this module
 * decides how it is recorded. Also the provider decorator that turns every store call into a child span and
 * counts its failures by kind.
 *
 * @internal
 */
import { Effect, Metric, type Tracer } from "effect"
import type { LeaseLostReason, LeaseOperation } from "../LeaseError.ts"
import * as LeaseMetrics from "../LeaseMetrics.ts"
import type { LeaseProviderShape } from "../LeaseProvider.ts"

/**
 * `Effect.withSpan` without capturing a stack trace: a lease operation's span is identified by its name and
 * attributes, and capturing a trace on every acquire and renewal was the largest cost of an acquire.
 *
 * @internal
 */
export const span = (name: string, options?: Tracer.SpanOptionsNoTrace) =>
  Effect.withSpan(name, options, { captureStackTrace: false })

/** @internal */
export type ProviderErrorKind = "timeout" | "retryable" | "fatal" | "conflict"

const add = <State>(metric: Metric.Metric<number, State>, attributes: Record<string, string>, value = 1) =>
  Metric.update(Metric.withAttributes(metric, attributes), value)

/** @internal */
export const acquisition = (provider: string, outcome: "acquired" | "timeout" | "error", elapsedMs: number) =>
  Effect.all(
    [
      add(LeaseMetrics.acquisitions, { provider, outcome }),
      add(LeaseMetrics.acquireDuration, { provider, outcome }, elapsedMs)
    ],
    { discard: true }
  )

/** @internal */
export const renewal = (provider: string, outcome: "success" | "failure", latencyMs: number) =>
  Effect.all(
    [add(LeaseMetrics.renewals, { provider, outcome }), add(LeaseMetrics.renewDuration, { provider }, latencyMs)],
    { discard: true }
  )

/** @internal */
export const slack = (provider: string, slackMs: number) => add(LeaseMetrics.renewalSlack, { provider }, slackMs)

/** @internal */
export const providerError = (provider: string, operation: LeaseOperation, kind: ProviderErrorKind) =>
  add(LeaseMetrics.providerErrors, { provider, operation, kind })

/** A lease started: the held gauge goes up. @internal */
export const leaseStarted = (provider: string) =>
  Metric.modify(Metric.withAttributes(LeaseMetrics.leasesHeld, { provider }), 1)

/** A lease ended (released or lost): the held gauge goes down and the hold time is recorded. @internal */
export const leaseEnded = (provider: string, heldMs: number, lost?: LeaseLostReason) =>
  Effect.all(
    [
      Metric.modify(Metric.withAttributes(LeaseMetrics.leasesHeld, { provider }), -1),
      add(LeaseMetrics.holdDuration, { provider }, heldMs),
      lost === undefined ? Effect.void : add(LeaseMetrics.leasesLost, { provider, reason: lost })
    ],
    { discard: true }
  )

const kindOf = (error: { readonly _tag: string; readonly isRetryable?: boolean }): ProviderErrorKind | undefined => {
  switch (error._tag) {
    case "ProviderUnavailableError":
      return error.isRetryable === true ? "retryable" : "fatal"
    case "LeaseConflictError":
    case "LeaseTransferError":
      return "conflict"
    default:
      // A LeaseLostError is the store answering, not failing.
      return undefined
  }
}

/**
 * Wraps every store call of `provider` in a `lease.provider.<operation>` span (a child of the lease span that
 * made it) and counts its failures. Providers add store-specific attributes (the Redis command, the Cosmos
 * request charge) to that span with `Effect.annotateCurrentSpan`.
 *
 * @internal
 */
export const instrument = (provider: LeaseProviderShape): LeaseProviderShape => {
  const observe =
    (operation: LeaseOperation, name: string) =>
    <A, E extends { readonly _tag: string; readonly isRetryable?: boolean }, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.tapError((error) => {
          const kind = kindOf(error)
          return kind === undefined ? Effect.void : providerError(provider.name, operation, kind)
        }),
        span(`lease.provider.${operation}`, {
          kind: "client",
          attributes: { "lease.name": name, "lease.provider": provider.name }
        })
      )
  const { handoff, claim } = provider
  return {
    ...provider,
    handoff: handoff === undefined ? undefined : (request) => observe("handoff", request.name)(handoff(request)),
    claim: claim === undefined ? undefined : (request) => observe("claim", request.name)(claim(request)),
    tryAcquire: (request) => observe("acquire", request.name)(provider.tryAcquire(request)),
    renew: (request) => observe("renew", request.name)(provider.renew(request)),
    release: (request) => observe("release", request.name)(provider.release(request)),
    inspect: (name) => observe("inspect", name)(provider.inspect(name)),
    breakLease: (name) => observe("break", name)(provider.breakLease(name))
  }
}
