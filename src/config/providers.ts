/**
 * The provider layer for each `LEASING_PROVIDER` value, built from that provider's `LEASING_<PROVIDER>_*` settings.
 *
 * Provider modules are loaded with a dynamic `import()` only once their provider is chosen: importing the core (or
 * this module) never loads an SDK such as `ioredis` or `@azure/*`, which are optional peer dependencies. A module
 * that cannot be loaded (the SDK is not installed) fails the layer with a `ProviderUnavailableError` that says what
 * to install. Settings are read (and a missing one reported) before anything is loaded.
 *
 * @since 0.1.0
 */
import { Config, Effect, type Layer } from "effect"
import type { BlobLeaseProvider } from "../azure/blob/index.ts"
import type { InvalidLeaseOptionsError } from "../LeaseError.ts"
import { ProviderUnavailableError } from "../LeaseError.ts"
import type { LeaseProvider } from "../LeaseProvider.ts"
import type { RedisLeaseProvider } from "../redis/index.ts"
import { configError, optional, type ProviderKind, providerVariable } from "./settings.ts"

/**
 * A provider layer chosen by configuration.
 *
 * @since 0.1.0
 */
export type ConfiguredProvider = Layer.Layer<
  LeaseProvider,
  ProviderUnavailableError | InvalidLeaseOptionsError | Config.ConfigError
>

/** Loads a provider module, turning a missing optional dependency into an error that says what to install. */
const load = <A>(
  provider: string,
  dependency: string | undefined,
  importer: () => Promise<A>
): Effect.Effect<A, ProviderUnavailableError> =>
  Effect.tryPromise({
    try: importer,
    catch: (cause) =>
      new ProviderUnavailableError({
        provider,
        operation: "connect",
        isRetryable: false,
        detail:
          `could not load the ${provider} provider` +
          (dependency === undefined ? "" : ` (is its optional dependency installed? npm install ${dependency})`) +
          (cause instanceof Error ? `: ${cause.message}` : ""),
        cause
      })
  })

/**
 * The memory provider: no settings. Each process has its own store, so it coordinates nothing across processes;
 * use it for tests, local runs and single-process apps.
 *
 * @since 0.1.0
 */
export const memory: Effect.Effect<ConfiguredProvider, ProviderUnavailableError> = Effect.map(
  load("memory", undefined, () => import("../memory/index.ts")),
  (module) => module.MemoryLeaseProvider.layer()
)

/**
 * The variables of the Redis provider. `LEASING_REDIS_URL` (or `LEASING_REDIS_HOST`) is required.
 *
 * @since 0.1.0
 */
export const redisVariables = {
  /** `redis://[[user][:password]@]host[:port][/db]` or `rediss://` for TLS. Read as a secret. */
  url: "LEASING_REDIS_URL",
  host: "LEASING_REDIS_HOST",
  port: "LEASING_REDIS_PORT",
  db: "LEASING_REDIS_DB",
  username: "LEASING_REDIS_USERNAME",
  /** Read as a secret. */
  password: "LEASING_REDIS_PASSWORD",
  tls: "LEASING_REDIS_TLS",
  keyPrefix: "LEASING_REDIS_KEY_PREFIX",
  connectTimeout: "LEASING_REDIS_CONNECT_TIMEOUT",
  commandTimeout: "LEASING_REDIS_COMMAND_TIMEOUT",
  pushWakeUp: "LEASING_REDIS_PUSH_WAKE_UP",
  batchRenewals: "LEASING_REDIS_BATCH_RENEWALS"
} as const

const redisConfig: Config.Config<RedisLeaseProvider.RedisLeaseProviderConfig> = Config.all({
  url: optional(Config.Redacted(redisVariables.url)),
  host: optional(Config.String(redisVariables.host)),
  port: optional(Config.Port(redisVariables.port)),
  db: optional(Config.Int(redisVariables.db)),
  username: optional(Config.String(redisVariables.username)),
  password: optional(Config.Redacted(redisVariables.password)),
  tls: optional(Config.Boolean(redisVariables.tls)),
  keyPrefix: optional(Config.String(redisVariables.keyPrefix)),
  connectTimeout: optional(Config.Duration(redisVariables.connectTimeout)),
  commandTimeout: optional(Config.Duration(redisVariables.commandTimeout)),
  pushWakeUp: optional(Config.Boolean(redisVariables.pushWakeUp)),
  batchRenewals: optional(Config.Boolean(redisVariables.batchRenewals))
})

