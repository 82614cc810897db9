/**
 * `breakLease`: an operator frees the lease whoever holds it.
 *
 * Read the document, then replace it with a free one that remembers the evicted lease id (`brokenLeaseId`, so that
 * holder's next renewal is told `broken`), with `If-Match` on the ETag just read: **2 requests**. If it changed in
 * between (a renewal landed), read and try again, a few times. The fence is kept.
 *
 * Returns whether a live grant (or a live handoff reservation, whose successor then cannot claim) was evicted. A
 * grant that is already over by the service's clock is cleared too (without a `brokenLeaseId`: its holder lost it
 * to expiry, not to the operator), but does not count.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { ProviderUnavailableError } from "../../LeaseError.ts"
import { documentId } from "./documentId.ts"
import { broken, freed } from "./LeaseDocument.ts"
import { decodeDocument, type LeaseStore, operation, read, remember, replace, succeeded } from "./LeaseStore.ts"
import { judge } from "./serverClock.ts"

const attempts = 5

/**
 * Builds `breakLease` over a store.
 *
 * @since 0.1.0
 */
export const breakLease =
  (store: LeaseStore) =>
  (name: string): Effect.Effect<boolean, ProviderUnavailableError> =>
    operation(store, "break", name, undefined, (op) =>
      Effect.gen(function* () {
        const id = documentId(name)
        for (let round = 0; round < attempts; round++) {
          const found = yield* read(op, id)
          if (found.status === 404) return false
          const doc = yield* decodeDocument(op, id, found.resource)
          store.cache.put(name, { doc, at: found.at })
          if (doc.holderId === undefined) return false
          const live = judge(doc, found.at.serverMs, store.toleranceMs, yield* Clock.currentTimeMillis).held
          const answer = yield* replace(op, live ? broken(doc) : freed(doc), doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return live
          }
          store.cache.forget(name, doc._etag)
        }
        return yield* new ProviderUnavailableError({
          provider: store.providerName,
          operation: "break",
          isRetryable: true,
          leaseName: name,
          detail: `the lease document changed under each of ${attempts} attempts to break it`
        })
      })
    )
