/**
 * Lease health: a report on every lease this process holds, and an optional probe of the store, for liveness and
 * readiness checks (Kubernetes `/healthz` and `/readyz`).
 *
 * A held lease is:
 * - `Healthy` while its renewals are on time;
 * - `Degraded` while a renewal is overdue or failing but less than half of its retry window (from the due
 *   renewal to the safety deadline) is used;
 * - `Unhealthy` past that midpoint, and when it was lost while the code holding it has not let go of it (its
 *   scope is still open: the work it protected may still be running).
 *
 * The store probe acquires and releases a reserved lease (`__health__` by default) with one short attempt. If
 * someone else holds the probe lease the store has answered, so it is healthy (the original library reported
 * that case wrongly); a timeout or an error is unhealthy.
 *
 * @since 0.1.0
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Clock, Duration, Effect, Option } from "effect"
import * as Telemetry from "../internal/telemetry.ts"
import type { LeaseStatus } from "../Lease.ts"
import { LeaseManager } from "../LeaseManager.ts"

/**
 * Health states, from best to worst.
 *
 * @since 0.1.0
 */
export type HealthStatus = "Healthy" | "Degraded" | "Unhealthy"

/**
 * The health of one lease held by this process.
 *
 * @since 0.1.0
 */
export interface LeaseHealthEntry extends LeaseStatus {
  readonly name: string
  readonly leaseId: string
  readonly holderId: string
  readonly provider: string
  readonly fencingToken: string
  readonly status: HealthStatus
  readonly reason?: string | undefined
}

/**
 * The store probe's result.
 *
 * @since 0.1.0
 */
export interface StoreProbe {
  readonly status: HealthStatus
  readonly name: string
  readonly outcome: "acquired" | "held-elsewhere" | "timeout" | "error"
  readonly latency: Duration.Duration
  readonly detail?: string | undefined
}

/**
 * The whole report.
 *
 * @since 0.1.0
 */
export interface HealthReport {
  readonly status: HealthStatus
  readonly reasons: ReadonlyArray<string>
  readonly leases: ReadonlyArray<LeaseHealthEntry>
  readonly store?: StoreProbe | undefined
  readonly checkedAt: Date
}

/**
 * Options of a health check.
 *
 * @since 0.1.0
 */
export interface HealthOptions {
  /** Also probe the store by acquiring and releasing a reserved lease. Default `false`. */
  readonly probe?: boolean | undefined
  /** The reserved probe lease. Default `"__health__"`. */
  readonly probeName?: string | undefined
  /** Bound on the whole probe. Default 5 s. */
  readonly probeTimeout?: Duration.Input | undefined
  /** Duration of the probe lease (some stores have a minimum: Azure Blob 15 s). Default 15 s. */
  readonly probeDuration?: Duration.Input | undefined
}

const rank: Record<HealthStatus, number> = { Healthy: 0, Degraded: 1, Unhealthy: 2 }
const worst = (statuses: Iterable<HealthStatus>): HealthStatus => {
  let result: HealthStatus = "Healthy"
  for (const status of statuses) if (rank[status] > rank[result]) result = status
  return result
}
const seconds = (d: Duration.Duration) => `${(Duration.toMillis(d) / 1000).toFixed(1)} s`

const judge = (name: string, status: LeaseStatus): { status: HealthStatus; reason?: string } => {
  if (status.state === "lost") {
    return { status: "Unhealthy", reason: `lease "${name}" was lost but is still in use (its scope is open)` }
  }
  if (status.state !== "held" || !status.autoRenew) return { status: "Healthy" }
  const overdue = Duration.toMillis(status.renewalOverdue) > 0
  if (!overdue && status.consecutiveFailures === 0) return { status: "Healthy" }
  const detail =
    `unrenewed for ${seconds(status.sinceLastRenewal)} (${status.consecutiveFailures} failed attempt(s)), ` +
    `${seconds(status.untilSafetyDeadline)} before it is declared lost`
  if (status.retryWindowUsed >= 0.5) return { status: "Unhealthy", reason: `lease "${name}" ${detail}` }
  return { status: "Degraded", reason: `lease "${name}" ${detail}` }
}

/**
 * Probes the store with one short acquire + release of the reserved lease.
 *
 * @since 0.1.0
 */
