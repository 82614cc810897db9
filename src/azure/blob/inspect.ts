/**
 * Inspect: the lease state from one read, and, when the lease is held, a second read that proves the metadata
 * belongs to the current holder.
 *
 * The metadata names the *last* holder that recorded its grant. Right after a new acquire (before its metadata
 * write), or when a holder failed to record its grant, that is someone else. So when the lease is held, the lease
 * id found in the metadata is checked by reading the blob again *with* that lease id as a condition: Azure answers
 * only if it is the active lease. If it is not, the lease is reported held with holder and token unknown.
 *
 * | case | requests | answer |
 * | --- | --- | --- |
 * | no blob | 1 | free, no token |
 * | free (available, expired, broken) | 1 | free, with the last token granted |
 * | held | 2 | holder, lease id, token, acquired-at, metadata (or only `held` if unverifiable) |
 *
 * Azure does not report a lease's remaining time, so `remaining` and `expiresAt` are never set.
 *
 * @internal
 */
import { Effect, Option } from "effect"
import type { ProviderUnavailableError } from "../../LeaseError.ts"
import { free, type LeaseInfo } from "../../LeaseProvider.ts"
import type { BlobStore } from "./BlobStore.ts"
import { azureLeaseId } from "./leaseIds.ts"
import { type BlobMetadata, readFence, readGrant } from "./metadata.ts"
import { readSnapshot } from "./snapshot.ts"

const lastToken = (metadata: BlobMetadata): Option.Option<bigint> => {
  const fence = readFence(metadata)
  return fence === undefined || fence === 0n ? Option.none() : Option.some(fence)
}

/**
 * The `inspect` of the SPI.
 *
 * @internal
 */
export const inspect =
  (store: BlobStore) =>
  (name: string): Effect.Effect<LeaseInfo, ProviderUnavailableError> =>
    Effect.gen(function* () {
      const snapshot = yield* readSnapshot(store, name, "empty")
      if (Option.isNone(snapshot)) return free(name, Option.none())
      const { metadata, leased } = snapshot.value
      if (!leased) return free(name, lastToken(metadata))
      const unverified: LeaseInfo = { name, held: true }
      const claimed = readGrant(metadata).leaseId
      if (claimed === undefined) return unverified
      const verified = yield* store
        .request((signal) =>
          store.blob(name).getProperties({ abortSignal: signal, conditions: { leaseId: azureLeaseId(claimed) } })
        )
        .pipe(
          Effect.map((properties) => Option.some(properties)),
          // 412: the active lease is not the one the metadata names; 404: deleted meanwhile.
          Effect.catchIf(
            (error) => error.status === 412 || error.status === 409 || error.status === 404,
            () => Effect.succeed(Option.none())
          )
        )
      if (Option.isNone(verified)) return unverified
      const current = verified.value.metadata ?? {}
      const grant = readGrant(current)
      // The holder may have recorded a newer grant between the two reads; only a matching record is trusted.
      if (grant.leaseId !== claimed) return unverified
      const info: LeaseInfo = {
        name,
        held: true,
        holderId: grant.holderId,
        leaseId: grant.leaseId,
        fencingToken: Option.getOrUndefined(lastToken(current)),
        // A name's first grant is recorded when its blob is created, before the lease (time unknown then); the
        // blob was last modified by that very write, on the service's clock.
        acquiredAt: grant.acquiredAt ?? verified.value.lastModified,
        metadata: grant.metadata
      }
      return info
    }).pipe(
      Effect.catch((error) => store.unavailable(error, "inspect", { name })),
      Effect.withSpan("BlobLeaseProvider.inspect", { attributes: { "lease.name": name } })
    )
