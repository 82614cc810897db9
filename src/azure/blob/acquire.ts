/**
 * One acquire attempt: read the blob, take the lease only if the blob is unchanged since that read, and record the
 * grant (fencing token, holder, lease id) in the blob's metadata.
 *
 * Round trips:
 *
 * | case | requests |
 * | --- | --- |
 * | lease free (the usual case) | 3: Get Blob Properties; Lease Blob (acquire, `If-Match`); Set Blob Metadata (under the lease) |
 * | lease held | 1: Get Blob Properties (the state says "leased"; the holder id comes from the metadata) |
 * | first use of a name | 3: Get Blob Properties (404); Put Blob (empty, `If-None-Match: *`, the grant in its metadata); Lease Blob (`If-Match`) |
 * | ... in a missing container | 4: as above plus Create Container (once per provider), with `createContainerIfNotExists` |
 *
 * Why the fencing increment is safe: the counter is read by the first request and the lease is acquired with
 * `If-Match` on the ETag of that read, so the acquire succeeds only if nobody wrote the blob in between; from then
 * on only the holder of our lease id can write it. Lease operations do not change the ETag, so a holder that merely
 * renewed or released does not spoil the condition; one that acquired (and so wrote its token) does. On first use
 * the grant is written by the very request that creates the blob, and the lease is taken with `If-Match` on the
 * creation's ETag: if anyone touched the blob in between, the acquire fails and the token written is simply never
 * handed out (the next acquirer counts on from it).
 *
 * Why read first rather than acquire first: the read answers "held" on its own, with the holder's id, at the cost
 * of one request instead of two; a free lease costs three requests either way.
 *
 * If recording the grant fails, the lease is released at once (best effort) and the attempt fails: a grant is
 * never handed out without its token having been stored first.
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { InvalidLeaseOptionsError, LeaseConflictError, ProviderUnavailableError } from "../../LeaseError.ts"
import { type AcquireRequest, type AcquireResult, acquired, held } from "../../LeaseProvider.ts"
import type { BlobRequestError, BlobStore } from "./BlobStore.ts"
import { leaseSeconds } from "./durations.ts"
import { providerName } from "./errors.ts"
import { azureLeaseId } from "./leaseIds.ts"
import {
  type BlobMetadata,
  decodeValue,
  type GrantRecord,
  keys,
  maxMetadataBytes,
  metadataBytes,
  readFence,
  writeGrant
} from "./metadata.ts"
import { readSnapshot, type Snapshot } from "./snapshot.ts"

type Failure = BlobRequestError | ProviderUnavailableError | LeaseConflictError

const upload = (
  store: BlobStore,
  name: string,
  metadata: BlobMetadata
): Effect.Effect<Option.Option<string>, BlobRequestError> =>
  store
    .request((signal) =>
      store.blob(name).upload("", 0, { abortSignal: signal, metadata, conditions: { ifNoneMatch: "*" } })
    )
    .pipe(
      Effect.map((response) => Option.some(response.etag ?? "")),
      // 409 BlobAlreadyExists (or 412 if it is leased already): someone created it between our read and our write.
      Effect.catchIf(
        (error) => error.status === 409 || error.status === 412,
        () => Effect.succeed(Option.none())
      )
    )

/**
 * Creates the blob with `metadata` unless it exists: its ETag, or `None` when another process created it first.
 * Creates the container first when the read found it missing, and once more if it vanished after we created it.
 */
const createBlob = (
  store: BlobStore,
  name: string,
  metadata: BlobMetadata,
  containerMissing: boolean
): Effect.Effect<Option.Option<string>, BlobRequestError | ProviderUnavailableError> =>
  Effect.andThen(containerMissing ? store.ready : Effect.void, upload(store, name, metadata)).pipe(
    Effect.catchIf(
      (error) => error._tag === "BlobRequestError" && error.code === "ContainerNotFound" && store.createContainer,
      () => store.invalidate.pipe(Effect.andThen(store.ready), Effect.andThen(upload(store, name, metadata)))
    )
  )

const conflict = (request: AcquireRequest, detail: string, cause?: unknown) =>
  new LeaseConflictError({ leaseName: request.name, provider: providerName, leaseId: request.leaseId, detail, cause })

/**
 * The `tryAcquire` of the SPI.
 *
 * @internal
 */
