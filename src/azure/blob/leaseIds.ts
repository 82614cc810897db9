/**
 * Lease ids as Azure wants them.
 *
 * Azure accepts only a GUID as a proposed lease id. The core generates its ids with `crypto.randomUUID()`, which
 * are GUIDs and are sent unchanged. Any other id (a caller using the SPI directly) is mapped to a GUID derived
 * deterministically from it (SHA-256, formatted as an RFC 9562 version 8 UUID), so acquire, renew, release and
 * inspect all agree on it without keeping any state. The provider reports and stores the caller's id; only the
 * wire sees the derived one.
 *
 * @internal
 */
import { createHash } from "node:crypto"

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The GUID sent to Azure for the lease id `id`.
 *
 * @internal
 */
export const azureLeaseId = (id: string): string => {
  if (guid.test(id)) return id.toLowerCase()
  const bytes = createHash("sha256").update(id, "utf8").digest().subarray(0, 16)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80 // version 8: custom
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80 // RFC 9562 variant
  const hex = bytes.toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
