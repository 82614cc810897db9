/**
 * `distributed-leasing/azure-cosmos`: the Azure Cosmos DB lease provider.
 *
 * ```ts
 * import { CosmosLeaseProvider } from "distributed-leasing/azure-cosmos"
 *
 * const Provider = CosmosLeaseProvider.layer({
 *   endpoint: "https://my-account.documents.azure.com:443/",
 *   key: Redacted.make(process.env.COSMOS_KEY ?? "")
 * })
 * ```
 *
 * @since 0.1.0
 */

/**
 * `make`, `layer`, `layerConfig`, `defaultConfig` and the option types.
 *
 * @since 0.1.0
 */
export * as CosmosLeaseProvider from "./CosmosLeaseProvider.ts"
