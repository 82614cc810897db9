/**
 * `handoff`: one conditional write in the steady state, conditional on the lease id.
 *
 * The holder's provider cached the version of its own last write (the grant or the last renewal). The handoff
 * replaces that version, with `If-Match` on its ETag, by a **reservation** (`LeaseDocument.reserved`): holder = the
 * successor, lease id = the transfer token, `pending`, `durationMs` = the claim window, `reservedAt` = this client's
 * clock: **1 request**. The fence is left alone (the claim moves it). The write itself moves `_ts`, so the window
 * counts from it, by the service's clock. There is no moment when the document is free: it goes from one holder
 * to the other's reservation in one write.
 *
 * `412` means the document changed since our last write (a renewal of ours may have landed without its answer), so,
 * exactly as in a renewal, it is read and judged on its lease id:
 * - still ours, a live grant: the reservation is written with `If-Match` on the fresh ETag (**3 requests**, rare);
 * - another lease id (or a reservation, or a grant over by the service's clock): `LeaseLostError` `stolen`,
 *   `broken` (an operator broke ours) or `expired`, and nothing is written.
 *
 * A handoff racing an operator's break is decided by the ETag: whichever write lands first wins, and the other gets
 * `412`. A break first: the handoff reads a free document naming our id as broken and fails with `broken`. The
 * handoff first: the break reads the reservation and evicts it (the claim then fails as `expired`).
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { LeaseLostError, ProviderUnavailableError } from "../../LeaseError.ts"
import type { HandoffRequest } from "../../LeaseProvider.ts"
import { documentId } from "./documentId.ts"
import { positiveMillis } from "./errors.ts"
import { type LeaseDocument, type ReservationArgs, reserved } from "./LeaseDocument.ts"
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
import { isOlder, lossOf } from "./renew.ts"
import { judge, serverNow } from "./serverClock.ts"

/** A grant we may hand off: ours, not itself a reservation, and live by the service's clock. */
const handable = (doc: LeaseDocument, leaseId: string, serverMs: number, toleranceMs: number): boolean =>
  doc.leaseId === leaseId && doc.pending !== true && judge(doc, serverMs, toleranceMs).held

/**
 * Builds `handoff` over a store.
 *
 * @since 0.1.0
 */
export const handoff =
  (store: LeaseStore) =>
  (request: HandoffRequest): Effect.Effect<void, LeaseLostError | ProviderUnavailableError> =>
    operation(store, "handoff", request.name, request.leaseId, (op) =>
      Effect.gen(function* () {
        const ms = yield* positiveMillis(request.claimWindow, "claim window", {
          operation: "handoff",
          provider: store.providerName,
          leaseName: request.name,
          leaseId: request.leaseId
        })
        const args: ReservationArgs = {
          successorHolderId: request.successorHolderId,
          transferToken: request.transferToken,
          // Rounded up: the successor never gets less than the window it was promised.
          windowMs: Math.ceil(ms),
          reservedAt: new Date(yield* Clock.currentTimeMillis).toISOString(),
          ttl: store.ttlSeconds
        }

        const cached = store.cache.get(request.name)
        if (
          cached !== undefined &&
          handable(cached.doc, request.leaseId, yield* serverNow(cached.at), store.toleranceMs)
        ) {
          const answer = yield* replace(op, reserved(cached.doc, args), cached.doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return
          }
          store.cache.forget(request.name, cached.doc._etag)
        }

        const ours = cached !== undefined && cached.doc.leaseId === request.leaseId ? cached.doc : undefined
        const id = documentId(request.name)
        for (let round = 0; round < 2; round++) {
          const found = yield* read(op, id)
          if (found.status === 404) {
            return yield* new LeaseLostError({
              leaseName: request.name,
              reason: "expired",
              leaseId: request.leaseId,
              provider: store.providerName,
              detail: "the lease document no longer exists"
            })
          }
          const doc = yield* decodeDocument(op, id, found.resource)
          if (ours !== undefined && isOlder(doc, ours)) {
            // A replica behind our own last write proves nothing about the lease (see renew).
            return yield* behind(op)
          }
          store.cache.put(request.name, { doc, at: found.at })
          if (!handable(doc, request.leaseId, found.at.serverMs, store.toleranceMs)) {
            return yield* lossOf(op, doc, found.at.serverMs, request.leaseId)
          }
          const answer = yield* replace(op, reserved(doc, args), doc._etag)
          if (succeeded(answer)) {
            remember(op, answer)
            return
          }
          store.cache.forget(request.name, doc._etag)
        }
        return yield* new ProviderUnavailableError({
          provider: store.providerName,
          operation: "handoff",
          isRetryable: true,
          leaseName: request.name,
          leaseId: request.leaseId,
          detail: "the lease document kept changing during the handoff"
        })
      })
    )

const behind = (op: Operation) =>
  new ProviderUnavailableError({
    provider: op.store.providerName,
    operation: "handoff",
    isRetryable: true,
    leaseName: op.name,
    leaseId: op.leaseId,
    detail: "the service returned a version of the lease document older than our own last write"
  })
