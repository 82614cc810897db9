/**
 * `distributed-leasing/azure-blob`: the Azure Blob Storage lease provider.
 *
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { LeaseManager } from "distributed-leasing"
 * import { BlobLeaseProvider } from "distributed-leasing/azure-blob"
 *
 * const Provider = BlobLeaseProvider.layer({
 *   containerName: "leases",
 *   connectionString: Redacted.make(process.env.AZURE_STORAGE_CONNECTION_STRING ?? ""),
 *   createContainerIfNotExists: true
 * })
 * const Leasing = LeaseManager.layer.pipe(Layer.provide(Provider))
 * ```
 *
 * @since 0.1.0
 */

export type {
  BlobLeaseProviderConfig,
  BlobLeaseProviderOptions,
  ConnectionStringOptions,
  ContainerClientOptions,
  CredentialOptions,
  ProviderOptions as BlobProviderOptions
} from "./BlobLeaseProvider.ts"
/**
 * `make`, `layer`, `layerConfig`, `defaultConfig`, the option types, and `blobName` (which blob holds a lease).
 *
 * @since 0.1.0
 */
export * as BlobLeaseProvider from "./BlobLeaseProvider.ts"
