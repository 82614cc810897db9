/**
 * The Azure Cosmos DB lease provider: one document per lease, one request per operation in the steady state.
 *
 * - Acquire, renew, release and handoff are each **one conditional write** (`replace` with `If-Match`) on the ETag
 *   of the version this provider last saw, which it caches per name (`ObservationCache.ts`). A stale ETag costs one
 *   `412` and a read; the first acquire of a name costs a read and a create. Exactly one of several racing
 *   writers wins: the service accepts one create per id and one replace per ETag.
 * - Handoff replaces the grant by a reservation for the successor under the transfer token (`handoff.ts`); the
 *   successor's claim reads it and replaces it by its grant, the fence moving up in that write (`claim.ts`).
 * - The fencing counter is a field of the document, incremented in the same conditional write as the grant, kept
 *   by release and break; documents are never deleted by the provider, and a document re-created after a
 *   deletion continues above its old tokens.
 * - Expiry is judged with the service's own clock (`_ts` of the last write against the `Date` of the answer), so
 *   client clocks never decide who holds a lease; `clockSkewTolerance` widens the margin (`serverClock.ts`).
 * - TTL is never needed for correctness; `cleanupAfter` optionally lets the service delete abandoned documents.
 * - The request charge (RU) of every request is logged at debug level, and each operation's total is put on the
 *   current span as `lease.cosmos.request_charge`.
 *
 * Constructors: `make` (scoped effect), `layer(options)`, `layerConfig(config?, extra?)`. The container is opened
 * (and, with `createIfMissing`, created) when the layer is built, never in a constructor.
 *
 * @since 0.1.0
 */
import type { TokenCredential } from "@azure/core-auth"
import { Config, Duration, Effect, Layer, Option, type Redacted, type Scope } from "effect"
import { InvalidLeaseOptionsError, type ProviderUnavailableError } from "../../LeaseError.ts"
import { LeaseProvider, type LeaseProviderShape } from "../../LeaseProvider.ts"
import { tryAcquire } from "./acquire.ts"
import { breakLease } from "./breakLease.ts"
import { type ClientOptions, type Connection, prepare } from "./CosmosConnection.ts"
import { claim } from "./claim.ts"
import { providerName as defaultProviderName } from "./errors.ts"
import { handoff } from "./handoff.ts"
import { inspect } from "./inspect.ts"
import type { LeaseStore } from "./LeaseStore.ts"
import * as ObservationCache from "./ObservationCache.ts"
import { release } from "./release.ts"
import { renew } from "./renew.ts"

export type {
  ClientConnection,
  ClientOptions,
  Connection,
  ConnectionStringConnection,
  ContainerConnection,
  CredentialConnection,
  KeyConnection
} from "./CosmosConnection.ts"
export { documentId } from "./documentId.ts"
export { documentType, LeaseDocument } from "./LeaseDocument.ts"

/** Default database name. */
export const defaultDatabaseName = "distributed-leasing"

/** Default container name. */
export const defaultContainerName = "leases"

/** Default `clockSkewTolerance`. */
export const defaultClockSkewTolerance: Duration.Duration = Duration.seconds(1)

/** The shortest `cleanupAfter` accepted: clean-up is for abandoned leases, far longer than any lease. */
export const minCleanupAfter: Duration.Duration = Duration.hours(1)

/**
 * Options that do not depend on how the account is reached.
 *
 * @since 0.1.0
 */
export interface ProviderOptions {
  /** Default `"distributed-leasing"`. Ignored with `{ container }`. */
  readonly databaseName?: string | undefined
  /** Default `"leases"`. Ignored with `{ container }`. */
  readonly containerName?: string | undefined
  /**
   * Create the database and container if they do not exist, when the layer is built. Default `false`: creating
   * resources can cost money (throughput) and needs a key (Entra ID identities cannot create them on the data
   * plane). See `docs/providers/azure-cosmos.md` for the recommended container settings.
   */
  readonly createIfMissing?: boolean | undefined
  /**
   * The container's partition key path: a single top-level property. Default: the container's own when it
   * exists (checked at start-up), `/id` when it is created. With a path other than `/id`, each document carries
   * that property, set to its id.
   */
  readonly partitionKeyPath?: string | undefined
  /**
   * How much longer than its duration a lease counts as held for takers, to absorb clock differences between the
   * service's nodes (and, if a response lacks a `Date` header, between this client and the service). Default 1 s.
   */
  readonly clockSkewTolerance?: Duration.Input | undefined
  /**
   * Let the service delete lease documents untouched for this long (per-item `ttl`; at least 1 hour). Off by
   * default. Correctness never depends on it. A document deleted this way is created again on the next acquire
   * with a fence above its old tokens. The container must have TTL enabled (it is, when created by the
   * provider with this option set).
   */
  readonly cleanupAfter?: Duration.Input | undefined
  /** The provider name used in errors, logs and metrics. Default `"azure-cosmos"`. */
  readonly name?: string | undefined
  /** How many lease names the per-provider ETag cache remembers. Default 10 000. */
  readonly cacheSize?: number | undefined
}

