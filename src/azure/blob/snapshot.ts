/**
 * One read of a lease blob (Get Blob Properties): its ETag, metadata and lease state. Acquire starts with it, and
 * inspect, break and the classification of a lost renewal use it.
 *
 * @internal
 */
import { Effect, Option } from "effect"
import type { BlobRequestError, BlobStore } from "./BlobStore.ts"
import type { BlobMetadata } from "./metadata.ts"

/** What a read tells. `leased` covers Azure's `leased` and `breaking` states: someone holds the lease. @internal */
export interface Snapshot {
  readonly etag: string
  readonly metadata: BlobMetadata
  readonly leased: boolean
}

const activeStates = new Set(["leased", "breaking"])

/**
 * Reads the blob: `None` when it does not exist. With `missingContainer: "empty"`, a missing container also reads
 * as `None` when the provider creates its container (nothing can be leased in it); otherwise it is an error.
 *
 * @internal
 */
export const readSnapshot = (
  store: BlobStore,
  name: string,
  missingContainer: "error" | "empty" = "error"
): Effect.Effect<Option.Option<Snapshot>, BlobRequestError> =>
  store
    .request((signal) => store.blob(name).getProperties({ abortSignal: signal }))
    .pipe(
      Effect.map((properties) =>
        Option.some({
          etag: properties.etag ?? "",
          metadata: properties.metadata ?? {},
          leased: activeStates.has(properties.leaseState ?? "available")
        })
      ),
      Effect.catchIf(
        (error) =>
          error.code === "BlobNotFound" ||
          (error.code === "ContainerNotFound" && missingContainer === "empty" && store.createContainer),
        () => Effect.succeed(Option.none())
      )
    )
