/**
 * The library's metrics, as Effect `Metric`s. They are recorded in the `MetricRegistry` of the fibers that acquire
 * and renew leases, and exported by whatever exporter the application installs (`effect/observability`'s OTLP or
 * Prometheus layers, or `@effect/opentelemetry`). Names follow OpenTelemetry's semantic-convention style under
 * `leasing.*`; the unit travels as the `unit` attribute, which the OTLP exporter turns into the metric's unit.
 *
 * Attributes are low-cardinality on purpose: the provider name and an outcome or reason from a fixed set, never
 * the lease name (partition leases can number thousands) and never an error message (the original's `reason` tag
 * was free text).
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

const ms = { unit: "ms" } as const
const leases = { unit: "{lease}" } as const

/**
 * A metric, and a way to build the same series with more attributes fixed at construction. Recording through
 * `Metric.withAttributes` re-derives (and JSON-encodes) the series key on every update, which was a measurable
 * share of an acquire; a metric built with its attributes computes that key once. Both address the same series,
 * so users read them with `Metric.withAttributes(LeaseMetrics.x, {...})` as documented.
 *
 * @internal
 */
export interface Family<M> {
  readonly base: M
  readonly with: (attributes: Readonly<Record<string, string>>) => M
}

const family = <M>(make: (attributes: Readonly<Record<string, string>>) => M): Family<M> => ({
  base: make({}),
  with: make
})

/** Bucket boundaries in milliseconds, from 1 ms to about 9 minutes. */
const durationBoundaries = Metric.exponentialBoundaries({ start: 1, factor: 2, count: 20 })

const acquisitionsFamily = family((attributes) =>
  Metric.counter("leasing.acquisitions", {
    description: "Lease acquisitions (acquire and tryAcquire calls) by outcome: acquired, timeout, error",
    attributes: { unit: "{acquisition}", ...attributes },
    incremental: true
  })
)

/**
 * Acquisition attempts that ended, by `outcome`: `acquired`, `timeout` (held elsewhere until the timeout, or a
 * `tryAcquire` that found it held) or `error`.
 *
 * @since 0.1.0
 */
export const acquisitions = acquisitionsFamily.base

const renewalsFamily = family((attributes) =>
  Metric.counter("leasing.renewals", {
    description: "Lease renewal attempts (automatic and manual) by outcome: success, failure",
    attributes: { unit: "{renewal}", ...attributes },
    incremental: true
  })
)

/**
 * Renewal attempts, by `outcome`: `success` or `failure`.
 *
 * @since 0.1.0
 */
export const renewals = renewalsFamily.base

const leasesLostFamily = family((attributes) =>
  Metric.counter("leasing.leases.lost", {
    description: "Leases lost by reason: expired, stolen, released, broken, unconfirmed",
    attributes: { ...leases, ...attributes },
    incremental: true
  })
)

/**
 * Leases lost, by `reason`: `expired`, `stolen`, `released`, `broken`, `unconfirmed`.
 *
 * @since 0.1.0
 */
export const leasesLost = leasesLostFamily.base

const providerErrorsFamily = family((attributes) =>
  Metric.counter("leasing.provider.errors", {
    description: "Failed store calls by operation and kind: timeout, retryable, fatal, conflict",
    attributes: { unit: "{error}", ...attributes },
    incremental: true
  })
)

/**
 * Failed store calls, by `operation` and `kind`: `timeout` (no answer in time), `retryable`, `fatal`, `conflict`.
 *
 * @since 0.1.0
 */
export const providerErrors = providerErrorsFamily.base

const acquireDurationFamily = family((attributes) =>
  Metric.histogram("leasing.acquire.duration", {
    description: "Time to acquire a lease, including waiting, in milliseconds",
    attributes: { ...ms, ...attributes },
    boundaries: durationBoundaries
  })
)

/**
 * Time from calling `acquire` to holding the lease (or giving up), including waiting.
 *
 * @since 0.1.0
 */
export const acquireDuration = acquireDurationFamily.base

const holdDurationFamily = family((attributes) =>
  Metric.histogram("leasing.hold.duration", {
    description: "Time a lease was held, from grant to release or loss, in milliseconds",
    attributes: { ...ms, ...attributes },
    boundaries: durationBoundaries
  })
)

/**
 * How long leases were held, measured when they end (released or lost).
 *
 * @since 0.1.0
 */
export const holdDuration = holdDurationFamily.base

const renewDurationFamily = family((attributes) =>
  Metric.histogram("leasing.renew.duration", {
    description: "Latency of one renewal attempt, in milliseconds",
    attributes: { ...ms, ...attributes },
    boundaries: durationBoundaries
  })
)

/**
 * Latency of renewal attempts, from sending the request to its answer.
 *
 * @since 0.1.0
 */
export const renewDuration = renewDurationFamily.base

const renewalSlackFamily = family((attributes) =>
  Metric.histogram("leasing.renewal.slack", {
    description: "Time left on a lease when a renewal was confirmed, in milliseconds",
    attributes: { ...ms, ...attributes },
    boundaries: durationBoundaries
  })
)

/**
 * Time that was left on a lease when its renewal was confirmed. Falling slack is the early warning for a slow
 * store or a blocked event loop: at zero the lease would have been declared lost.
 *
 * @since 0.1.0
 */
export const renewalSlack = renewalSlackFamily.base

const leasesHeldFamily = family((attributes) =>
  Metric.gauge("leasing.leases.held", {
    description: "Leases currently held by this process",
    attributes: { ...leases, ...attributes }
  })
)

/**
 * Leases held by this process right now. Goes up on acquisition and down on release, loss, scope close and error.
 *
 * @since 0.1.0
 */
export const leasesHeld = leasesHeldFamily.base

/**
 * The families behind the exported metrics, for the core's recording helpers.
 *
 * @internal
 */
export const families = {
  acquisitions: acquisitionsFamily,
  renewals: renewalsFamily,
  leasesLost: leasesLostFamily,
  providerErrors: providerErrorsFamily,
  acquireDuration: acquireDurationFamily,
  holdDuration: holdDurationFamily,
  renewDuration: renewDurationFamily,
  renewalSlack: renewalSlackFamily,
  leasesHeld: leasesHeldFamily
} as const
