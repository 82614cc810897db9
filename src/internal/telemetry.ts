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

const { families } = LeaseMetrics

type Outcome = "acquired" | "timeout" | "error"

/**
 * The series of one provider, each built once with its attributes fixed (see `LeaseMetrics` for why that is cheaper
 * to record than `Metric.withAttributes` on every update). The hot ones are built up front; error and loss series,
 * keyed by operation and kind or reason, on first use. Providers are few, so the cache stays small.
 */
const seriesOf = (provider: string) => {
  const byOutcome = <M>(family: LeaseMetrics.Family<M>) => ({
    acquired: family.with({ provider, outcome: "acquired" }),
    timeout: family.with({ provider, outcome: "timeout" }),
    error: family.with({ provider, outcome: "error" })
  })
  return {
    acquisitions: byOutcome(families.acquisitions),
    acquireDuration: byOutcome(families.acquireDuration),
    renewed: families.renewals.with({ provider, outcome: "success" }),
    renewFailed: families.renewals.with({ provider, outcome: "failure" }),
    renewDuration: families.renewDuration.with({ provider }),
    slack: families.renewalSlack.with({ provider }),
    held: families.leasesHeld.with({ provider }),
    hold: families.holdDuration.with({ provider }),
    lost: new Map<string, ReturnType<typeof families.leasesLost.with>>(),
    errors: new Map<string, ReturnType<typeof families.providerErrors.with>>()
  }
}

const series = new Map<string, ReturnType<typeof seriesOf>>()
const of = (provider: string) => {
  let found = series.get(provider)
  if (found === undefined) {
    found = seriesOf(provider)
    series.set(provider, found)
  }
  return found
}

/** @internal */
export const acquisition = (provider: string, outcome: Outcome, elapsedMs: number) => {
  const s = of(provider)
  return Effect.andThen(Metric.update(s.acquisitions[outcome], 1), Metric.update(s.acquireDuration[outcome], elapsedMs))
}

/** @internal */
export const renewal = (provider: string, outcome: "success" | "failure", latencyMs: number) => {
  const s = of(provider)
  return Effect.andThen(
    Metric.update(outcome === "success" ? s.renewed : s.renewFailed, 1),
    Metric.update(s.renewDuration, latencyMs)
  )
}

/** @internal */
export const slack = (provider: string, slackMs: number) => Metric.update(of(provider).slack, slackMs)

/** @internal */
export const providerError = (provider: string, operation: LeaseOperation, kind: ProviderErrorKind) => {
  const { errors } = of(provider)
  const key = `${operation}|${kind}`
  let metric = errors.get(key)
  if (metric === undefined) {
    metric = families.providerErrors.with({ provider, operation, kind })
    errors.set(key, metric)
  }
  return Metric.update(metric, 1)
}

/** A lease started: the held gauge goes up. @internal */
export const leaseStarted = (provider: string) => Metric.modify(of(provider).held, 1)

/** A lease ended (released or lost): the held gauge goes down and the hold time is recorded. @internal */
export const leaseEnded = (provider: string, heldMs: number, lost?: LeaseLostReason) => {
  const s = of(provider)
  const ended = Effect.andThen(Metric.modify(s.held, -1), Metric.update(s.hold, heldMs))
  if (lost === undefined) return ended
  let metric = s.lost.get(lost)
  if (metric === undefined) {
    metric = families.leasesLost.with({ provider, reason: lost })
    s.lost.set(lost, metric)
  }
  return Effect.andThen(ended, Metric.update(metric, 1))
}

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