/**
 * Options of `make` / `layer`: how to reach the account, plus the provider options.
 *
 * @since 0.1.0
 */
export type CosmosLeaseProviderOptions = Connection & ProviderOptions

const durationOption = (
  providerName: string,
  field: string,
  input: Duration.Input | undefined
): Effect.Effect<Duration.Duration | undefined, InvalidLeaseOptionsError> => {
  if (input === undefined) return Effect.succeed(undefined)
  const decoded = Duration.fromInput(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) < 0) {
    return Effect.fail(
      new InvalidLeaseOptionsError({
        provider: providerName,
        field,
        detail: `must be a finite, non-negative duration, got ${String(input)}`
      })
    )
  }
  return Effect.succeed(decoded.value)
}

/**
 * Builds the provider in the current scope: validates the options, opens (and, if asked, creates) the container,
 * and disposes the client it created when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  options: CosmosLeaseProviderOptions
): Effect.Effect<LeaseProviderShape, ProviderUnavailableError | InvalidLeaseOptionsError, Scope.Scope> =>
  Effect.gen(function* () {
    const providerName = options.name ?? defaultProviderName
    const tolerance =
      (yield* durationOption(providerName, "clockSkewTolerance", options.clockSkewTolerance)) ??
      defaultClockSkewTolerance
    const cleanupAfter = yield* durationOption(providerName, "cleanupAfter", options.cleanupAfter)
    if (cleanupAfter !== undefined && Duration.isLessThan(cleanupAfter, minCleanupAfter)) {
      return yield* new InvalidLeaseOptionsError({
        provider: providerName,
        field: "cleanupAfter",
        detail: `must be at least 1 hour (it is for abandoned leases only), got ${Duration.format(cleanupAfter)}`
      })
    }
    const cacheSize = options.cacheSize ?? 10_000
    if (!Number.isInteger(cacheSize) || cacheSize < 1) {
      return yield* new InvalidLeaseOptionsError({
        provider: providerName,
        field: "cacheSize",
        detail: `must be a positive integer, got ${cacheSize}`
      })
    }

    const prepared = yield* prepare(options, {
      databaseName: options.databaseName ?? defaultDatabaseName,
      containerName: options.containerName ?? defaultContainerName,
      createIfMissing: options.createIfMissing ?? false,
      partitionKeyPath: options.partitionKeyPath,
      enableTtl: cleanupAfter !== undefined,
      providerName
    })

    const store: LeaseStore = {
      container: prepared.container,
      location: prepared.location,
      partitionKeyField: prepared.partitionKeyField,
      providerName,
      toleranceMs: Duration.toMillis(tolerance),
      ttlSeconds: cleanupAfter === undefined ? undefined : Math.ceil(Duration.toSeconds(cleanupAfter)),
      cache: ObservationCache.make(cacheSize)
    }

    const provider: LeaseProviderShape = {
      name: providerName,
      capabilities: { waitForRelease: false, handoff: true, metadata: true, clock: "store" },
      tryAcquire: tryAcquire(store),
      renew: renew(store),
      release: release(store),
      inspect: inspect(store),
      breakLease: breakLease(store),
      handoff: handoff(store),
      claim: claim(store)
    }
    return provider
  })

/**
 * The provider as a layer. Opens the container when the layer is built; disposes the client it created when the
 * layer is released.
 *
 * ```ts
 * CosmosLeaseProvider.layer({ endpoint, key: Redacted.make(key) })
 * CosmosLeaseProvider.layer({ endpoint, credential: new DefaultAzureCredential() })
 * CosmosLeaseProvider.layer({ container: myContainer })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: CosmosLeaseProviderOptions
): Layer.Layer<LeaseProvider, ProviderUnavailableError | InvalidLeaseOptionsError> =>
  Layer.effect(LeaseProvider, make(options))

/**
 * What `layerConfig` reads.
 *
 * @since 0.1.0
 */
