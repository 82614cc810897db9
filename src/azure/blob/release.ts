/**
 * Release: one Lease Blob (release) request with our lease id. Azure checks the id, so a stale holder can never free
 * the current holder's lease.
 *
 * `true` when Azure accepted the id: the lease was ours, or had expired or been broken with nobody taking it since
 * (in those two cases the lease was already free for anyone; releasing it changes nothing for others). `false`
 * when the id did not match (409/412) or the blob is gone (404).
 *
 * @internal
 */
import { Effect } from "effect"
import type { ProviderUnavailableError } from "../../LeaseError.ts"
import type { BlobStore } from "./BlobStore.ts"
import { azureLeaseId } from "./leaseIds.ts"

/**
 * The `release` of the SPI.
 *
 * @internal
 */
export const release =
  (store: BlobStore) =>
  (request: { readonly name: string; readonly leaseId: string }): Effect.Effect<boolean, ProviderUnavailableError> =>
    store
      .request((signal) =>
        store.blob(request.name).getBlobLeaseClient(azureLeaseId(request.leaseId)).releaseLease({ abortSignal: signal })
      )
      .pipe(
        Effect.as(true),
        Effect.catch((error) =>
          error.status === 409 || error.status === 412 || error.status === 404
            ? Effect.succeed(false)
            : store.unavailable(error, "release", request)
        ),
        Effect.withSpan("BlobLeaseProvider.release", { attributes: { "lease.name": request.name } })
      )
