/**
 * `distributed-leasing/config`: a `LeaseManager` built from configuration (`LEASING_PROVIDER`, ...).
 *
 * @module
 * @since 0.1.0
 */

/**
 * `layerConfig`, `layerConfigWith`, `layerProviderConfig`, and the names of the variables they read.
 *
 * @since 0.1.0
 */
export * as Leasing from "./Leasing.ts"
