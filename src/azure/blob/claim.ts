/**
 * Claim: the successor moves the reservation's lease from the transfer token to its new lease id with change-lease,
 * sets it to its own lease duration, and records its grant with the next fencing token.
 *
 * | step | request | refusal (`LeaseTransferError`) |
 * | --- | --- | --- |
 * | 1 | Get Blob Properties: lease state, metadata (the reservation), ETag | no blob or no active lease: `expired`; not a reservation under this token: `invalid-token`; for another holder: `not-successor` |
 * | 2 | Lease Blob **change** (token → new id), `If-Match` on that ETag | the token's lease lapsed or was broken meanwhile: `expired` |
 * | 3 | Lease Blob **renew** with the new id (or **acquire** it again with the claim's duration, when that differs from the reservation's), `If-Match` | idem |
 * | 4 | Set Blob Metadata under the new id, `If-Match`: fence + 1, holder, lease id, grant time, duration; no `dl_pending` | idem |
 *
 * Azure checks the token (step 2: only the active lease id can be changed), the metadata check names the
 * successor, and `If-Match` on the ETag of step 1 makes steps 2–4 apply only to the very version that was checked:
 * nobody can have written a fencing token in between, so fence + 1 is the next token. Once step 2 succeeded the new
 * id holds the lease; if step 3 or 4 fails, the lease is released at once (best effort) and the claim fails: a grant
 * is never handed out without its token recorded.
 *
 * Step 3 renews when the claim's duration is the reservation's (the usual case: both sides configured alike), so a
 * break landing between steps 2 and 3 sticks (a renewal of a broken lease is refused). With another duration it
 * acquires again under the new id, which Azure also grants on a lease just broken: a break racing that claim does
 * not stick, as if the successor had acquired the freed lease (there are never two holders).
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { LeaseTransferError, type LeaseTransferReason, ProviderUnavailableError } from "../../LeaseError.ts"
import type { Acquired, ClaimRequest } from "../../LeaseProvider.ts"
import type { BlobRequestError, BlobStore } from "./BlobStore.ts"
import { maxSeconds, minSeconds } from "./durations.ts"
import { providerName } from "./errors.ts"
import { azureLeaseId } from "./leaseIds.ts"
import {
  keys,
  maxMetadataBytes,
  metadataBytes,
  readDurationSeconds,
  readFence,
  readGrant,
  readReservation,
  writeGrant
} from "./metadata.ts"

const rounds = 2

/**
 * The `claim` of the SPI.
 *
 * @internal
 */
