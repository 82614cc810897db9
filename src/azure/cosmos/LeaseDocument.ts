/**
 * The lease document: its schema-validated shape, and the writes that move it from state to state.
 *
 * One document per lease name, whose `id` is the encoded name (`documentId.ts`) and whose partition key value is
 * that same id (under `/id` by default). It is never deleted by the provider: release and break clear the holder
 * and keep the fencing counter.
 *
 * ```json
 * { "id": "jobs~2Fnightly", "type": "distributed-leasing/lease", "name": "jobs/nightly",
 *   "fence": 1795846118004, "rev": 9, "durationMs": 30000,
 *   "holderId": "web-1:4242:9f1c", "leaseId": "0b6c…", "acquiredAt": "2026-11-28T06:08:38.120Z",
 *   "metadata": { "region": "westeurope" }, "ttl": 604800, "_ts": 1795846130, "_etag": "…" }
 * ```
 *
 * - `fence`: the fencing counter. Each grant writes `fence + 1` in the same conditional write that takes the lease.
 *   A new document starts at the service's clock in milliseconds (from the `Date` header of the read that found it
 *   missing), so a document deleted by the clean-up TTL or by hand and created again continues *above* every token
 *   it ever issued (as long as it saw fewer grants than milliseconds passed between its creation and its
 *   re-creation).
 * - `rev`: incremented by every write; orders the observations a provider caches.
 * - `durationMs`: the grant's length; expiry is `_ts` + `durationMs` judged by the service's clock
 *   (`serverClock.ts`). No absolute expiry is stored, so no client clock is ever compared with another about a
 *   grant (a handoff reservation's `reservedAt` refines the end of its window within one second, see below).
 * - `holderId` and `leaseId`: present together while granted; absent when free.
 * - `brokenLeaseId`: the lease id evicted by the last break, so that holder's next renewal is told `broken`.
 * - `pending` and `reservedAt`: present while the document is a handoff **reservation** (`handoff.ts`): `holderId`
 *   is then the successor, `leaseId` the transfer token, `durationMs` the claim window, and `reservedAt` the
 *   handing-off client's clock when it sent the handoff (it only refines the end of the window within the second
 *   the service's clock leaves open, see `serverClock.ts`). The fence, `acquiredAt` and `metadata` are the old
 *   grant's until the claim replaces them.
 * - `acquiredAt`: informational (the acquiring client's clock), shown by `inspect`; never used to judge expiry.
 * - `ttl`: optional clean-up of abandoned documents by the service, far longer than any lease. Correctness never
 *   depends on it (the test server does not even implement it).
 *
 * A document that does not match the schema (written by someone else under our id) is reported as a
 * non-retryable error naming its id, never overwritten.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The value of the `type` field that marks our documents. */
export const documentType = "distributed-leasing/lease"

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * The document as stored (including the system fields `_ts` and `_etag` we rely on).
 *
 * @since 0.1.0
 */
export const LeaseDocument = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal(documentType),
  name: Schema.String,
  fence: NonNegativeInt,
  rev: NonNegativeInt,
  durationMs: PositiveInt,
  holderId: Schema.optionalKey(Schema.String),
  leaseId: Schema.optionalKey(Schema.String),
  acquiredAt: Schema.optionalKey(Schema.String),
  brokenLeaseId: Schema.optionalKey(Schema.String),
  pending: Schema.optionalKey(Schema.Literal(true)),
  reservedAt: Schema.optionalKey(Schema.String),
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  ttl: Schema.optionalKey(Schema.Int),
  _ts: NonNegativeInt,
  _etag: Schema.String
}).check(
  Schema.makeFilter((doc) =>
    (doc.holderId === undefined) === (doc.leaseId === undefined)
      ? undefined
      : { path: ["leaseId"], issue: "holderId and leaseId must be present together" }
  ),
  Schema.makeFilter((doc) =>
    doc.pending === undefined || doc.holderId !== undefined
      ? undefined
      : { path: ["pending"], issue: "a reservation must name its successor (holderId) and token (leaseId)" }
  )
)

/**
 * A decoded lease document.
 *
 * @since 0.1.0
 */
export type LeaseDocument = typeof LeaseDocument.Type

/**
 * What we write: the document without the fields the service owns.
 *
 * @since 0.1.0
 */
export type LeaseBody = Omit<LeaseDocument, "_ts" | "_etag">

/**
 * Decodes what the service returned. `Result` rather than an effect: callers decide which error it becomes.
 *
 * @since 0.1.0
 */
export const decode = Schema.decodeUnknownResult(LeaseDocument)

/**
 * The writable fields of a stored document (system and unknown fields dropped).
 *
 * @since 0.1.0
 */
