/**
 * `createLeasingFromEnv()`: a Promise-API client whose provider and defaults come from `LEASING_*` variables.
 *
 * It is `Leasing.layerConfig` (see `distributed-leasing/config` for every variable) behind a `LeasingClient`, built
 * before the Promise resolves: a missing or invalid setting rejects with a `ConfigError` naming the variable, and an
 * unreachable store with a `ProviderUnavailableError`, at startup rather than at the first `acquire`.
 *
 * @since 0.1.0
 */
import { ConfigProvider, Layer } from "effect"
import * as Leasing from "../config/Leasing.ts"
import { type ClientOptions, createLeasingFromLayer, type LeasingClient } from "./LeasingClient.ts"
import type { LeaseOptions } from "./options.ts"
import { toCoreOptions } from "./options.ts"

/**
 * Options of `createLeasingFromEnv`.
 *
 * @since 0.1.0
 */
export interface CreateLeasingFromEnvOptions extends ClientOptions {
  /** The variables to read. Default `process.env`. Entries set to `undefined` are ignored. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** The holder id when `LEASING_HOLDER_ID` is not set. */
  readonly holderId?: string | undefined
  /** Default lease options; each `LEASING_*` option variable that is set overrides its field. */
  readonly defaults?: LeaseOptions | undefined
}

const definedEntries = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value
  return out
}

/**
 * Creates a client from configuration, connected and ready.
 *
 * ```ts
 * // LEASING_PROVIDER=redis LEASING_REDIS_URL=redis://cache:6379
 * await using leasing = await createLeasingFromEnv()
 * ```
 *
 * @since 0.1.0
 */
export const createLeasingFromEnv = async (options: CreateLeasingFromEnvOptions = {}): Promise<LeasingClient> => {
  const layer = Leasing.layerConfigWith({ holderId: options.holderId, defaults: toCoreOptions(options.defaults) })
  const configured =
    options.env === undefined
      ? layer
      : layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: definedEntries(options.env) }))))
  const client = createLeasingFromLayer(configured, options)
  try {
    await client.ready()
  } catch (error) {
    await client.close()
    throw error
  }
  return client
}
