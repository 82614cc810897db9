/**
 * The handle every operation works through: the container, the blob of a lease name, a request helper, and the
 * container's one-time initialisation.
 *
 * Initialisation (`createContainerIfNotExists`) is requested only when a request finds the container missing, so
 * a provider whose container exists never sends it. It runs at most once per provider, however many fibers need
 * it at the same time: it is memoised with `Effect.cachedInvalidateWithTTL`. A failure is not cached (the next
 * acquire tries again), and `invalidate` forgets a success when the container has vanished since (deleted while
 * we ran), so that it is created again. Across processes, creation is `createIfNotExists`, which treats "already
 * exists" as success, so two processes starting together both proceed. With creation off there is no
 * initialisation at all: a missing container surfaces as a clear, non-retryable error naming it.
 *
 * @internal
 */
import type { BlockBlobClient, ContainerClient } from "@azure/storage-blob"
import { Duration, Effect, Exit } from "effect"
import type { LeaseOperation, ProviderUnavailableError } from "../../LeaseError.ts"
import { BlobRequestError, type ErrorContext, fromUnknown, toUnavailable } from "./errors.ts"
import type { BlobMetadata } from "./metadata.ts"
import { blobName } from "./names.ts"

/** @internal */
export interface BlobStore extends ErrorContext {
  readonly container: ContainerClient
  readonly prefix: string
  /** Metadata written with every lease (the provider's `metadata` option). */
  readonly metadata: BlobMetadata | undefined
  /** Creates the container if it does not exist: once per provider (until `invalidate`). No-op with creation off. */
  readonly ready: Effect.Effect<void, ProviderUnavailableError>
  /** Forgets that the container was created (it has vanished since), so `ready` creates it again. */
  readonly invalidate: Effect.Effect<void>
  /** The blob holding lease `name`. */
  readonly blob: (name: string) => BlockBlobClient
  /** Runs one SDK call, interruptibly (the signal aborts the HTTP request). */
  readonly request: <A>(call: (signal: AbortSignal) => Promise<A>) => Effect.Effect<A, BlobRequestError>
  /** Maps a failure that says nothing about the lease, forgetting the container if it has vanished. */
  readonly unavailable: (
    error: BlobRequestError,
    operation: LeaseOperation,
    lease?: { readonly name?: string | undefined; readonly leaseId?: string | undefined }
  ) => Effect.Effect<never, ProviderUnavailableError>
}

const request = <A>(call: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, BlobRequestError> =>
  Effect.tryPromise({ try: call, catch: fromUnknown })

/** The container URL without its query string: a SAS must never reach a message or a log. @internal */
export const publicUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.origin}${parsed.pathname}`
  } catch {
    return "(unparsable URL)"
  }
}

/**
 * Builds the handle. No I/O: the container is created only when a request finds it missing.
 *
 * @internal
 */
export const make = (args: {
  readonly container: ContainerClient
  readonly prefix: string
  readonly createContainer: boolean
  readonly metadata: BlobMetadata | undefined
}): Effect.Effect<BlobStore> =>
  Effect.gen(function* () {
    const context: ErrorContext = {
      containerName: args.container.containerName,
      containerUrl: publicUrl(args.container.url),
      createContainer: args.createContainer
    }
    // The likeliest cause of a refused create: a credential that may use blobs but not create containers (a
    // container-scoped SAS, a role without container write), in which case creation must be left to setup.
    const hint = `if container "${context.containerName}" exists, set createContainerIfNotExists: false`
    const create = request((signal) => args.container.createIfNotExists({ abortSignal: signal })).pipe(
      Effect.mapError((error) => toUnavailable(error, context, "connect", undefined, hint)),
      Effect.asVoid
    )
    // Success is kept for the provider's lifetime; a failure is never kept, so the next caller tries again.
    const [ready, invalidate] = args.createContainer
      ? yield* Effect.cachedInvalidateWithTTL(create, (exit) =>
          Exit.isSuccess(exit) ? Duration.infinity : Duration.zero
        )
      : [Effect.void, Effect.void]
    const store: BlobStore = {
      ...context,
      container: args.container,
      prefix: args.prefix,
      metadata: args.metadata,
      ready,
      invalidate,
      blob: (name) => args.container.getBlockBlobClient(blobName(args.prefix, name)),
      request,
      unavailable: (error, operation, lease) =>
        Effect.andThen(
          error.code === "ContainerNotFound" ? invalidate : Effect.void,
          Effect.fail(toUnavailable(error, context, operation, lease))
        )
    }
    return store
  })

export { BlobRequestError }
