/**
 * Maps what the Cosmos DB SDK throws into the library's tagged union, at the provider boundary.
 *
 * The SDK throws `ErrorResponse` (an HTTP answer: `code` is the status) or a `RestError` from the HTTP pipeline
 * (no answer: `code` is a Node error code such as `ECONNREFUSED`). The one question a caller needs answered is
 * `isRetryable`: may the very same call succeed later?
 * - Yes: 429 (throttled; `x-ms-retry-after-ms` becomes `retryAfter`), 408, 410, 449, 500, 502, 503, 504, and every
 *   network failure (refused, reset, timed out, DNS).
 * - No: 400 (a malformed request), 401 (the key or token was rejected), 403 (the identity lacks a data-plane role,
 *   or a control-plane action was attempted with Entra ID), 404 on the container or database (it does not exist),
 *   413 (the document is too large), and TLS failures (an untrusted or expired server certificate does not heal).
 *
 * Statuses that *are* answers about the lease (404 on a document, 409 on create, 412 on a conditional write) never
 * reach this module: `request.ts` returns them as values. The raw error is always kept as `cause`.
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { type LeaseOperation, ProviderUnavailableError } from "../../LeaseError.ts"

/** The provider name used in errors, logs and metrics. */
export const providerName = "azure-cosmos"

/**
 * The fields of an SDK error we rely on, read defensively: the SDK's own type is an open record.
 *
 * @since 0.1.0
 */
export interface CosmosErrorShape {
  /** The HTTP status, when the service answered. */
  readonly status: number | undefined
  /** The Node or pipeline error code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, ...) when it did not. */
  readonly code: string | undefined
  readonly substatus: number | undefined
  readonly headers: Readonly<Record<string, unknown>>
  readonly retryAfterMs: number | undefined
  readonly requestCharge: number | undefined
  readonly name: string
  readonly message: string
}

const field = (u: object, key: string): unknown => (key in u ? (u as Record<string, unknown>)[key] : undefined)

const finiteNumber = (u: unknown): number | undefined => {
  if (typeof u === "number" && Number.isFinite(u)) return u
  if (typeof u === "string" && u.trim() !== "" && Number.isFinite(Number(u))) return Number(u)
  return undefined
}

/**
 * Reads the shape of anything thrown by the SDK (or by us around it).
 *
 * @since 0.1.0
 */
export const errorShape = (u: unknown): CosmosErrorShape => {
  if (typeof u !== "object" || u === null) {
    return {
      status: undefined,
      code: undefined,
      substatus: undefined,
      headers: {},
      retryAfterMs: undefined,
      requestCharge: undefined,
      name: typeof u,
      message: String(u)
    }
  }
  const rawCode = field(u, "code")
  const rawHeaders = field(u, "headers")
  const headers: Record<string, unknown> =
    typeof rawHeaders === "object" && rawHeaders !== null ? (rawHeaders as Record<string, unknown>) : {}
  const status = typeof rawCode === "number" ? rawCode : (finiteNumber(field(u, "statusCode")) ?? finiteNumber(rawCode))
  const retryAfterMs =
    finiteNumber(field(u, "retryAfterInMs")) ??
    finiteNumber(field(u, "retryAfterInMilliseconds")) ??
    finiteNumber(headers["x-ms-retry-after-ms"])
  const requestCharge = finiteNumber(field(u, "requestCharge")) ?? finiteNumber(headers["x-ms-request-charge"])
  const name = field(u, "name")
  const message = field(u, "message")
  return {
    status: status !== undefined && status >= 100 && status < 600 ? status : undefined,
    code: typeof rawCode === "string" && finiteNumber(rawCode) === undefined ? rawCode : undefined,
    substatus: finiteNumber(field(u, "substatus")),
    headers,
    retryAfterMs,
    requestCharge,
    name: typeof name === "string" ? name : "Error",
    message: typeof message === "string" ? message : String(u)
  }
}

// TLS failures: the server's certificate will not become trusted by retrying.
const tlsCodes = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "EPROTO"
])

const transientStatuses: Record<number, string> = {
  408: "the request timed out in the service (408)",
  410: "the partition moved (410 Gone)",
  429: "throttled: the request rate is too large for the provisioned throughput (429)",
  449: "the service asked to retry the write (449)",
  500: "internal server error (500)",
  502: "bad gateway (502)",
  503: "the service is unavailable (503)",
  504: "gateway timeout (504)"
}