export const probe = (options: HealthOptions = {}): Effect.Effect<StoreProbe, never, LeaseManager> =>
  Effect.gen(function* () {
    const manager = yield* LeaseManager
    const name = options.probeName ?? "__health__"
    const timeout = Duration.fromInputUnsafe(options.probeTimeout ?? "5 seconds")
    const started = yield* Clock.currentTimeMillis
    const attempt = Effect.scoped(
      Effect.map(
        manager.tryAcquire(name, {
          duration: Duration.fromInputUnsafe(options.probeDuration ?? "15 seconds"),
          autoRenew: false,
          attemptTimeout: timeout
        }),
        (lease) => (Option.isSome(lease) ? ("acquired" as const) : ("held-elsewhere" as const))
      )
    )
    const result = yield* attempt.pipe(
      Effect.map((outcome) => ({ outcome, detail: undefined as string | undefined })),
      Effect.catch((error) =>
        Effect.succeed({
          outcome:
            error._tag === "ProviderUnavailableError" && error.isTimeout === true
              ? ("timeout" as const)
              : ("error" as const),
          detail: error.message
        })
      ),
      Effect.timeoutOption(timeout),
      Effect.map(
        Option.getOrElse(() => ({ outcome: "timeout" as const, detail: `no answer within ${seconds(timeout)}` }))
      )
    )
    const latency = Duration.millis((yield* Clock.currentTimeMillis) - started)
    const healthy = result.outcome === "acquired" || result.outcome === "held-elsewhere"
    return {
      status: healthy ? "Healthy" : "Unhealthy",
      name,
      outcome: result.outcome,
      latency,
      detail: result.detail
    } satisfies StoreProbe
  }).pipe(Telemetry.span("lease.health.probe"))

/**
 * Checks every lease held through the `LeaseManager` in context, and the store if `probe` is set.
 *
 * @since 0.1.0
 */
export const check = (options: HealthOptions = {}): Effect.Effect<HealthReport, never, LeaseManager> =>
  Effect.gen(function* () {
    const manager = yield* LeaseManager
    const leases = yield* manager.held
    const entries = yield* Effect.forEach(leases, (lease) =>
      Effect.map(lease.status, (status): LeaseHealthEntry => {
        const verdict = judge(lease.name, status)
        return {
          ...status,
          name: lease.name,
          leaseId: lease.leaseId,
          holderId: lease.holderId,
          provider: lease.provider,
          fencingToken: lease.fencingToken.toString(),
          status: verdict.status,
          reason: verdict.reason
        }
      })
    )
    const store = options.probe === true ? yield* probe(options) : undefined
    const reasons = entries.flatMap((entry) => (entry.reason === undefined ? [] : [entry.reason]))
    if (store !== undefined && store.status !== "Healthy") {
      reasons.push(`store probe ${store.outcome}${store.detail === undefined ? "" : `: ${store.detail}`}`)
    }
    const status = worst([...entries.map((entry) => entry.status), ...(store === undefined ? [] : [store.status])])
    return { status, reasons, leases: entries, store, checkedAt: new Date(yield* Clock.currentTimeMillis) }
  })

/**
 * A plain Node `(req, res)` handler serving `/healthz` (liveness: the leases) and `/readyz` (readiness: the leases
 * and the store probe). It answers 200 when Healthy or Degraded, 503 when Unhealthy, with the report as JSON, and
 * 404 for other paths. `run` runs an effect with a `LeaseManager` (for example `runtime.runPromise` of a
 * `ManagedRuntime`).
 *
 * @since 0.1.0
 */
export const nodeHandler =
  (
    run: (effect: Effect.Effect<HealthReport, never, LeaseManager>) => Promise<HealthReport>,
    options: Omit<HealthOptions, "probe"> = {}
  ) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0]
    if (path !== "/healthz" && path !== "/readyz") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n")
      return
    }
    run(check({ ...options, probe: path === "/readyz" })).then(
      (report) => {
        res
          .writeHead(report.status === "Unhealthy" ? 503 : 200, { "content-type": "application/json" })
          .end(toJson(report))
      },
      (error: unknown) => {
        res
          .writeHead(503, { "content-type": "application/json" })
          .end(JSON.stringify({ status: "Unhealthy", reasons: [`health check failed: ${String(error)}`] }))
      }
    )
  }

/**
 * The report as JSON, durations in milliseconds.
 *
 * @since 0.1.0
 */
export const toJson = (report: HealthReport): string =>
  // `toJSON` runs before a replacer sees the value, so look at the raw value on the holder object.
  JSON.stringify(report, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key]
    return Duration.isDuration(raw) ? Duration.toMillis(raw) : value
  })