export const bodyOf = (doc: LeaseDocument | LeaseBody): LeaseBody => {
  const body: {
    -readonly [K in keyof LeaseBody]: LeaseBody[K]
  } = {
    id: doc.id,
    type: doc.type,
    name: doc.name,
    fence: doc.fence,
    rev: doc.rev,
    durationMs: doc.durationMs
  }
  if (doc.holderId !== undefined) body.holderId = doc.holderId
  if (doc.leaseId !== undefined) body.leaseId = doc.leaseId
  if (doc.acquiredAt !== undefined) body.acquiredAt = doc.acquiredAt
  if (doc.brokenLeaseId !== undefined) body.brokenLeaseId = doc.brokenLeaseId
  if (doc.pending !== undefined) body.pending = doc.pending
  if (doc.reservedAt !== undefined) body.reservedAt = doc.reservedAt
  if (doc.metadata !== undefined) body.metadata = doc.metadata
  if (doc.ttl !== undefined) body.ttl = doc.ttl
  return body
}

/**
 * What a grant writes.
 *
 * @since 0.1.0
 */
export interface GrantArgs {
  readonly id: string
  readonly name: string
  readonly holderId: string
  readonly leaseId: string
  readonly durationMs: number
  readonly acquiredAt: string
  readonly metadata?: Readonly<Record<string, string>> | undefined
  readonly ttl?: number | undefined
}

const withGrant = (base: LeaseBody, args: GrantArgs): LeaseBody => {
  // A grant over a lapsed reservation (or a claim of a live one) keeps nothing of the reservation.
  const { brokenLeaseId: _, metadata: __, ttl: ___, pending: ____, reservedAt: _____, ...rest } = base
  return {
    ...rest,
    holderId: args.holderId,
    leaseId: args.leaseId,
    durationMs: args.durationMs,
    acquiredAt: args.acquiredAt,
    ...(args.metadata === undefined ? {} : { metadata: { ...args.metadata } }),
    ...(args.ttl === undefined ? {} : { ttl: args.ttl })
  }
}

/**
 * The first document of a name: fence starts at `fenceStart` (server epoch ms, see the module docs).
 *
 * @since 0.1.0
 */
export const created = (args: GrantArgs, fenceStart: number): LeaseBody =>
  withGrant({ id: args.id, type: documentType, name: args.name, fence: fenceStart, rev: 1, durationMs: 1 }, args)

/**
 * A grant over an existing (free or expired) document: the fence moves up by one in the same write.
 *
 * @since 0.1.0
 */
export const granted = (previous: LeaseDocument, args: GrantArgs): LeaseBody => {
  const base = bodyOf(previous)
  return withGrant({ ...base, fence: base.fence + 1, rev: base.rev + 1 }, args)
}

/**
 * A renewal: the same grant, with the (possibly new) duration; the write itself moves `_ts`, and so the expiry.
 *
 * @since 0.1.0
 */
export const renewed = (current: LeaseDocument, durationMs: number, ttl: number | undefined): LeaseBody => {
  const { ttl: _, ...base } = bodyOf(current)
  return { ...base, durationMs, rev: base.rev + 1, ...(ttl === undefined ? {} : { ttl }) }
}

/**
 * What a handoff writes.
 *
 * @since 0.1.0
 */
export interface ReservationArgs {
  readonly successorHolderId: string
  readonly transferToken: string
  readonly windowMs: number
  /** The handing-off client's clock when it sent the handoff (ISO 8601). */
  readonly reservedAt: string
  readonly ttl?: number | undefined
}

/**
 * A handoff: the grant becomes a reservation for the successor under the transfer token, lasting the claim window
 * (from this write, which moves `_ts`). Fence, grant time and metadata stay until the claim.
 *
 * @since 0.1.0
 */
export const reserved = (current: LeaseDocument, args: ReservationArgs): LeaseBody => {
  const { ttl: _, ...base } = bodyOf(current)
  return {
    ...base,
    holderId: args.successorHolderId,
    leaseId: args.transferToken,
    durationMs: args.windowMs,
    pending: true,
    reservedAt: args.reservedAt,
    rev: base.rev + 1,
    ...(args.ttl === undefined ? {} : { ttl: args.ttl })
  }
}

/**
 * A claim: the reservation becomes the successor's grant, the fence moving up by one in the same write. Without
 * metadata of its own, the grant keeps the old grant's.
 *
 * @since 0.1.0
 */
export const claimed = (reservation: LeaseDocument, args: GrantArgs): LeaseBody =>
  granted(reservation, args.metadata === undefined ? { ...args, metadata: reservation.metadata } : args)

/**
 * A free document: holder, lease id, metadata and acquisition time cleared; fence kept.
 *
 * @since 0.1.0
 */
export const freed = (current: LeaseDocument): LeaseBody => {
  const {
    holderId: _,
    leaseId: __,
    acquiredAt: ___,
    metadata: ____,
    brokenLeaseId: _____,
    pending: ______,
    reservedAt: _______,
    ...base
  } = bodyOf(current)
  return { ...base, rev: base.rev + 1 }
}

/**
 * A broken document: freed, remembering whose lease was evicted.
 *
 * @since 0.1.0
 */
export const broken = (current: LeaseDocument): LeaseBody =>
  current.leaseId === undefined ? freed(current) : { ...freed(current), brokenLeaseId: current.leaseId }
