/**
 * The container the leases live in, and the three requests the provider ever sends to it: a point read, a create
 * and a replace with `If-Match`. Every request goes through `send`, which
 *
 * - passes the fiber's `AbortSignal` to the SDK, so an interrupted attempt stops waiting at once;
 * - returns the statuses that are answers about the lease (404 on a document, 409 on create, 412 on a conditional
 *   write) as values, and maps every other failure with `errors.ts`;
 * - reads the server time of the answer (`serverClock.ts`);
 * - logs the request charge (RU) of each request at debug level, and adds it up per provider operation, which
 *   `operation` puts on the current span as `lease.cosmos.request_charge` (with `lease.cosmos.requests`).
 *
 * @since 0.1.0
 */
import type { Container, ItemDefinition } from "@azure/cosmos"
import { Effect, Result } from "effect"
import { type LeaseOperation, ProviderUnavailableError } from "../../LeaseError.ts"
import { errorShape, type Location, unavailable } from "./errors.ts"
import { decode, type LeaseBody, type LeaseDocument } from "./LeaseDocument.ts"
import type { ObservationCache } from "./ObservationCache.ts"
import { fromHeaders, type ServerInstant } from "./serverClock.ts"

/**
 * Everything the operations share.
 *
 * @since 0.1.0
 */
export interface LeaseStore {
  readonly container: Container
  readonly location: Location
  /** The top-level field that carries the partition key (`id` by default, where it is the id itself). */
  readonly partitionKeyField: string
  readonly providerName: string
  /** `clockSkewTolerance` in ms. */
  readonly toleranceMs: number
  /** The per-item clean-up `ttl` in seconds, if enabled. */
  readonly ttlSeconds: number | undefined
  readonly cache: ObservationCache
}

/**
 * The state of one provider operation (one SPI call), which may send several requests.
 *
 * @since 0.1.0
 */
export interface Operation {
  readonly store: LeaseStore
  readonly operation: LeaseOperation
  readonly name: string
  readonly leaseId: string | undefined
  /** Request units charged so far. */
  charge: number
  /** Requests sent so far. */
  requests: number
}

/**
 * An answer of the service.
 *
 * @since 0.1.0
 */
export interface Answer {
  readonly status: number
  readonly resource: unknown
  readonly at: ServerInstant
}

/** Real Cosmos says "the owner resource (container or database) does not exist" with this substatus on a 404. */
const ownerMissing = 1003

/**
 * Runs one provider operation: annotates its logs, and puts its total request charge on the current span.
 *
 * @since 0.1.0
 */
export const operation = <A, E>(
  store: LeaseStore,
  kind: LeaseOperation,
  name: string,
  leaseId: string | undefined,
  body: (op: Operation) => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const op: Operation = { store, operation: kind, name, leaseId, charge: 0, requests: 0 }
    return body(op).pipe(
      Effect.ensuring(
        Effect.suspend(() =>
          Effect.annotateCurrentSpan({
            "lease.cosmos.request_charge": op.charge,
            "lease.cosmos.requests": op.requests
          })
        )
      ),
      Effect.annotateLogs({ "lease.name": name, "lease.provider": store.providerName, "lease.operation": kind })
    )
  })

interface SdkResponse {
  readonly statusCode: number
  readonly substatus?: number | undefined
  readonly resource?: unknown
  readonly headers: Readonly<Record<string, unknown>>
  readonly requestCharge: number
}

interface Reply {
  readonly status: number | undefined
  readonly substatus: number | undefined
  readonly resource: unknown
  readonly headers: Readonly<Record<string, unknown>>
  readonly charge: number
  /** The SDK error, if the SDK threw (kept as `cause` if this reply becomes an error). */
  readonly error: unknown
  readonly label: string
}

const fromResponse = (response: SdkResponse): Reply => ({
  status: response.statusCode,
  substatus: response.substatus,
  resource: response.resource,
  headers: response.headers,
  charge: Number.isFinite(response.requestCharge) ? response.requestCharge : 0,
  error: undefined,
  label: String(response.statusCode)
})

const fromError = (cause: unknown): Reply => {
  const shape = errorShape(cause)
  return {
    status: shape.status,
    substatus: shape.substatus,
    resource: undefined,
    headers: shape.headers,
    charge: shape.requestCharge ?? 0,
    error: cause,
    label: String(shape.status ?? shape.code ?? shape.name)
  }
}

