/**
 * What the provider keeps in a lease blob's metadata, and how it is encoded.
 *
 * | key | value |
 * | --- | --- |
 * | `dl_fence` | the last fencing token granted for this name (decimal); absent means none yet |
 * | `dl_holder` | the holder id of the last grant |
 * | `dl_lease_id` | the lease id of the last grant (the core's id; see `leaseIds.ts`) |
 * | `dl_acquired_at` | when the last grant was made, by the service's clock (ISO 8601); absent for a name's first grant |
 * | `dl_duration` | its duration in seconds |
 * | `dl_metadata` | the lease's own metadata, as JSON (absent when it has none) |
 * | `dl_pending` | `1` while the lease is a handoff reservation (absent otherwise) |
 *
 * These keys are written together, under the lease, right after each acquire; every other key on the blob is
 * copied unchanged. A handoff (`handoff.ts`) rewrites them, under the reservation's lease, as a **reservation**:
 * `dl_holder` = the successor, `dl_lease_id` = the transfer token, `dl_pending` = `1`, `dl_duration` = the
 * reservation's length; the fence, grant time and metadata stay the old grant's until the claim, whose grant
 * drops `dl_pending` again. Keys are lower-case because Azure treats metadata names case-insensitively and the SDK
 * returns them lower-cased. Values are HTTP header values, so free text (holder ids, the JSON) is kept to printable
 * ASCII: space, `%` and everything outside `!`–`~` become `%uXXXX` (per UTF-16 code unit, so even a lone surrogate
 * round-trips).
 *
 * @internal
 */

/** @internal */
export const keys = {
  fence: "dl_fence",
  holder: "dl_holder",
  leaseId: "dl_lease_id",
  acquiredAt: "dl_acquired_at",
  duration: "dl_duration",
  metadata: "dl_metadata",
  pending: "dl_pending"
} as const

const ownKeys: ReadonlySet<string> = new Set(Object.values(keys))

/** Azure's limit on the total size of a blob's metadata names and values. @internal */
export const maxMetadataBytes = 8 * 1024

/** @internal */
export type BlobMetadata = Readonly<Record<string, string>>

/** Keeps `!`–`~` except `%`; everything else becomes `%uXXXX`. @internal */
export const encodeValue = (text: string): string =>
  text.replace(
    /[^\x21-\x24\x26-\x7e]/g,
    (unit) => `%u${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`
  )

/** The inverse of `encodeValue`. @internal */
export const decodeValue = (text: string): string =>
  text.replace(/%u([0-9A-Fa-f]{4})/g, (_, code: string) => String.fromCharCode(Number.parseInt(code, 16)))

/**
 * The last fencing token recorded on the blob: `0n` when there is none, `undefined` when the value is not a
 * number (someone else wrote it: we refuse to guess rather than risk handing out a token twice).
 *
 * @internal
 */
export const readFence = (metadata: BlobMetadata): bigint | undefined => {
  const value = metadata[keys.fence]
  if (value === undefined) return 0n
  return /^\d{1,40}$/.test(value) ? BigInt(value) : undefined
}

/** What the last grant recorded. @internal */
export interface GrantRecord {
  readonly fencingToken: bigint
  readonly holderId: string
  readonly leaseId: string
  /** The service's time of the grant; unknown for a name's first grant (written before the lease is taken). */
  readonly acquiredAt?: Date | undefined
  readonly durationSeconds: number
  readonly metadata?: BlobMetadata | undefined
}

const parseUserMetadata = (text: string | undefined): BlobMetadata | undefined => {
  if (text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(decodeValue(text))
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
    const out: Record<string, string> = {}
    for (const [key, entry] of Object.entries(value)) if (typeof entry === "string") out[key] = entry
    return out
  } catch {
    // Written by someone else: metadata is informational, so an unreadable value is simply not reported.
    return undefined
  }
}

/**
 * Reads the fields of the last grant (those present).
 *
 * @internal
 */
export const readGrant = (
  metadata: BlobMetadata
): {
  readonly holderId?: string | undefined
  readonly leaseId?: string | undefined
  readonly acquiredAt?: Date | undefined
  readonly metadata?: BlobMetadata | undefined
} => {
  const holder = metadata[keys.holder]
  const leaseId = metadata[keys.leaseId]
  const acquiredText = metadata[keys.acquiredAt]
  const acquiredAt = acquiredText === undefined ? undefined : new Date(acquiredText)
  return {
    holderId: holder === undefined ? undefined : decodeValue(holder),
    leaseId: leaseId === undefined ? undefined : decodeValue(leaseId),
    acquiredAt: acquiredAt === undefined || Number.isNaN(acquiredAt.getTime()) ? undefined : acquiredAt,
    metadata: parseUserMetadata(metadata[keys.metadata])
  }
}

/**
 * The blob metadata after a grant: every foreign key of `current` unchanged, ours replaced.
 *
 * @internal
 */
export const writeGrant = (current: BlobMetadata, grant: GrantRecord): Record<string, string> => {
  const next: Record<string, string> = {}
  for (const [key, value] of Object.entries(current)) if (!ownKeys.has(key)) next[key] = value
  next[keys.fence] = grant.fencingToken.toString()
  next[keys.holder] = encodeValue(grant.holderId)
  next[keys.leaseId] = encodeValue(grant.leaseId)
  if (grant.acquiredAt !== undefined) next[keys.acquiredAt] = grant.acquiredAt.toISOString()
  next[keys.duration] = String(grant.durationSeconds)
  if (grant.metadata !== undefined && Object.keys(grant.metadata).length > 0) {
    next[keys.metadata] = encodeValue(JSON.stringify(grant.metadata))
  }
  return next
}

/** What a handoff records. @internal */
export interface ReservationRecord {
  readonly successorHolderId: string
  readonly transferToken: string
  readonly durationSeconds: number
}

/**
 * The blob metadata after a handoff: everything of `current` kept (the fence above all), holder and lease id
 * replaced by the successor and the transfer token, and the pending marker set.
 *
 * @internal
 */
export const writeReservation = (current: BlobMetadata, reservation: ReservationRecord): Record<string, string> => ({
  ...current,
  [keys.holder]: encodeValue(reservation.successorHolderId),
  [keys.leaseId]: encodeValue(reservation.transferToken),
  [keys.duration]: String(reservation.durationSeconds),
  [keys.pending]: "1"
})

/**
 * The reservation recorded in `metadata`, if the blob's last record is one (successor and transfer token).
 *
 * @internal
 */
export const readReservation = (
  metadata: BlobMetadata
): { readonly successorHolderId: string; readonly transferToken: string } | undefined => {
  const holder = metadata[keys.holder]
  const token = metadata[keys.leaseId]
  if (metadata[keys.pending] !== "1" || holder === undefined || token === undefined) return undefined
  return { successorHolderId: decodeValue(holder), transferToken: decodeValue(token) }
}

/** The duration (whole seconds) the last grant or reservation recorded, if readable. @internal */
export const readDurationSeconds = (metadata: BlobMetadata): number | undefined => {
  const value = metadata[keys.duration]
  return value !== undefined && /^\d{1,3}$/.test(value) ? Number(value) : undefined
}

/** The size Azure counts against `maxMetadataBytes`: names plus values. @internal */
export const metadataBytes = (metadata: BlobMetadata): number =>
  Object.entries(metadata).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0)
