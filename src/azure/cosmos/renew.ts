/**
 * `renew`: one conditional write in the steady state, conditional on the lease id.
 *
 * The holder's provider cached the version of its own last write (the grant or the previous renewal). Renewing
 * replaces that version with `If-Match` on its ETag: **1 request**. The write itself moves `_ts`, and so the
 * expiry the service judges; the remaining time becomes exactly `duration` (never more), the stored `durationMs`
 * is the one just asked for.
 *
 * `412` means the document changed since our write. That is not yet a proof of loss (our previous renewal may
 * have landed after its answer was lost), so the document is read and judged on its lease id:
 * - still ours and not over: renewed with `If-Match` on the fresh ETag (**3 requests**, rare);
 * - another lease id: `LeaseLostError` `stolen` (a live grant) or `broken` (an operator broke ours) or `expired`;
 * - ours but over by the service's clock, or the document is gone: `expired`.
 *
 * A grant that the cached version already shows to be over (by the service's clock carried forward) is not renewed
 * blind either: the read tells `expired` from `stolen`.
 *
 * A `LeaseLostError` is final: the core never retries it.
 *
 * @since 0.1.0
 */
import { type Duration, Effect } from "effect"
import { LeaseLostError, type LeaseLostReason, ProviderUnavailableError } from "../../LeaseError.ts"
import type { Renewed } from "../../LeaseProvider.ts"
import { documentId } from "./documentId.ts"
import { positiveMillis } from "./errors.ts"
import { type LeaseDocument, renewed } from "./LeaseDocument.ts"
import {
  decodeDocument,
  type LeaseStore,
  type Operation,
  operation,
  read,
  remember,
  replace,
  succeeded
} from "./LeaseStore.ts"
import { judge, serverNow } from "./serverClock.ts"

/**
 * Whether `a` is an older version of the document than `b` (every write moves `(fence, rev)` up).
 *
 * @since 0.1.0
 */
export const isOlder = (a: LeaseDocument, b: LeaseDocument): boolean =>
  a.fence < b.fence || (a.fence === b.fence && a.rev < b.rev)

interface RenewRequest {
  readonly name: string
  readonly leaseId: string
  readonly duration: Duration.Duration
}

const lost = (op: Operation, reason: LeaseLostReason, detail: string) =>
  new LeaseLostError({ leaseName: op.name, reason, leaseId: op.leaseId, provider: op.store.providerName, detail })

/**
 * Why `doc` (read just now, at `serverMs`) says our lease is gone. Also used by `handoff`.
 *
 * @since 0.1.0
 */
export const lossOf = (op: Operation, doc: LeaseDocument, serverMs: number, leaseId: string): LeaseLostError => {
  if (doc.leaseId !== leaseId) {
    if (doc.brokenLeaseId === leaseId) return lost(op, "broken", "the lease was broken by an operator")
    if (judge(doc, serverMs, op.store.toleranceMs).held) {
      return lost(op, "stolen", `the lease is now held by "${doc.holderId}"`)
    }
    return lost(op, "expired", "the lease expired in the store")
  }
  return lost(op, "expired", "the lease expired in the store (by the service's clock)")
}

/**
 * Builds `renew` over a store.
 *
 * @since 0.1.0
 */
export const renew =
  (store: LeaseStore) =>
  (request: RenewRequest): Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError> =>
    operation(store, "renew", request.name, request.leaseId, (op) =>
      Effect.gen(function* () {
        const ms = yield* positiveMillis(request.duration, "renewal duration", {
          operation: "renew",
          provider: store.providerName,
          leaseName: request.name,
          leaseId: request.leaseId
        })
        const durationMs = Math.ceil(ms)
        const done: Renewed = { ttl: request.duration }

        const cached = store.cache.get(request.name)
        // Our own last write, and by the service's clock (carried forward) not over yet: renew it blind. If it is over,
        // skip to the read below, which tells whether it expired or was already taken over.
        if (
          cached !== undefined &&
          cached.doc.leaseId === request.leaseId &&
          judge(cached.doc, yield* serverNow(cached.at), store.toleranceMs).held
        ) {
          const answer = yield* replace(op, renewed(cached.doc, durationMs, store.ttlSeconds), cached.doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return done
          }
          store.cache.forget(request.name, cached.doc._etag)
        }

        // Either the document changed since our last write, or this provider never saw it: judge the current one.
        const ours = cached !== undefined && cached.doc.leaseId === request.leaseId ? cached.doc : undefined
        const id = documentId(request.name)
        for (let round = 0; round < 2; round++) {
          const found = yield* read(op, id)
          if (found.status === 404) return yield* lost(op, "expired", "the lease document no longer exists")
          const doc = yield* decodeDocument(op, id, found.resource)
          if (ours !== undefined && isOlder(doc, ours)) {
            // A replica behind our own last write (an account with eventual or consistent-prefix consistency): it
            // proves nothing about the lease. Say so, retryably, rather than report a loss.
            return yield* new ProviderUnavailableError({
              provider: store.providerName,
              operation: "renew",
              isRetryable: true,
              leaseName: request.name,
              leaseId: request.leaseId,
              detail: "the service returned a version of the lease document older than our own last write"
            })
          }
          store.cache.put(request.name, { doc, at: found.at })
          if (doc.leaseId !== request.leaseId || !judge(doc, found.at.serverMs, store.toleranceMs).held) {
            return yield* lossOf(op, doc, found.at.serverMs, request.leaseId)
          }
          const answer = yield* replace(op, renewed(doc, durationMs, store.ttlSeconds), doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return done
          }
          store.cache.forget(request.name, doc._etag)
        }
        // Still ours, yet changed twice under us: say so, without claiming a loss we could not prove.
        return yield* new ProviderUnavailableError({
          provider: store.providerName,
          operation: "renew",
          isRetryable: true,
          leaseName: request.name,
          leaseId: request.leaseId,
          detail: "the lease document kept changing during the renewal"
        })
      })
    )
