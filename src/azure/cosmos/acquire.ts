/**
 * `tryAcquire`: one conditional write in the steady state.
 *
 * 1. If this provider last saw the document free (or its grant over, by the service's clock carried forward on the
 *    monotonic clock), it writes the grant straight away with `If-Match` on that version's ETag: **1 request**.
 *    The fence moves up by one in that same write. `412` (the document changed since) falls through to 2.
 * 2. Otherwise it reads the document (**1 request** when it is held: the answer is `Held` with the time left,
 *    judged by the service's clock) and, if it is free or its grant is over, replaces it with `If-Match` on the ETag
 *    just read (**2 requests**).
 * 3. A name that has no document yet is created (read `404`, then create: **2 requests**, once per name). Its
 *    fence starts at the service time of that read, in ms (see `LeaseDocument.ts`).
 *
 * Exactly one of several racing acquirers wins: the service accepts one create per id (the others get `409`)
 * and one replace per ETag (the others get `412`). A lost race is a `LeaseConflictError`, which the core treats
 * as "held, try again". The read-then-write of step 2 is safe for the same reason: the write only lands on the
 * very version that was judged free.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect } from "effect"
import { validateName } from "../../internal/names.ts"
import { InvalidLeaseOptionsError, LeaseConflictError, type ProviderUnavailableError } from "../../LeaseError.ts"
import { type AcquireRequest, type AcquireResult, acquired, held } from "../../LeaseProvider.ts"
import { documentId } from "./documentId.ts"
import { created, type GrantArgs, granted } from "./LeaseDocument.ts"
import {
  type Answer,
  create,
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

const invalid = (store: LeaseStore, request: AcquireRequest, field: string, detail: string) =>
  new InvalidLeaseOptionsError({ leaseName: request.name, provider: store.providerName, field, detail })

/**
 * The duration in whole milliseconds (rounded up, so the store never holds less than asked), checked against the
 * clean-up TTL, which must leave a document alone for far longer than any lease.
 */
const durationMillis = (
  store: LeaseStore,
  request: AcquireRequest
): Effect.Effect<number, InvalidLeaseOptionsError> => {
  const ms = Duration.toMillis(request.duration)
  if (!Number.isFinite(ms) || ms <= 0) {
    return Effect.fail(invalid(store, request, "duration", `must be a positive, finite duration, got ${ms} ms`))
  }
  const durationMs = Math.ceil(ms)
  if (store.ttlSeconds !== undefined && store.ttlSeconds * 1000 < 2 * (durationMs + store.toleranceMs) + 2000) {
    return Effect.fail(
      invalid(
        store,
        request,
        "duration",
        `must be well under the clean-up TTL (cleanupAfter = ${store.ttlSeconds} s): at most half of it, ` +
          `less the clock skew tolerance and 1 s, got ${durationMs} ms`
      )
    )
  }
  return Effect.succeed(durationMs)
}

const conflict = (op: Operation, request: AcquireRequest, detail: string) =>
  new LeaseConflictError({ leaseName: request.name, provider: op.store.providerName, leaseId: request.leaseId, detail })

/**
 * Builds `tryAcquire` over a store.
 *
 * @since 0.1.0
 */
export const tryAcquire =
  (store: LeaseStore) =>
  (
    request: AcquireRequest
  ): Effect.Effect<AcquireResult, ProviderUnavailableError | LeaseConflictError | InvalidLeaseOptionsError> =>
    Effect.gen(function* () {
      const name = yield* validateName(request.name, store.providerName)
      const durationMs = yield* durationMillis(store, request)
      const args: GrantArgs = {
        id: documentId(name),
        name,
        holderId: request.holderId,
        leaseId: request.leaseId,
        durationMs,
        acquiredAt: new Date(yield* Clock.currentTimeMillis).toISOString(),
        metadata: request.metadata,
        ttl: store.ttlSeconds
      }
      return yield* operation(store, "acquire", name, request.leaseId, (op) => attempt(op, request, args))
    })

const attempt = (
  op: Operation,
  request: AcquireRequest,
  args: GrantArgs
): Effect.Effect<AcquireResult, ProviderUnavailableError | LeaseConflictError> =>
  Effect.gen(function* () {
    const { store } = op
    const grant = (answer: Answer, fence: number): AcquireResult => {
      remember(op, answer)
      return acquired({ leaseId: request.leaseId, fencingToken: BigInt(fence), ttl: request.duration })
    }

    // This client's clock only refines the end of a handoff reservation's window (see `serverClock.ts`).
    const clientMs = yield* Clock.currentTimeMillis
    const cached = store.cache.get(op.name)
    if (cached !== undefined && !judge(cached.doc, yield* serverNow(cached.at), store.toleranceMs, clientMs).held) {
      const body = granted(cached.doc, args)
      const answer = yield* replace(op, body, cached.doc._etag)
      if (succeeded(answer)) return grant(answer, body.fence)
      // 412 or 404: the document changed since we saw it. Read it and decide on the current version.
      store.cache.forget(op.name, cached.doc._etag)
    }

    const found = yield* read(op, args.id)
    if (found.status === 404) {
      store.cache.forget(op.name)
      const body = created(args, found.at.serverMs)
      const answer = yield* create(op, body)
      if (succeeded(answer)) return grant(answer, body.fence)
      return yield* conflict(op, request, "another acquirer created the lease document first")
    }
    const doc = yield* decodeDocument(op, args.id, found.resource)
    store.cache.put(op.name, { doc, at: found.at })
    const state = judge(doc, found.at.serverMs, store.toleranceMs, yield* Clock.currentTimeMillis)
    if (state.held) return held({ holderId: doc.holderId, remaining: Duration.millis(state.remainingMs) })
    const body = granted(doc, args)
    const answer = yield* replace(op, body, doc._etag)
    if (succeeded(answer)) return grant(answer, body.fence)
    store.cache.forget(op.name, doc._etag)
    return yield* conflict(op, request, "another writer changed the lease document between our read and our write")
  })
