/**
 * `release`: one conditional write in the steady state, conditional on the lease id; never frees someone else's
 * lease.
 *
 * The holder's provider cached the version of its own last write; releasing replaces it with a free document
 * (holder and lease id cleared, fence kept) with `If-Match` on that ETag: **1 request**. If the document changed
 * since (`412`), it is read: a different lease id means the lease is no longer ours and nothing is written
 * (**2 requests**); still ours, it is freed with `If-Match` on the fresh ETag (**3 requests**, rare).
 *
 * The document is kept, so the fencing counter survives. Returns `true` when a live grant of ours was freed,
 * `false` when it was no longer ours or already over (an expired grant of ours is still cleared, for tidiness).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ProviderUnavailableError } from "../../LeaseError.ts"
import { documentId } from "./documentId.ts"
import { freed } from "./LeaseDocument.ts"
import { decodeDocument, type LeaseStore, operation, read, remember, replace, succeeded } from "./LeaseStore.ts"
import { judge, serverNow } from "./serverClock.ts"

/**
 * Builds `release` over a store.
 *
 * @since 0.1.0
 */
export const release =
  (store: LeaseStore) =>
  (request: { readonly name: string; readonly leaseId: string }): Effect.Effect<boolean, ProviderUnavailableError> =>
    operation(store, "release", request.name, request.leaseId, (op) =>
      Effect.gen(function* () {
        const cached = store.cache.get(request.name)
        if (cached !== undefined && cached.doc.leaseId === request.leaseId) {
          const live = judge(cached.doc, yield* serverNow(cached.at), store.toleranceMs).held
          const answer = yield* replace(op, freed(cached.doc), cached.doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return live
          }
          store.cache.forget(request.name, cached.doc._etag)
        }
        const id = documentId(request.name)
        for (let round = 0; round < 2; round++) {
          const found = yield* read(op, id)
          if (found.status === 404) return false
          const doc = yield* decodeDocument(op, id, found.resource)
          store.cache.put(request.name, { doc, at: found.at })
          if (doc.leaseId !== request.leaseId) return false
          const live = judge(doc, found.at.serverMs, store.toleranceMs).held
          const answer = yield* replace(op, freed(doc), doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return live
          }
          store.cache.forget(request.name, doc._etag)
        }
        // Changed twice under us while still carrying our id: leave it; it runs out by itself.
        return false
      })
    )