/**
 * What we make of a raw error: retryable or not, a short human explanation and, for throttling, how long the
 * service asked us to wait.
 *
 * @since 0.1.0
 */
export interface Classification {
  readonly isRetryable: boolean
  readonly detail: string
  readonly retryAfter?: Duration.Duration | undefined
}

/**
 * Where the provider stores its leases, for messages that must name it.
 *
 * @since 0.1.0
 */
export interface Location {
  readonly databaseName: string
  readonly containerName: string
}

/**
 * Classifies an error of the SDK.
 *
 * @since 0.1.0
 */
export const classify = (shape: CosmosErrorShape, location: Location): Classification => {
  const { status } = shape
  if (status !== undefined) {
    const transient = transientStatuses[status]
    if (transient !== undefined) {
      return {
        isRetryable: true,
        detail: transient,
        retryAfter: shape.retryAfterMs === undefined ? undefined : Duration.millis(Math.max(0, shape.retryAfterMs))
      }
    }
    switch (status) {
      case 401:
        return { isRetryable: false, detail: "the key or token was rejected (401 Unauthorized)" }
      case 403:
        return {
          isRetryable: false,
          detail:
            "forbidden (403): the identity lacks a Cosmos DB data-plane role on this account (for example " +
            "'Cosmos DB Built-in Data Contributor'), the account firewall refused this client, or a database or " +
            "container was to be created with an Entra ID credential (that needs the control plane: create them " +
            "beforehand)"
        }
      case 404:
        return {
          isRetryable: false,
          detail: `container "${location.containerName}" in database "${location.databaseName}" was not found (404)`
        }
      case 413:
        return { isRetryable: false, detail: "the lease document is too large (413): store less metadata" }
      default:
        return status >= 500
          ? { isRetryable: true, detail: `server error (${status})` }
          : { isRetryable: false, detail: `the request was rejected (${status})` }
    }
  }
  const code = shape.code
  if (code !== undefined && tlsCodes.has(code)) {
    return {
      isRetryable: false,
      detail:
        `TLS failure (${code}): the server's certificate is not trusted. Fix the certificate, or trust it for this ` +
        "client only (clientOptions.agent); never disable TLS verification for the whole process"
    }
  }
  if (shape.name === "AbortError") return { isRetryable: true, detail: "the request was aborted" }
  if (code !== undefined || shape.name === "RestError" || shape.name === "TimeoutError") {
    return { isRetryable: true, detail: `the service could not be reached (${code ?? shape.name}: ${shape.message})` }
  }
  return { isRetryable: false, detail: `unexpected error (${shape.name}: ${shape.message})` }
}

/**
 * The tagged error for an SDK failure, keeping the raw error as `cause`.
 *
 * @since 0.1.0
 */
export const unavailable = (
  cause: unknown,
  args: {
    readonly operation: LeaseOperation
    readonly location: Location
    readonly leaseName?: string | undefined
    readonly leaseId?: string | undefined
    readonly provider?: string | undefined
  }
): ProviderUnavailableError => {
  const shape = errorShape(cause)
  const classification = classify(shape, args.location)
  return new ProviderUnavailableError({
    provider: args.provider ?? providerName,
    operation: args.operation,
    isRetryable: classification.isRetryable,
    leaseName: args.leaseName,
    leaseId: args.leaseId,
    retryAfter: classification.retryAfter,
    detail: classification.detail,
    cause
  })
}

/**
 * The duration of a write in milliseconds, or a non-retryable error naming it. The core validates durations before
 * they reach the provider; this only guards direct use of the SPI.
 *
 * @since 0.1.0
 */
export const positiveMillis = (
  duration: Duration.Duration,
  what: string,
  args: {
    readonly operation: LeaseOperation
    readonly provider: string
    readonly leaseName: string
    readonly leaseId: string
  }
): Effect.Effect<number, ProviderUnavailableError> => {
  const ms = Duration.toMillis(duration)
  return Number.isFinite(ms) && ms > 0
    ? Effect.succeed(ms)
    : Effect.fail(
        new ProviderUnavailableError({
          ...args,
          isRetryable: false,
          detail: `the ${what} must be positive and finite, got ${ms} ms`
        })
      )
}