/**
 * The Redis provider, from the `LEASING_REDIS_*` variables. It connects when the layer is built.
 *
 * @since 0.1.0
 */
export const redis: Effect.Effect<ConfiguredProvider, ProviderUnavailableError | Config.ConfigError> = Effect.gen(
  function* () {
    const values = yield* redisConfig
    if (values.url === undefined && values.host === undefined) {
      return yield* Effect.fail(
        configError(
          redisVariables.url,
          `Missing: ${providerVariable} is redis, so set ${redisVariables.url} (or ${redisVariables.host})`
        )
      )
    }
    const module = yield* load("redis", "ioredis", () => import("../redis/index.ts"))
    return module.RedisLeaseProvider.layerConfig(Config.succeed(values))
  }
)

/**
 * The variables of the Azure Blob Storage provider. `LEASING_AZURE_BLOB_CONNECTION_STRING` or
 * `LEASING_AZURE_BLOB_ACCOUNT_URL` is required; with an account URL, the credential comes from the standard
 * `AZURE_*` variables of `distributed-leasing/azure-identity` (`AZURE_AUTH_MODE`, default `Auto`).
 *
 * @since 0.1.0
 */
export const azureBlobVariables = {
  /** Read as a secret. */
  connectionString: "LEASING_AZURE_BLOB_CONNECTION_STRING",
  /** `https://<account>.blob.core.windows.net`. */
  accountUrl: "LEASING_AZURE_BLOB_ACCOUNT_URL",
  /** Default `leases`. */
  container: "LEASING_AZURE_BLOB_CONTAINER",
  prefix: "LEASING_AZURE_BLOB_PREFIX",
  createContainer: "LEASING_AZURE_BLOB_CREATE_CONTAINER"
} as const

const azureBlobConfig = Config.all({
  connectionString: optional(Config.Redacted(azureBlobVariables.connectionString)),
  accountUrl: optional(Config.String(azureBlobVariables.accountUrl)),
  containerName: optional(Config.String(azureBlobVariables.container)),
  prefix: optional(Config.String(azureBlobVariables.prefix)),
  createContainerIfNotExists: optional(Config.Boolean(azureBlobVariables.createContainer))
})

/**
 * The Azure Blob Storage provider, from the `LEASING_AZURE_BLOB_*` variables.
 *
 * @since 0.1.0
 */
export const azureBlob: Effect.Effect<ConfiguredProvider, ProviderUnavailableError | Config.ConfigError> = Effect.gen(
  function* () {
    const values = yield* azureBlobConfig
    if (values.connectionString === undefined && values.accountUrl === undefined) {
      return yield* Effect.fail(
        configError(
          azureBlobVariables.connectionString,
          `Missing: ${providerVariable} is azure-blob, so set ${azureBlobVariables.connectionString} ` +
            `(or ${azureBlobVariables.accountUrl} with an Azure credential)`
        )
      )
    }
    const module = yield* load("azure-blob", "@azure/storage-blob", () => import("../azure/blob/index.ts"))
    const config: BlobLeaseProvider.BlobLeaseProviderConfig = {
      ...values,
      containerName: values.containerName ?? module.BlobLeaseProvider.defaultContainerName
    }
    return module.BlobLeaseProvider.layerConfig(Config.succeed(config))
  }
)

/**
 * The variables of the Azure Cosmos DB provider. `LEASING_AZURE_COSMOS_CONNECTION_STRING`, or
 * `LEASING_AZURE_COSMOS_ENDPOINT` with `LEASING_AZURE_COSMOS_KEY`, is required. (An Entra ID credential is not
 * configuration: build `CosmosLeaseProvider.layerConfig(config, { credential })` in code for that.)
 *
 * @since 0.1.0
 */
