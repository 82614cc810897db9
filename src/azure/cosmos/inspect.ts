/**
 * `inspect`: one point read, judged by the service's clock.
 *
 * `held` and `remaining` are what a taker would see: a grant counts as held until the latest moment its holder
 * could still trust it, plus the clock skew tolerance (see `serverClock.ts`). A free document still reports the
 * last fencing token granted. `expiresAt` is `remaining` added to this client's clock, for display.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { ProviderUnavailableError } from "../../LeaseError.ts"
import { free, type LeaseInfo } from "../../LeaseProvider.ts"
import { documentId } from "./documentId.ts"
import { decodeDocument, type LeaseStore, operation, read } from "./LeaseStore.ts"
import { judge } from "./serverClock.ts"

const parseDate = (iso: string | undefined): Date | undefined => {
  if (iso === undefined) return undefined
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? new Date(ms) : undefined
}

/**
 * Builds `inspect` over a store.
 *
 * @since 0.1.0
 */
export const inspect =
  (store: LeaseStore) =>
  (name: string): Effect.Effect<LeaseInfo, ProviderUnavailableError> =>
    operation(store, "inspect", name, undefined, (op) =>
      Effect.gen(function* () {
        const id = documentId(name)
        const found = yield* read(op, id)
        if (found.status === 404) {
          store.cache.forget(name)
          return free(name, Option.none())
        }
        const doc = yield* decodeDocument(op, id, found.resource)
        store.cache.put(name, { doc, at: found.at })
        const now = yield* Clock.currentTimeMillis
        // A handoff reservation shows as held by the successor, under the transfer token, until its window ends.
        const state = judge(doc, found.at.serverMs, store.toleranceMs, now)
        if (!state.held) return free(name, Option.some(BigInt(doc.fence)))
        return {
          name,
          held: true,
          holderId: doc.holderId,
          leaseId: doc.leaseId,
          fencingToken: BigInt(doc.fence),
          remaining: Duration.millis(state.remainingMs),
          expiresAt: new Date(now + state.remainingMs),
          acquiredAt: parseDate(doc.acquiredAt),
          metadata: doc.metadata
        }
      })
    )