export const claim =
  (store: BlobStore) =>
  (request: ClaimRequest): Effect.Effect<Acquired, LeaseTransferError | ProviderUnavailableError> =>
    Effect.gen(function* () {
      const { name } = request
      const blob = store.blob(name)
      const token = azureLeaseId(request.transferToken)
      const ours = azureLeaseId(request.leaseId)
      const refuse = (reason: LeaseTransferReason, detail: string) =>
        new LeaseTransferError({ leaseName: name, reason, provider: providerName, detail })
      const broken = (detail: string) =>
        new ProviderUnavailableError({
          provider: providerName,
          operation: "claim",
          isRetryable: false,
          leaseName: name,
          leaseId: request.leaseId,
          detail
        })
      const seconds = Math.floor(Duration.toMillis(request.duration) / 1000)
      if (!Number.isFinite(seconds) || seconds < minSeconds || seconds > maxSeconds) {
        // The core checked the duration against the capabilities; this only guards direct SPI use.
        return yield* broken(
          `Azure Blob leases last ${minSeconds} to ${maxSeconds} s, got ${Duration.format(request.duration)}`
        )
      }

      for (let round = 0; round < rounds; round++) {
        const properties = yield* store
          .request((signal) => blob.getProperties({ abortSignal: signal }))
          .pipe(
            Effect.map(Option.some),
            // A container the provider creates on demand, missing: nothing can be reserved in it (as in inspect).
            Effect.catchIf(
              (error) => error.code === "BlobNotFound" || (error.code === "ContainerNotFound" && store.createContainer),
              () => Effect.succeed(Option.none())
            )
          )
        if (Option.isNone(properties)) return yield* refuse("expired", "the lease blob no longer exists")
        const { metadata = {}, etag = "*", leaseState = "available" } = properties.value
        if (leaseState !== "leased") {
          return yield* refuse(
            "expired",
            leaseState === "broken" || leaseState === "breaking"
              ? "an operator broke the reservation before the claim"
              : "no handoff is pending: the reservation expired"
          )
        }
        const reservation = readReservation(metadata)
        if (reservation === undefined || reservation.transferToken !== request.transferToken) {
          return yield* refuse("invalid-token", "no pending handoff of this lease has this token")
        }
        if (reservation.successorHolderId !== request.holderId) {
          return yield* refuse("not-successor", `the lease was handed to "${reservation.successorHolderId}"`)
        }
        const previous = readFence(metadata)
        if (previous === undefined) {
          return yield* broken(
            `the fencing counter in the metadata of blob "${blob.name}" (${keys.fence}) is not a number; it was ` +
              "changed outside this library. Fix or remove it by hand (a lower value breaks fencing)."
          )
        }
        const fencingToken = previous + 1n
        const userMetadata =
          request.metadata === undefined ? readGrant(metadata).metadata : { ...store.metadata, ...request.metadata }
        const record = (acquiredAt: Date | undefined) =>
          writeGrant(metadata, {
            fencingToken,
            holderId: request.holderId,
            leaseId: request.leaseId,
            acquiredAt,
            durationSeconds: seconds,
            metadata: userMetadata
          })
        const size = metadataBytes(record(new Date(0)))
        if (size > maxMetadataBytes) {
          return yield* broken(`the blob's metadata would take ${size} bytes, more than Azure's ${maxMetadataBytes}`)
        }

        // 2. The commit point of the claim: the token's lease becomes ours.
        const changed = yield* store
          .request((signal) =>
            blob.getBlobLeaseClient(token).changeLease(ours, { abortSignal: signal, conditions: { ifMatch: etag } })
          )
          .pipe(
            Effect.as(true),
            // The metadata changed since our read: decide again on the current version.
            Effect.catchIf(
              (error) => error.code === "ConditionNotMet",
              () => Effect.succeed(false)
            ),
            Effect.catchIf(
              (error) => error.status === 409 || error.status === 412 || error.status === 404,
              (error) =>
                Effect.fail(
                  refuse("expired", `the reservation lapsed or was broken just before the claim (${error.detail})`)
                )
            )
          )
        if (!changed) continue

        // Ours now; whatever fails below gives the lease back before failing.
        const giveBack = store
          .request((signal) => blob.getBlobLeaseClient(ours).releaseLease({ abortSignal: signal }))
          .pipe(Effect.ignore)
        const lostMeanwhile = (error: BlobRequestError): Effect.Effect<never, LeaseTransferError | BlobRequestError> =>
          Effect.andThen(
            giveBack,
            Effect.fail(
              error.status === 409 || error.status === 412 || error.status === 404
                ? refuse("expired", `the reservation was lost during the claim (${error.detail})`)
                : error
            )
          )
        const sameDuration = readDurationSeconds(metadata) === seconds
        const grantedAt = yield* store
          .request((signal) =>
            sameDuration
              ? blob.getBlobLeaseClient(ours).renewLease({ abortSignal: signal, conditions: { ifMatch: etag } })
              : blob
                  .getBlobLeaseClient(ours)
                  .acquireLease(seconds, { abortSignal: signal, conditions: { ifMatch: etag } })
          )
          .pipe(
            Effect.map((response) => response.date),
            Effect.catch(lostMeanwhile)
          )
        yield* store
          .request((signal) =>
            blob.setMetadata(record(grantedAt), { abortSignal: signal, conditions: { leaseId: ours, ifMatch: etag } })
          )
          .pipe(Effect.catch(lostMeanwhile))
        const grant: Acquired = {
          _tag: "Acquired",
          leaseId: request.leaseId,
          fencingToken,
          ttl: Duration.seconds(seconds)
        }
        return grant
      }
      return yield* new ProviderUnavailableError({
        provider: providerName,
        operation: "claim",
        isRetryable: true,
        leaseName: name,
        leaseId: request.leaseId,
        detail: "the lease blob kept changing during the claim"
      })
    }).pipe(
      Effect.catch(
        (error): Effect.Effect<never, LeaseTransferError | ProviderUnavailableError> =>
          error._tag === "BlobRequestError"
            ? store.unavailable(error, "claim", { name: request.name, leaseId: request.leaseId })
            : Effect.fail(error)
      ),
      Effect.withSpan("BlobLeaseProvider.claim", { attributes: { "lease.name": request.name } })
    )