export const tryAcquire =
  (store: BlobStore) =>
  (
    request: AcquireRequest
  ): Effect.Effect<AcquireResult, ProviderUnavailableError | LeaseConflictError | InvalidLeaseOptionsError> =>
    Effect.gen(function* () {
      const seconds = yield* leaseSeconds(request.duration, request.name)
      const name = request.name
      const blob = store.blob(name)
      const leaseId = azureLeaseId(request.leaseId)
      const leaseClient = blob.getBlobLeaseClient(leaseId)
      const userMetadata =
        store.metadata === undefined && request.metadata === undefined
          ? undefined
          : { ...store.metadata, ...request.metadata }
      const grant = (fencingToken: bigint, acquiredAt?: Date): GrantRecord => ({
        fencingToken,
        holderId: request.holderId,
        leaseId: request.leaseId,
        acquiredAt,
        durationSeconds: seconds,
        metadata: userMetadata
      })
      // Checked before anything is written or leased: Azure would refuse the metadata only then.
      const checkSize = (current: BlobMetadata, fencingToken: bigint) => {
        const size = metadataBytes(writeGrant(current, grant(fencingToken, new Date(0))))
        return size <= maxMetadataBytes
          ? Effect.void
          : Effect.fail(
              new InvalidLeaseOptionsError({
                leaseName: name,
                provider: providerName,
                field: "metadata",
                detail: `the blob's metadata would take ${size} bytes, more than Azure's ${maxMetadataBytes}`
              })
            )
      }
      // Takes the lease if the blob still has `etag`: the service's time of the grant, or `None` when held.
      const takeLease = (etag: string): Effect.Effect<Option.Option<Date | undefined>, Failure> =>
        store
          .request((signal) =>
            leaseClient.acquireLease(seconds, { abortSignal: signal, conditions: { ifMatch: etag } })
          )
          .pipe(
            Effect.map((response) => Option.some(response.date)),
            Effect.catchIf(
              (error) => error.code === "LeaseAlreadyPresent",
              () => Effect.succeed(Option.none())
            ),
            Effect.catchIf(
              // The blob changed (a new holder wrote its token) or vanished since our read: re-read next attempt.
              (error) => error.status === 412 || error.status === 404,
              (error) => Effect.fail(conflict(request, "the lease blob changed while acquiring", error.cause))
            )
          )

      const read = yield* readSnapshot(store, name).pipe(
        Effect.catchIf(
          // With creation on, a missing container is a missing blob in a container still to be created.
          (error) => error.code === "ContainerNotFound" && store.createContainer,
          () => Effect.succeed("no container" as const)
        )
      )
      let current: Snapshot
      if (read === "no container" || Option.isNone(read)) {
        // First use of the name: the blob is created with the first grant already recorded in its metadata.
        yield* checkSize({}, 1n)
        const created = yield* createBlob(store, name, writeGrant({}, grant(1n)), read === "no container")
        if (Option.isSome(created)) {
          const taken = yield* takeLease(created.value)
          return Option.isSome(taken)
            ? acquired({ leaseId: request.leaseId, fencingToken: 1n, ttl: Duration.seconds(seconds) })
            : held()
        }
        // Lost the creation race: the blob exists now; read it like any other.
        const again = yield* readSnapshot(store, name)
        if (Option.isNone(again)) return yield* conflict(request, "the lease blob was created and deleted meanwhile")
        current = again.value
      } else {
        current = read.value
      }

      if (current.leased) {
        const holder = current.metadata[keys.holder]
        // The metadata names the last holder that recorded its grant: a hint, since a new holder may not have
        // written its own yet (inspect verifies it).
        return held({ holderId: holder === undefined ? undefined : decodeValue(holder) })
      }
      const previous = readFence(current.metadata)
      if (previous === undefined) {
        return yield* new ProviderUnavailableError({
          provider: providerName,
          operation: "acquire",
          isRetryable: false,
          leaseName: name,
          detail:
            `the fencing counter in the metadata of blob "${blob.name}" (${keys.fence}) is not a number; it was ` +
            "changed outside this library. Fix or remove it by hand (a lower value breaks fencing)."
        })
      }
      const token = previous + 1n
      yield* checkSize(current.metadata, token)
      const taken = yield* takeLease(current.etag)
      if (Option.isNone(taken)) return held()

      yield* store
        .request((signal) =>
          blob.setMetadata(writeGrant(current.metadata, grant(token, taken.value)), {
            abortSignal: signal,
            conditions: { leaseId }
          })
        )
        .pipe(
          Effect.catch((error): Effect.Effect<never, Failure> => {
            // Give the lease back before failing: without its token recorded, this grant must not be used.
            const giveBack = store
              .request((signal) => leaseClient.releaseLease({ abortSignal: signal }))
              .pipe(Effect.ignore)
            const failure: Effect.Effect<never, Failure> =
              error.status === 409 || error.status === 412
                ? Effect.fail(conflict(request, "the lease was taken away before its grant was recorded", error.cause))
                : Effect.fail(error)
            return Effect.andThen(giveBack, failure)
          })
        )
      return acquired({ leaseId: request.leaseId, fencingToken: token, ttl: Duration.seconds(seconds) })
    }).pipe(
      Effect.catch(
        (error): Effect.Effect<never, ProviderUnavailableError | LeaseConflictError | InvalidLeaseOptionsError> =>
          error._tag === "BlobRequestError"
            ? store.unavailable(error, "acquire", { name: request.name, leaseId: request.leaseId })
            : Effect.fail(error)
      ),
      Effect.withSpan("BlobLeaseProvider.tryAcquire", { attributes: { "lease.name": request.name } })
    )
