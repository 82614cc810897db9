/**
 * Config-driven setup: a `LeaseManager` whose provider, holder id and default options come from configuration
 * (environment variables by default), so one build runs on memory in tests and on Redis in production.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { LeaseManager } from "distributed-leasing"
 * import { Leasing } from "distributed-leasing/config"
 *
 * // LEASING_PROVIDER=redis LEASING_REDIS_URL=redis://cache:6379 LEASING_DURATION="30 seconds"
 * const program = Effect.scoped(LeaseManager.acquire("nightly-report"))
 * Effect.runPromise(program.pipe(Effect.provide(Leasing.layerConfig)))
 * ```
 *
 * | variable | meaning |
 * | --- | --- |
 * | `LEASING_PROVIDER` | required: `memory`, `redis`, `azure-blob` or `azure-cosmos` |
 * | `LEASING_HOLDER_ID` | this process's holder id (default `host:pid:random`) |
 * | `LEASING_DURATION`, `LEASING_TIMEOUT`, `LEASING_RENEW_INTERVAL`, ... | default lease options (see `optionVariables`) |
 * | `LEASING_REDIS_URL`, `LEASING_REDIS_HOST`, ... | Redis settings (see `redisVariables`) |
 * | `LEASING_AZURE_BLOB_CONNECTION_STRING`, ... | Azure Blob Storage settings (see `azureBlobVariables`) |
 * | `LEASING_AZURE_COSMOS_ENDPOINT`, ... | Azure Cosmos DB settings (see `azureCosmosVariables`) |
 *
 * A missing or invalid setting fails the layer with a `ConfigError` that names the variable. The Promise API's
 * `createLeasingFromEnv()` is this layer behind a `LeasingClient`.
 *
 * @since 0.1.0
 */
import { type Config, Effect, Layer } from "effect"
import type { InvalidLeaseOptionsError, ProviderUnavailableError } from "../LeaseError.ts"
import { LeaseManager } from "../LeaseManager.ts"
import * as LeaseOptions from "../LeaseOptions.ts"
import type { LeaseProvider } from "../LeaseProvider.ts"
import { forKind } from "./providers.ts"
import { settings } from "./settings.ts"

export { azureBlobVariables, azureCosmosVariables, type ConfiguredProvider, redisVariables } from "./providers.ts"
export {
  holderIdVariable,
  type LeasingSettings,
  optionVariables,
  type ProviderKind,
  providerKinds,
  providerVariable,
  settings
} from "./settings.ts"

/**
 * What building a configured layer can fail with: a setting (`ConfigError`, naming the variable), a provider that
 * cannot be loaded or reached (`ProviderUnavailableError`), or provider options it rejects.
 *
 * @since 0.1.0
 */
export type LayerConfigError = Config.ConfigError | ProviderUnavailableError | InvalidLeaseOptionsError

/**
 * Settings given in code. The variables override them: code sets the defaults, the environment adjusts them.
 *
 * @since 0.1.0
 */
export interface LayerConfigOptions {
  /** The holder id when `LEASING_HOLDER_ID` is not set. */
  readonly holderId?: string | undefined
  /** Default lease options; each `LEASING_*` option variable that is set overrides its field. */
  readonly defaults?: LeaseOptions.LeaseOptions | undefined
}

/**
 * The provider named by `LEASING_PROVIDER`, with its settings, and nothing else.
 *
 * @since 0.1.0
 */
export const layerProviderConfig: Layer.Layer<LeaseProvider, LayerConfigError> = Layer.unwrap(
  Effect.flatMap(settings(), (read) => forKind(read.provider))
)

/**
 * A `LeaseManager` from configuration, with settings given in code under it.
 *
 * @since 0.1.0
 */
export const layerConfigWith = (options: LayerConfigOptions = {}): Layer.Layer<LeaseManager, LayerConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const read = yield* settings(options.defaults)
      const provider = yield* forKind(read.provider)
      return LeaseManager.layerWith({
        holderId: read.holderId ?? options.holderId,
        defaults: LeaseOptions.merge(options.defaults, read.defaults)
      }).pipe(Layer.provide(provider))
    })
  )

/**
 * A `LeaseManager` from configuration: `LEASING_PROVIDER`, the provider's settings, `LEASING_HOLDER_ID` and the
 * default lease options.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<LeaseManager, LayerConfigError> = layerConfigWith()
