/**
 * Break (an operator action): read the lease state, then, if someone holds the lease, break it with a break period
 * of 0 so it is free at once. The holder's next renewal then fails with `LeaseLostError` (`broken`).
 *
 * Two requests when a holder is evicted, one otherwise. The read is what makes the answer exact: Azure also accepts
 * a break of a lease that is already broken, which evicts nobody.
 *
 * @internal
 */
import { Effect } from "effect"
import type { ProviderUnavailableError } from "../../LeaseError.ts"
import type { BlobStore } from "./BlobStore.ts"
import { readSnapshot } from "./snapshot.ts"

/**
 * The `breakLease` of the SPI.
 *
 * @internal
 */
export const breakLease =
  (store: BlobStore) =>
  (name: string): Effect.Effect<boolean, ProviderUnavailableError> =>
    Effect.gen(function* () {
      const snapshot = yield* readSnapshot(store, name, "empty")
      if (snapshot._tag === "None" || !snapshot.value.leased) return false
      return yield* store
        .request((signal) => store.blob(name).getBlobLeaseClient().breakLease(0, { abortSignal: signal }))
        .pipe(
          Effect.as(true),
          // 409: it expired or was released between the read and the break; 404: the blob was deleted meanwhile.
          Effect.catchIf(
            (error) => error.status === 409 || error.status === 404,
            () => Effect.succeed(false)
          )
        )
    }).pipe(
      Effect.catch((error) => store.unavailable(error, "break", { name })),
      Effect.withSpan("BlobLeaseProvider.breakLease", { attributes: { "lease.name": name } })
    )
