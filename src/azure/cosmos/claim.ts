/**
 * `claim`: the successor turns a reservation into its grant with one conditional write, the fence moving up by one
 * in that same write.
 *
 * The successor usually runs in another process than the one that handed the lease off, so its provider has not
 * seen the reservation: it reads the document, checks it, and replaces it with `If-Match` on the ETag just read
 * (**2 requests**). A provider that has the reservation cached (it made the handoff itself, or read it since)
 * writes straight away (**1 request**), and falls back to the read on `412`.
 *
 * The checks, in order, each a `LeaseTransferError`:
 * - the document is free, or missing: `expired` (the reservation lapsed and was cleared, or an operator broke it);
 * - it is not a reservation under this token (a wrong token, one already claimed, a grant taken since):
 *   `invalid-token`;
 * - the reservation is for another holder: `not-successor`;
 * - its claim window is over (judged as in `serverClock.ts`, the same way takers judge it, so a claim and a taker
 *   never both see the window open): `expired`.
 *
 * Exactly one of a claim and a taker racing for the same reservation wins: both replace the same ETag.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { LeaseTransferError, type LeaseTransferReason, ProviderUnavailableError } from "../../LeaseError.ts"
import type { Acquired, ClaimRequest } from "../../LeaseProvider.ts"
import { documentId } from "./documentId.ts"
import { positiveMillis } from "./errors.ts"
import { claimed, type GrantArgs, type LeaseDocument } from "./LeaseDocument.ts"
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

const refuse = (op: Operation, reason: LeaseTransferReason, detail: string) =>
  new LeaseTransferError({ leaseName: op.name, reason, provider: op.store.providerName, detail })

/** Why `doc` cannot be claimed by this request at `serverMs` (this client's clock at `clientMs`), if it cannot. */
const refusal = (
  op: Operation,
  request: ClaimRequest,
  doc: LeaseDocument,
  serverMs: number,
  clientMs: number
): LeaseTransferError | undefined => {
  if (doc.holderId === undefined) {
    return refuse(
      op,
      "expired",
      doc.brokenLeaseId === request.transferToken
        ? "an operator broke the reservation before the claim"
        : "no handoff is pending: the reservation expired or was broken"
    )
  }
  if (doc.pending !== true || doc.leaseId !== request.transferToken) {
    return refuse(op, "invalid-token", "no pending handoff of this lease has this token")
  }
  if (doc.holderId !== request.holderId) {
    return refuse(op, "not-successor", `the lease was handed to "${doc.holderId}"`)
  }
  if (!judge(doc, serverMs, op.store.toleranceMs, clientMs).held) {
    return refuse(op, "expired", "the claim window is over")
  }
  return undefined
}

/**
 * Builds `claim` over a store.
 *
 * @since 0.1.0
 */
export const claim =
  (store: LeaseStore) =>
  (request: ClaimRequest): Effect.Effect<Acquired, LeaseTransferError | ProviderUnavailableError> =>
    operation(store, "claim", request.name, request.leaseId, (op) =>
      Effect.gen(function* () {
        const ms = yield* positiveMillis(request.duration, "duration", {
          operation: "claim",
          provider: store.providerName,
          leaseName: request.name,
          leaseId: request.leaseId
        })
        const clientMs = yield* Clock.currentTimeMillis
        const args: GrantArgs = {
          id: documentId(request.name),
          name: request.name,
          holderId: request.holderId,
          leaseId: request.leaseId,
          durationMs: Math.ceil(ms),
          acquiredAt: new Date(clientMs).toISOString(),
          metadata: request.metadata,
          ttl: store.ttlSeconds
        }
        /** Writes the grant over `doc`: the grant, or `undefined` when the ETag moved (the document changed). */
        const write = (doc: LeaseDocument) =>
          Effect.gen(function* () {
            const body = claimed(doc, args)
            const answer = yield* replace(op, body, doc._etag)
            if (!succeeded(answer)) {
              store.cache.forget(request.name, doc._etag)
              return undefined
            }
            remember(op, answer)
            const grant: Acquired = {
              _tag: "Acquired",
              leaseId: request.leaseId,
              fencingToken: BigInt(body.fence),
              ttl: request.duration
            }
            return grant
          })

        // The cached version may only start a write: a refusal is always judged on a fresh read.
        const cached = store.cache.get(request.name)
        if (
          cached !== undefined &&
          refusal(op, request, cached.doc, yield* serverNow(cached.at), clientMs) === undefined
        ) {
          const done = yield* write(cached.doc)
          if (done !== undefined) return done
        }
        const id = args.id
        for (let round = 0; round < 2; round++) {
          const found = yield* read(op, id)
          if (found.status === 404) {
            store.cache.forget(request.name)
            return yield* refuse(op, "expired", "the lease document no longer exists")
          }
          const doc = yield* decodeDocument(op, id, found.resource)
          store.cache.put(request.name, { doc, at: found.at })
          const refused = refusal(op, request, doc, found.at.serverMs, yield* Clock.currentTimeMillis)
          if (refused !== undefined) return yield* refused
          const done = yield* write(doc)
          if (done !== undefined) return done
        }
        return yield* new ProviderUnavailableError({
          provider: store.providerName,
          operation: "claim",
          isRetryable: true,
          leaseName: request.name,
          leaseId: request.leaseId,
          detail: "the lease document kept changing during the claim"
        })
      })
    )
