/**
 * Handoff: Azure's change-lease moves the blob's lease from the holder's lease id to the transfer token (a GUID, see
 * `leaseIds.ts`) in one step checked by Azure against the current id, so the blob stays leased throughout. The
 * reservation is then recorded in the metadata, under the token's lease.
 *
 * | step | request | fails when |
 * | --- | --- | --- |
 * | 1 | Get Blob Properties with our lease id as condition: the metadata to carry over, and its ETag | our id is not the active lease (`LeaseLostError`) |
 * | 2 | Lease Blob **change** (our id → the token), `If-Match` on that ETag: the commit point | idem |
 * | 3 | Lease Blob **renew** with the token: the reservation lasts a full lease duration from now | the reservation was broken meanwhile |
 * | 4 | Set Blob Metadata under the token: holder = successor, lease id = token, `dl_pending`, fence kept | idem |
 *
 * **The claim window is the lease's own duration** (15–60 s, as acquired). Azure changes a lease's duration only
 * by acquiring it again, and an acquire also succeeds on a lease an operator has just broken (Azure lets any id
 * acquire a broken lease): a handoff racing a break would bring the evicted reservation back. A renewal is refused
 * on a broken lease, so with it a break always sticks. A `claimWindow` other than the lease's duration (the core's
 * default is that duration) is therefore not honoured; the handoff logs a warning naming both. Renewing also never
 * shortens the lease, which keeps a handoff whose answer is lost safe: the old holder, still believing it holds the
 * lease, never outlives what Azure keeps reserved.
 *
 * Once the change has committed, the old lease id holds nothing: a failure in steps 3–4 is a `LeaseLostError` (the
 * core then stops the old holder's work), and the reservation, whose token nobody received, lapses by itself.
 *
 * @internal
 */
import { Duration, Effect } from "effect"
import { LeaseLostError, type LeaseLostReason, ProviderUnavailableError } from "../../LeaseError.ts"
import type { HandoffRequest } from "../../LeaseProvider.ts"
import type { BlobRequestError, BlobStore } from "./BlobStore.ts"
import { providerName } from "./errors.ts"
import { azureLeaseId } from "./leaseIds.ts"
import { readDurationSeconds, writeReservation } from "./metadata.ts"

const lost = (request: HandoffRequest, reason: LeaseLostReason, detail: string) =>
  new LeaseLostError({ leaseName: request.name, reason, leaseId: request.leaseId, provider: providerName, detail })

/**
 * Why a lease operation was refused, from one read of the blob's lease state: leased by someone (`stolen`), broken
 * or being broken by an operator (`broken`), or free (`expired`).
 *
 * @internal
 */
export const leaseStateReason = (store: BlobStore, name: string): Effect.Effect<"stolen" | "broken" | "expired"> =>
  store
    .request((signal) => store.blob(name).getProperties({ abortSignal: signal }))
    .pipe(
      Effect.map((properties) => {
        const state = properties.leaseState ?? "available"
        return state === "broken" || state === "breaking" ? "broken" : state === "leased" ? "stolen" : "expired"
      }),
      Effect.catchIf(
        (error) => error.status === 404,
        () => Effect.succeed("broken" as const)
      ),
      Effect.orElseSucceed(() => "stolen" as const)
    )

/**
 * The `handoff` of the SPI.
 *
 * @internal
 */
export const handoff =
  (store: BlobStore) =>
  (request: HandoffRequest): Effect.Effect<void, LeaseLostError | ProviderUnavailableError> =>
    Effect.gen(function* () {
      const { name } = request
      const blob = store.blob(name)
      const ours = azureLeaseId(request.leaseId)
      const token = azureLeaseId(request.transferToken)

      /** A refusal before the commit: our lease is gone (or the blob changed under us, which proves nothing). */
      const refused = (error: BlobRequestError): Effect.Effect<never, LeaseLostError | BlobRequestError> => {
        if (error.status === 404)
          return Effect.fail(lost(request, "broken", "the lease blob or its container was deleted"))
        if (error.code === "ConditionNotMet") return Effect.fail(error)
        if (error.status === 409 || error.status === 412) {
          return Effect.flatMap(leaseStateReason(store, name), (reason) =>
            Effect.fail(lost(request, reason, `the lease is no longer ours (${error.code ?? String(error.status)})`))
          )
        }
        return Effect.fail(error)
      }

      const properties = yield* store
        .request((signal) => blob.getProperties({ abortSignal: signal, conditions: { leaseId: ours } }))
        .pipe(Effect.catch(refused))
      const current = properties.metadata ?? {}
      const durationSeconds = readDurationSeconds(current)
      const windowMs = Duration.toMillis(request.claimWindow)
      const windowSeconds = Number.isFinite(windowMs) ? Math.ceil(windowMs / 1000) : undefined
      if (durationSeconds !== undefined && windowSeconds !== durationSeconds) {
        yield* Effect.logWarning(
          `azure-blob handoff: the claim window is the lease's duration (${durationSeconds} s), not the ` +
            `${windowSeconds ?? "unlimited"} s asked for: Azure cannot change a lease's duration without an ` +
            "acquire, which would undo an operator's break racing the handoff"
        ).pipe(Effect.annotateLogs({ "lease.name": name, "lease.provider": providerName }))
      }

      yield* store
        .request((signal) =>
          blob
            .getBlobLeaseClient(ours)
            .changeLease(token, { abortSignal: signal, conditions: { ifMatch: properties.etag ?? "*" } })
        )
        .pipe(Effect.catch(refused))

      // Committed: the old lease id holds nothing any more. From here every failure is a loss for the old holder.
      const committed = (error: BlobRequestError): Effect.Effect<never, LeaseLostError> =>
        error.status === 409 || error.status === 412 || error.status === 404
          ? Effect.flatMap(
              error.status === 404 ? Effect.succeed("broken" as const) : leaseStateReason(store, name),
              (r) =>
                Effect.fail(lost(request, r, `the reservation was lost before the handoff completed (${error.detail})`))
            )
          : Effect.fail(
              lost(
                request,
                "released",
                `the lease was moved to the transfer token but the handoff could not complete (${error.detail}); ` +
                  "the reservation lapses by itself"
              )
            )

      yield* store
        .request((signal) => blob.getBlobLeaseClient(token).renewLease({ abortSignal: signal }))
        .pipe(Effect.catch(committed))
      yield* store
        .request((signal) =>
          blob.setMetadata(
            writeReservation(current, {
              successorHolderId: request.successorHolderId,
              transferToken: request.transferToken,
              durationSeconds: durationSeconds ?? windowSeconds ?? 0
            }),
            { abortSignal: signal, conditions: { leaseId: token } }
          )
        )
        .pipe(Effect.catch(committed))
    }).pipe(
      Effect.catch(
        (error): Effect.Effect<never, LeaseLostError | ProviderUnavailableError> =>
          error._tag === "BlobRequestError"
            ? error.code === "ConditionNotMet"
              ? Effect.fail(
                  new ProviderUnavailableError({
                    provider: providerName,
                    operation: "handoff",
                    isRetryable: true,
                    leaseName: request.name,
                    leaseId: request.leaseId,
                    detail: "the lease blob's metadata changed during the handoff; nothing was moved",
                    cause: error.cause
                  })
                )
              : store.unavailable(error, "handoff", { name: request.name, leaseId: request.leaseId })
            : Effect.fail(error)
      ),
      Effect.withSpan("BlobLeaseProvider.handoff", { attributes: { "lease.name": request.name } })
    )
