/**
 * Recording helpers for spans and metrics, so the lease logic says *what* happened in one line and this module
 * decides how it is recorded. Also the provider decorator that turns every store call into a child span and
 * counts its failures by kind.
 *
 * @internal
 */
import { Effect, LogLevel, Metric, References, Tracer } from "effect"
import type { LeaseLostReason, LeaseOperation } from "../LeaseError.ts"
import * as LeaseMetrics from "../LeaseMetrics.ts"
import type { LeaseProviderShape } from "../LeaseProvider.ts"

/**
 * `Effect.withSpan` without capturing a stack trace (a lease operation's span is identified by its name and
 * attributes, and capturing a trace on every acquire and renewal was the largest cost of an acquire), and only when
 * a tracer is installed.
 *
 * @internal
 */
export const span =
  (name: string, options?: Tracer.SpanOptionsNoTrace) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const traced = Effect.withSpan(name, options, { captureStackTrace: false })(effect)
    // With Effect's native tracer (no tracer installed) a span is recorded nowhere; skipping it saves a tenth of
    // an uncontended acquire. Effect documents comparing the active tracer with `nativeTracer` for this.
    return Effect.withFiber((fiber) => (fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer ? effect : traced))
  }

/** @internal */
export type ProviderErrorKind = "timeout" | "retryable" | "fatal" | "conflict"

/**
 * The series of `family` with `attributes`, built once and reused: see `LeaseMetrics` for why a metric with its
 * attributes fixed is cheaper to record than `Metric.withAttributes` on every update. Keys are few (provider ×
 * a fixed set of outcomes), so the cache stays small.
 */
const variants = new Map<string, unknown>()
const variant = <M>(family: LeaseMetrics.Family<M>, key: string, attributes: () => Record<string, string>): M => {
  let metric = variants.get(key) as M | undefined
  if (metric === undefined) {
    metric = family.with(attributes())
    variants.set(key, metric)
  }
  return metric
}

const { families } = LeaseMetrics

/** @internal */
export const acquisition = (provider: string, outcome: "acquired" | "timeout" | "error", elapsedMs: number) =>
  Effect.andThen(
    Metric.update(
      variant(families.acquisitions, `acq|${provider}|${outcome}`, () => ({ provider, outcome })),
      1
    ),
    Metric.update(
      variant(families.acquireDuration, `acqd|${provider}|${outcome}`, () => ({ provider, outcome })),
      elapsedMs
    )
  )

/** @internal */
export const renewal = (provider: string, outcome: "success" | "failure", latencyMs: number) =>
  Effect.andThen(
    Metric.update(
      variant(families.renewals, `ren|${provider}|${outcome}`, () => ({ provider, outcome })),
      1
    ),
    Metric.update(
      variant(families.renewDuration, `rend|${provider}`, () => ({ provider })),
      latencyMs
    )
  )

/** @internal */
export const slack = (provider: string, slackMs: number) =>
  Metric.update(
    variant(families.renewalSlack, `slack|${provider}`, () => ({ provider })),
    slackMs
  )

/** @internal */
export const providerError = (provider: string, operation: LeaseOperation, kind: ProviderErrorKind) =>
  Metric.update(
    variant(families.providerErrors, `err|${provider}|${operation}|${kind}`, () => ({ provider, operation, kind })),
    1
  )

const held = (provider: string) => variant(families.leasesHeld, `held|${provider}`, () => ({ provider }))

/** A lease started: the held gauge goes up. @internal */
export const leaseStarted = (provider: string) => Metric.modify(held(provider), 1)

/** A lease ended (released or lost): the held gauge goes down and the hold time is recorded. @internal */
export const leaseEnded = (provider: string, heldMs: number, lost?: LeaseLostReason) =>
  Effect.andThen(
    Effect.andThen(
      Metric.modify(held(provider), -1),
      Metric.update(
        variant(families.holdDuration, `hold|${provider}`, () => ({ provider })),
        heldMs
      )
    ),
    lost === undefined
      ? Effect.void
      : Metric.update(
          variant(families.leasesLost, `lost|${provider}|${lost}`, () => ({ provider, reason: lost })),
          1
        )
  )

/**
 * Whether debug logs would be written. Checked before building a debug log and its annotations, which otherwise
 * cost as much as a store call on the memory provider, for a line that is dropped at the default level.
 *
 * @internal
 */
export const debugEnabled: Effect.Effect<boolean> = Effect.map(References.MinimumLogLevel, (minimum) =>
  LogLevel.isGreaterThanOrEqualTo("Debug", minimum)
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