export interface CosmosLeaseProviderConfig {
  readonly endpoint?: string | undefined
  readonly key?: Redacted.Redacted<string> | undefined
  readonly connectionString?: Redacted.Redacted<string> | undefined
  readonly databaseName?: string | undefined
  readonly containerName?: string | undefined
  readonly createIfMissing?: boolean | undefined
  readonly partitionKeyPath?: string | undefined
  readonly clockSkewTolerance?: Duration.Duration | undefined
  readonly cleanupAfter?: Duration.Duration | undefined
}

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * The default configuration: `COSMOS_ENDPOINT`, `COSMOS_KEY` (redacted), `COSMOS_CONNECTION_STRING` (redacted),
 * `COSMOS_DATABASE`, `COSMOS_CONTAINER`, `COSMOS_CREATE_IF_MISSING`, `COSMOS_PARTITION_KEY_PATH`,
 * `COSMOS_CLOCK_SKEW_TOLERANCE`, `COSMOS_CLEANUP_AFTER`; all optional.
 *
 * @since 0.1.0
 */
export const defaultConfig: Config.Config<CosmosLeaseProviderConfig> = Config.all({
  endpoint: optional(Config.String("COSMOS_ENDPOINT")),
  key: optional(Config.Redacted("COSMOS_KEY")),
  connectionString: optional(Config.Redacted("COSMOS_CONNECTION_STRING")),
  databaseName: optional(Config.String("COSMOS_DATABASE")),
  containerName: optional(Config.String("COSMOS_CONTAINER")),
  createIfMissing: optional(Config.Boolean("COSMOS_CREATE_IF_MISSING")),
  partitionKeyPath: optional(Config.String("COSMOS_PARTITION_KEY_PATH")),
  clockSkewTolerance: optional(Config.Duration("COSMOS_CLOCK_SKEW_TOLERANCE")),
  cleanupAfter: optional(Config.Duration("COSMOS_CLEANUP_AFTER"))
})

/**
 * What configuration cannot carry: an Entra ID credential, and client options.
 *
 * @since 0.1.0
 */
export interface ConfigExtras {
  /** Used with `endpoint` when no key or connection string is configured. */
  readonly credential?: TokenCredential | undefined
  readonly clientOptions?: ClientOptions | undefined
}

/**
 * Chooses the connection from configuration: a connection string, else endpoint + key, else endpoint + the
 * credential passed in `extra`.
 *
 * @since 0.1.0
 */
export const connectionFromConfig = (
  values: CosmosLeaseProviderConfig,
  extra: ConfigExtras = {},
  providerName: string = defaultProviderName
): Effect.Effect<Connection, InvalidLeaseOptionsError> => {
  const clientOptions = extra.clientOptions
  if (values.connectionString !== undefined) {
    return Effect.succeed({ connectionString: values.connectionString, clientOptions })
  }
  if (values.endpoint === undefined) {
    return Effect.fail(
      new InvalidLeaseOptionsError({
        provider: providerName,
        field: "endpoint",
        detail: "set COSMOS_ENDPOINT (with COSMOS_KEY or a credential) or COSMOS_CONNECTION_STRING"
      })
    )
  }
  if (values.key !== undefined) return Effect.succeed({ endpoint: values.endpoint, key: values.key, clientOptions })
  if (extra.credential !== undefined) {
    return Effect.succeed({ endpoint: values.endpoint, credential: extra.credential, clientOptions })
  }
  return Effect.fail(
    new InvalidLeaseOptionsError({
      provider: providerName,
      field: "key",
      detail: "COSMOS_ENDPOINT is set but neither COSMOS_KEY nor a credential was given (pass { credential })"
    })
  )
}

/**
 * The provider from `Config` (environment variables by default, see `defaultConfig`). An Entra ID credential and
 * client options are not configuration: pass them as the second argument.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<CosmosLeaseProviderConfig> = defaultConfig,
  extra: ConfigExtras = {}
): Layer.Layer<LeaseProvider, ProviderUnavailableError | InvalidLeaseOptionsError | Config.ConfigError> =>
  Layer.effect(
    LeaseProvider,
    Effect.gen(function* () {
      const values = yield* Config.unwrap(config)
      const connection = yield* connectionFromConfig(values, extra)
      return yield* make({
        ...connection,
        databaseName: values.databaseName,
        containerName: values.containerName,
        createIfMissing: values.createIfMissing,
        partitionKeyPath: values.partitionKeyPath,
        clockSkewTolerance: values.clockSkewTolerance,
        cleanupAfter: values.cleanupAfter
      })
    })
  )