export const azureCosmosVariables = {
  /** Read as a secret. */
  connectionString: "LEASING_AZURE_COSMOS_CONNECTION_STRING",
  endpoint: "LEASING_AZURE_COSMOS_ENDPOINT",
  /** Read as a secret. */
  key: "LEASING_AZURE_COSMOS_KEY",
  database: "LEASING_AZURE_COSMOS_DATABASE",
  container: "LEASING_AZURE_COSMOS_CONTAINER",
  createIfMissing: "LEASING_AZURE_COSMOS_CREATE_IF_MISSING",
  partitionKeyPath: "LEASING_AZURE_COSMOS_PARTITION_KEY_PATH",
  clockSkewTolerance: "LEASING_AZURE_COSMOS_CLOCK_SKEW_TOLERANCE",
  cleanupAfter: "LEASING_AZURE_COSMOS_CLEANUP_AFTER",
  /** `false` for the emulator and single-region test servers. Default `true`. */
  endpointDiscovery: "LEASING_AZURE_COSMOS_ENDPOINT_DISCOVERY"
} as const

const azureCosmosConfig = Config.all({
  connectionString: optional(Config.Redacted(azureCosmosVariables.connectionString)),
  endpoint: optional(Config.String(azureCosmosVariables.endpoint)),
  key: optional(Config.Redacted(azureCosmosVariables.key)),
  databaseName: optional(Config.String(azureCosmosVariables.database)),
  containerName: optional(Config.String(azureCosmosVariables.container)),
  createIfMissing: optional(Config.Boolean(azureCosmosVariables.createIfMissing)),
  partitionKeyPath: optional(Config.String(azureCosmosVariables.partitionKeyPath)),
  clockSkewTolerance: optional(Config.Duration(azureCosmosVariables.clockSkewTolerance)),
  cleanupAfter: optional(Config.Duration(azureCosmosVariables.cleanupAfter)),
  endpointDiscovery: optional(Config.Boolean(azureCosmosVariables.endpointDiscovery))
})

/**
 * The Azure Cosmos DB provider, from the `LEASING_AZURE_COSMOS_*` variables.
 *
 * @since 0.1.0
 */
export const azureCosmos: Effect.Effect<ConfiguredProvider, ProviderUnavailableError | Config.ConfigError> = Effect.gen(
  function* () {
    const { endpointDiscovery, ...values } = yield* azureCosmosConfig
    if (values.connectionString === undefined) {
      if (values.endpoint === undefined) {
        return yield* Effect.fail(
          configError(
            azureCosmosVariables.endpoint,
            `Missing: ${providerVariable} is azure-cosmos, so set ${azureCosmosVariables.endpoint} and ` +
              `${azureCosmosVariables.key} (or ${azureCosmosVariables.connectionString})`
          )
        )
      }
      if (values.key === undefined) {
        return yield* Effect.fail(
          configError(
            azureCosmosVariables.key,
            `Missing: ${azureCosmosVariables.endpoint} is set, so set ${azureCosmosVariables.key} too ` +
              "(for an Entra ID credential, build CosmosLeaseProvider.layerConfig in code)"
          )
        )
      }
    }
    const module = yield* load("azure-cosmos", "@azure/cosmos", () => import("../azure/cosmos/index.ts"))
    const clientOptions =
      endpointDiscovery === false ? { connectionPolicy: { enableEndpointDiscovery: false } } : undefined
    return module.CosmosLeaseProvider.layerConfig(Config.succeed(values), { clientOptions })
  }
)

/**
 * The provider layer for `kind`, reading that provider's settings.
 *
 * @since 0.1.0
 */
export const forKind = (
  kind: ProviderKind
): Effect.Effect<ConfiguredProvider, ProviderUnavailableError | Config.ConfigError> => {
  switch (kind) {
    case "memory":
      return memory
    case "redis":
      return redis
    case "azure-blob":
      return azureBlob
    case "azure-cosmos":
      return azureCosmos
  }
}
