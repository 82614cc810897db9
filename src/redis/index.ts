/**
 * `distributed-leasing/redis`: the Redis lease provider.
 *
 * ```ts
 * import { RedisLeaseProvider } from "distributed-leasing/redis"
 *
 * const Provider = RedisLeaseProvider.layer({ url: Redacted.make("redis://localhost:6379") })
 * ```
 *
 * @since 0.1.0
 */

/**
 * `make`, `layer`, `layerClient`, `layerConfig`, `defaultConfig` and the option types.
 *
 * @since 0.1.0
 */
export * as RedisLeaseProvider from "./RedisLeaseProvider.ts"