const send = (
  op: Operation,
  request: "read" | "create" | "replace",
  run: (signal: AbortSignal) => Promise<SdkResponse>,
  answers: ReadonlyArray<number>
): Effect.Effect<Answer, ProviderUnavailableError> =>
  Effect.gen(function* () {
    const outcome = yield* Effect.result(Effect.tryPromise({ try: run, catch: (cause) => cause }))
    const reply = Result.isSuccess(outcome) ? fromResponse(outcome.success) : fromError(outcome.failure)
    op.charge += reply.charge
    op.requests++
    yield* Effect.logDebug(`azure-cosmos ${request}`).pipe(
      Effect.annotateLogs({
        "lease.cosmos.request": request,
        "lease.cosmos.status": reply.label,
        "lease.cosmos.request_charge": reply.charge
      })
    )
    const { status } = reply
    const answered =
      status !== undefined &&
      (Result.isSuccess(outcome) || answers.includes(status)) &&
      // A 404 about the container or database (not the document) is never an answer about the lease.
      !(status === 404 && reply.substatus === ownerMissing)
    if (!answered) {
      // The SDK resolves some failures (a read's 404) instead of throwing: describe those by their status.
      const cause =
        reply.error ?? Object.assign(new Error(`status ${reply.label}`), { code: status, substatus: reply.substatus })
      return yield* unavailable(cause, {
        operation: op.operation,
        location: op.store.location,
        leaseName: op.name,
        leaseId: op.leaseId,
        provider: op.store.providerName
      })
    }
    return { status, resource: reply.resource, at: yield* fromHeaders(reply.headers) }
  })

const partitioned = (store: LeaseStore, body: LeaseBody): ItemDefinition =>
  store.partitionKeyField === "id" ? { ...body } : { ...body, [store.partitionKeyField]: body.id }

/**
 * Point read of a lease document (404 is an answer).
 *
 * @since 0.1.0
 */
export const read = (op: Operation, id: string): Effect.Effect<Answer, ProviderUnavailableError> =>
  send(op, "read", (abortSignal) => op.store.container.item(id, id).read<ItemDefinition>({ abortSignal }), [404])

/**
 * Creates a lease document (409 is an answer: someone else created it first).
 *
 * @since 0.1.0
 */
export const create = (op: Operation, body: LeaseBody): Effect.Effect<Answer, ProviderUnavailableError> =>
  send(
    op,
    "create",
    (abortSignal) => op.store.container.items.create(partitioned(op.store, body), { abortSignal }),
    [409]
  )

/**
 * Replaces a lease document if its ETag is still `etag` (412: it changed; 404: it was deleted).
 *
 * @since 0.1.0
 */
export const replace = (
  op: Operation,
  body: LeaseBody,
  etag: string
): Effect.Effect<Answer, ProviderUnavailableError> =>
  send(
    op,
    "replace",
    (abortSignal) =>
      op.store.container
        .item(body.id, body.id)
        .replace(partitioned(op.store, body), { accessCondition: { type: "IfMatch", condition: etag }, abortSignal }),
    [404, 412]
  )

/**
 * Whether an answer is a success (2xx).
 *
 * @since 0.1.0
 */
export const succeeded = (answer: Answer): boolean => answer.status >= 200 && answer.status < 300

/**
 * Decodes a document the service returned; a document that is not ours is a non-retryable error naming its id.
 *
 * @since 0.1.0
 */
export const decodeDocument = (
  op: Operation,
  id: string,
  resource: unknown
): Effect.Effect<LeaseDocument, ProviderUnavailableError> => {
  const decoded = decode(resource)
  const problem = Result.isFailure(decoded)
    ? decoded.failure.message
    : decoded.success.name !== op.name
      ? `it belongs to lease "${decoded.success.name}"`
      : undefined
  if (problem === undefined && Result.isSuccess(decoded)) return Effect.succeed(decoded.success)
  return Effect.fail(
    new ProviderUnavailableError({
      provider: op.store.providerName,
      operation: op.operation,
      isRetryable: false,
      leaseName: op.name,
      leaseId: op.leaseId,
      detail:
        `document "${id}" in container "${op.store.location.containerName}" of database ` +
        `"${op.store.location.databaseName}" is not a lease document of this library (${problem}); ` +
        "another program writes to this container, or the lease names of two programs collide",
      cause: Result.isFailure(decoded) ? decoded.failure : undefined
    })
  )
}

/**
 * Caches the document a successful write returned. A write never fails after the service accepted it: if its
 * answer cannot be decoded (a client configured not to return content on writes), the name is just forgotten.
 *
 * @since 0.1.0
 */
export const remember = (op: Operation, answer: Answer): void => {
  const decoded = decode(answer.resource)
  if (Result.isSuccess(decoded) && decoded.success.name === op.name) {
    op.store.cache.put(op.name, { doc: decoded.success, at: answer.at })
  } else {
    op.store.cache.forget(op.name)
  }
}
