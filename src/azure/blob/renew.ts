/**
 * Renewal: one Lease Blob (renew) request with our lease id.
 *
 * Any answer that proves the lease is no longer ours is a `LeaseLostError`, never a retryable error (the original
 * library retried these until its retries ran out, working on without the lease meanwhile):
 *
 * | answer | reason |
 * | --- | --- |
 * | 409 `LeaseIsBrokenAndCannotBeRenewed` (or another "broken"/"breaking" code) | `broken` |
 * | 412 `LeaseLost` | `expired` |
 * | 409/412 lease id mismatch or no lease | one more read tells: someone else holds it → `stolen`, else `expired` |
 * | 404 (blob or container deleted) | `broken` |
 *
 * Azure renews a lease that has expired as long as nobody took it since; that is a successful renewal here too.
 *
 * @internal
 */
import { type Duration, Effect } from "effect"
import { LeaseLostError, type LeaseLostReason, type ProviderUnavailableError } from "../../LeaseError.ts"
import type { Renewed } from "../../LeaseProvider.ts"
import type { BlobRequestError, BlobStore } from "./BlobStore.ts"
import { renewedTtl } from "./durations.ts"
import { providerName } from "./errors.ts"
import { azureLeaseId } from "./leaseIds.ts"
import { readSnapshot } from "./snapshot.ts"

const details: { readonly [R in LeaseLostReason]?: string } = {
  broken: "the lease was broken by an operator",
  stolen: "another holder has the lease now",
  expired: "the lease expired in the store"
}

/** Why a 409/412 answer to a lease operation means the lease is gone. */
const classify = (
  store: BlobStore,
  name: string,
  error: BlobRequestError
): Effect.Effect<{ readonly reason: LeaseLostReason; readonly detail: string }> => {
  const code = error.code ?? ""
  if (/Broken|Breaking/.test(code)) return Effect.succeed({ reason: "broken", detail: `${details.broken} (${code})` })
  if (code === "LeaseLost") return Effect.succeed({ reason: "expired", detail: `${details.expired} (${code})` })
  // A mismatch alone does not say whether someone else holds the lease or nobody does: one read tells.
  return readSnapshot(store, name, "empty").pipe(
    Effect.map((snapshot) => (snapshot._tag === "Some" && snapshot.value.leased ? "stolen" : "expired")),
    Effect.orElseSucceed(() => "stolen" as const),
    Effect.map((reason) => ({ reason, detail: `${details[reason]} (${code || String(error.status)})` }))
  )
}

/**
 * The `renew` of the SPI.
 *
 * @internal
 */
export const renew =
  (store: BlobStore) =>
  (request: {
    readonly name: string
    readonly leaseId: string
    readonly duration: Duration.Duration
  }): Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError> =>
    store
      .request((signal) =>
        store.blob(request.name).getBlobLeaseClient(azureLeaseId(request.leaseId)).renewLease({ abortSignal: signal })
      )
      .pipe(
        Effect.as<Renewed>({ ttl: renewedTtl(request.duration) }),
        Effect.catch((error): Effect.Effect<never, LeaseLostError | ProviderUnavailableError> => {
          const lost = (reason: LeaseLostReason, detail: string): Effect.Effect<never, LeaseLostError> =>
            Effect.fail(
              new LeaseLostError({
                leaseName: request.name,
                reason,
                leaseId: request.leaseId,
                provider: providerName,
                detail
              })
            )
          if (error.status === 404) {
            return lost("broken", `the lease blob or its container was deleted (${error.code ?? "404"})`)
          }
          if (error.status === 409 || error.status === 412) {
            return Effect.flatMap(classify(store, request.name, error), ({ reason, detail }) => lost(reason, detail))
          }
          return store.unavailable(error, "renew", request)
        }),
        Effect.withSpan("BlobLeaseProvider.renew", { attributes: { "lease.name": request.name } })
      )
