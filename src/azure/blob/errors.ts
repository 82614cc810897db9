/**
 * Failed Blob requests: what we read from them, and how they become the library's errors.
 *
 * Every SDK call goes through `BlobStore.request`, which turns a rejection into a `BlobRequestError` carrying the
 * HTTP status, the Azure error code and the server's `Retry-After`. Each operation first matches the codes that
 * are answers for it (`LeaseAlreadyPresent` means "held" to acquire, `LeaseIdMismatchWithLeaseOperation` means
 * "lost" to renew, …) and hands the rest to `toUnavailable`:
 *
 * | failure | retryable | why |
 * | --- | --- | --- |
 * | 401, 403 (bad key, expired SAS, missing RBAC role) | no | retrying the same credential cannot succeed |
 * | 404 `ContainerNotFound` | only with `createContainerIfNotExists` | otherwise a setup error; the message names the container |
 * | other 404, other 4xx | no | a request the service will keep refusing |
 * | 408, 429, 500, 502, 503, 504, 409 `ContainerBeingDeleted` | yes | transient; `Retry-After` becomes `retryAfter` |
 * | no response (refused, reset, DNS, timeout) | yes | the network may come back |
 * | credential could not get a token | no | not configured or rejected |
 *
 * @internal
 */
import { Data, Duration } from "effect"
import { type LeaseOperation, ProviderUnavailableError } from "../../LeaseError.ts"

/** The provider name used in errors, logs and metrics. @internal */
export const providerName = "azure-blob"

/**
 * A rejected SDK call, reduced to what the mapping needs. The raw error is kept as `cause`.
 *
 * @internal
 */
export class BlobRequestError extends Data.TaggedError("BlobRequestError")<{
  readonly status?: number | undefined
  readonly code?: string | undefined
  readonly retryAfter?: Duration.Duration | undefined
  readonly detail: string
  readonly cause: unknown
}> {}

interface HeadersLike {
  readonly get: (name: string) => string | undefined
}

const field = (value: unknown, name: string): unknown =>
  typeof value === "object" && value !== null ? Reflect.get(value, name) : undefined

const stringField = (value: unknown, name: string): string | undefined => {
  const found = field(value, name)
  return typeof found === "string" && found !== "" ? found : undefined
}

const headersOf = (error: unknown): HeadersLike | undefined => {
  const headers = field(field(error, "response"), "headers")
  const get = field(headers, "get")
  return typeof get === "function" ? { get: (name) => get.call(headers, name) ?? undefined } : undefined
}

const parseMillis = (text: string | undefined, scale: number): Duration.Duration | undefined => {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text.trim())) return undefined
  return Duration.millis(Number(text.trim()) * scale)
}

/**
 * The server's requested delay: `x-ms-retry-after-ms`, `retry-after-ms`, or `Retry-After` in seconds or as an
 * HTTP date. A date is measured against the response's own `Date` header, so no local clock is involved.
 *
 * @internal
 */
export const retryAfterOf = (headers: HeadersLike | undefined): Duration.Duration | undefined => {
  if (headers === undefined) return undefined
  const millis = parseMillis(headers.get("x-ms-retry-after-ms"), 1) ?? parseMillis(headers.get("retry-after-ms"), 1)
  if (millis !== undefined) return millis
  const value = headers.get("retry-after")
  const seconds = parseMillis(value, 1000)
  if (seconds !== undefined || value === undefined) return seconds
  const at = Date.parse(value)
  const now = Date.parse(headers.get("date") ?? "")
  return Number.isNaN(at) || Number.isNaN(now) ? undefined : Duration.millis(Math.max(0, at - now))
}

const firstLine = (text: string): string => text.split("\n", 1)[0]?.trim() ?? text

/**
 * Reads a rejection of the Azure SDK (a `RestError`, or anything else) without trusting its shape.
 *
 * @internal
 */
export const fromUnknown = (cause: unknown): BlobRequestError => {
  const statusField = field(cause, "statusCode")
  const status = typeof statusField === "number" ? statusField : undefined
  const headers = headersOf(cause)
  // HEAD responses have no body: the code is then only in `details.errorCode` / the `x-ms-error-code` header.
  const code =
    stringField(field(cause, "details"), "errorCode") ?? headers?.get("x-ms-error-code") ?? stringField(cause, "code")
  const message = cause instanceof Error ? firstLine(cause.message) : String(cause)
  const label = [status, code].filter((part) => part !== undefined).join(" ")
  return new BlobRequestError({
    status,
    code,
    retryAfter: retryAfterOf(headers),
    detail: label === "" ? message : message === "" || message === code ? label : `${label}: ${message}`,
    cause
  })
}

const credentialErrors = new Set(["CredentialUnavailableError", "AuthenticationError", "AggregateAuthenticationError"])

const retryableStatus = new Set([408, 429, 500, 502, 503, 504])

/** What `toUnavailable` needs to know about the provider. @internal */
export interface ErrorContext {
  readonly containerName: string
  /** The container's URL without query (a SAS never appears in messages). */
  readonly containerUrl: string
  readonly createContainer: boolean
}

/**
 * A `ProviderUnavailableError` for a failure that says nothing about the lease itself.
 *
 * @internal
 */
export const toUnavailable = (
  error: BlobRequestError,
  context: ErrorContext,
  operation: LeaseOperation,
  lease?: { readonly name?: string | undefined; readonly leaseId?: string | undefined },
  /** Appended to the detail of a non-retryable error: what the user can do about it. */
  hint?: string
): ProviderUnavailableError => {
  const { status, code } = error
  let isRetryable: boolean
  let detail = error.detail
  if (status === 401 || status === 403) {
    isRetryable = false
    detail =
      `access denied (${detail}); check the credential, and that it holds the "Storage Blob Data Contributor" ` +
      `role (or a SAS with read, write and create permissions) on container "${context.containerName}"`
  } else if (code === "ContainerNotFound") {
    isRetryable = context.createContainer
    detail = context.createContainer
      ? `container "${context.containerName}" at ${context.containerUrl} was deleted; it will be created again`
      : `container "${context.containerName}" does not exist at ${context.containerUrl}; create it, or set ` +
        "createContainerIfNotExists: true"
  } else if (status !== undefined) {
    isRetryable = retryableStatus.has(status) || code === "ContainerBeingDeleted"
  } else {
    const name = error.cause instanceof Error ? error.cause.name : undefined
    isRetryable = name === undefined || !credentialErrors.has(name)
    if (!isRetryable) detail = `could not get a Microsoft Entra ID token: ${detail}`
  }
  if (!isRetryable && hint !== undefined) detail = `${detail} (${hint})`
  return new ProviderUnavailableError({
    provider: providerName,
    operation,
    isRetryable,
    leaseName: lease?.name,
    leaseId: lease?.leaseId,
    retryAfter: isRetryable ? error.retryAfter : undefined,
    detail,
    cause: error.cause
  })
}
