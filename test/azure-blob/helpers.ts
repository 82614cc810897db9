/**
 * Shared helpers for the Blob provider's tests: a scoped recording proxy, providers on fresh containers, and
 * direct SDK access to look at (and tamper with) what the provider stored.
 */
import { randomUUID } from "node:crypto"
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob"
import { Duration, Effect, Redacted, type Scope } from "effect"
import type { BlobLeaseProviderOptions } from "../../src/azure/blob/index.ts"
import { BlobLeaseProvider } from "../../src/azure/blob/index.ts"
import type { InvalidLeaseOptionsError } from "../../src/LeaseError.ts"
import type { AcquireRequest, LeaseProviderShape } from "../../src/LeaseProvider.ts"
import type { Azurite } from "../support/azurite.ts"
import { type RecordingProxy, startProxy } from "./proxy.ts"

/** A fresh, valid container name. */
export const freshContainer = (): string => `t-${randomUUID().replaceAll("-", "").slice(0, 16)}`

/** A recording proxy in front of `server`, closed with the scope. */
export const proxyTo = (server: Azurite): Effect.Effect<RecordingProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startProxy(server)),
    (proxy) => Effect.promise(() => proxy.close())
  )

/** The SDK's view of a container (single attempts, no provider involved). */
export const sdkContainer = (connectionString: string, containerName: string): ContainerClient =>
  BlobServiceClient.fromConnectionString(connectionString, { retryOptions: { maxTries: 1 } }).getContainerClient(
    containerName
  )

/** A provider over a connection string; creates its container unless told otherwise. */
export const provider = (
  connectionString: string,
  options: Partial<Omit<Extract<BlobLeaseProviderOptions, { connectionString: unknown }>, "connectionString">> = {}
): Effect.Effect<LeaseProviderShape, InvalidLeaseOptionsError> =>
  BlobLeaseProvider.make({
    containerName: options.containerName ?? freshContainer(),
    createContainerIfNotExists: true,
    ...options,
    connectionString: Redacted.make(connectionString)
  })

/** An acquire request with a fresh lease id. */
export const request = (name: string, holderId: string, extra: Partial<AcquireRequest> = {}): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.seconds(15),
  ...extra
})

/** A lease name unique to one test. */
export const leaseName = (label: string): string => `${label}/${randomUUID().slice(0, 8)}`
