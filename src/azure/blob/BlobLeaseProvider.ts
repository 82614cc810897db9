/**
 * The Azure Blob Storage lease provider: native blob leases, with a fencing counter kept in each blob's metadata.
 *
 * - A lease named `name` is the lease of the blob `${prefix}${encoded name}` (see `names.ts`) in one container.
 *   Blobs are created empty on first use.
 * - Acquire, renew, release and break are Azure's own lease operations, so expiry is judged by the service's
 *   clock. Azure holds leases for 15 to 60 seconds: the capabilities say so, and the core rejects other durations
 *   before sending anything.
 * - Each grant increments the fencing counter in the blob's metadata, written under the lease right after the
 *   acquire (only the holder can write a leased blob). It survives release, expiry and break; deleting the blob
 *   resets it.
 * - Handoff changes the lease from the holder's id to the transfer token (Azure's change-lease, checked against the
 *   current id), renews it and records the reservation in the metadata; the claim changes it again to the
 *   successor's id and records the next fencing token (`handoff.ts`, `claim.ts`). The claim window is the lease's
 *   own duration.
 * - Every store error is mapped at this boundary (see `errors.ts`): a renewal refused because the lease is gone
 *   is `LeaseLostError`, never a retryable error.
 *
 * Round trips: acquire 3 (1 when held), renew 1, release 1, inspect 1–2, break 1–2, handoff 4, claim 4; with
 * `createContainerIfNotExists`, one container creation per provider when an acquire finds it missing. See
 * docs/providers/azure-blob.md.
 *
 * Constructors: `make` (an effect), `layer(options)` (a connection string, an account URL with a credential, or
 * your `ContainerClient`), `layerConfig(config?)` (from `Config`, by default the environment).
 *
 * @since 0.1.0
 */
import type { TokenCredential } from "@azure/core-auth"
import type { ContainerClient } from "@azure/storage-blob"
import { Config, Effect, Layer, Option, type Redacted } from "effect"
import { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { LeaseProvider, type LeaseProviderShape } from "../../LeaseProvider.ts"
import type { AzureCredential } from "../identity/AzureCredential.ts"
import { tryAcquire } from "./acquire.ts"
import * as BlobStore from "./BlobStore.ts"
import { breakLease } from "./breakLease.ts"
import { claim } from "./claim.ts"
import { type ContainerSource, containerClient } from "./containerClient.ts"
import { maxDuration, minDuration } from "./durations.ts"
import { providerName } from "./errors.ts"
import { handoff } from "./handoff.ts"
import { inspect } from "./inspect.ts"
import { encodeValue, maxMetadataBytes, metadataBytes } from "./metadata.ts"
import { defaultPrefix, prefixProblem } from "./names.ts"
import { release } from "./release.ts"
import { renew } from "./renew.ts"

export { blobName, encodeName } from "./names.ts"

/**
 * The default container name, as in the original library.
 *
 * @since 0.1.0
 */
export const defaultContainerName = "leases"

/**
 * Options that do not depend on how the container is reached.
 *
 * @since 0.1.0
 */
export interface ProviderOptions {
  /**
   * Create the container when an acquire finds it missing (once per provider, race-free across processes).
   * Default `false`: a missing container is then a non-retryable error naming it, and the credential needs no
   * right to create containers.
   */
  readonly createContainerIfNotExists?: boolean | undefined
  /** Prefix of every lease blob's name. Default `lease-`. May contain `/` (virtual directories). */
  readonly prefix?: string | undefined
  /** Metadata written with every lease (under each lease's own `metadata`, which wins on equal keys). */
  readonly metadata?: Readonly<Record<string, string>> | undefined
}

/**
 * A container reached through a storage connection string (Azure Storage or Azurite).
 *
 * @since 0.1.0
 */
export interface ConnectionStringOptions extends ProviderOptions {
  /** Default `leases`. */
  readonly containerName?: string | undefined
  readonly connectionString: Redacted.Redacted<string>
}

/**
 * A container reached through an account URL and an Azure credential: a form built by
 * `distributed-leasing/azure-identity` (`AzureCredentials`, `makeCredential`) or any `TokenCredential`.
 *
 * @since 0.1.0
 */
export interface CredentialOptions extends ProviderOptions {
  /** Default `leases`. */
  readonly containerName?: string | undefined
  /**
   * The blob endpoint, e.g. `https://<account>.blob.core.windows.net`. Required with a token credential and a SAS
   * without an endpoint; otherwise it overrides the credential's endpoint.
   */
  readonly accountUrl?: string | undefined
  readonly credential: AzureCredential | TokenCredential
}

/**
 * A `ContainerClient` you built. Its pipeline is used as is (consider `retryOptions: { maxTries: 1 }`: the core
 * retries by itself).
 *
 * @since 0.1.0
 */
export interface ContainerClientOptions extends ProviderOptions {
  readonly containerClient: ContainerClient
}

/**
 * The options of `make` and `layer`.
 *
 * @since 0.1.0
 */
export type BlobLeaseProviderOptions = ConnectionStringOptions | CredentialOptions | ContainerClientOptions

const invalid = (field: string, detail: string) =>
  new InvalidLeaseOptionsError({ provider: providerName, field, detail })

const sourceOf = (options: BlobLeaseProviderOptions): ContainerSource => {
  if ("containerClient" in options) return { _tag: "Client", client: options.containerClient }
  const containerName = options.containerName ?? defaultContainerName
  return "connectionString" in options
    ? { _tag: "ConnectionString", containerName, connectionString: options.connectionString }
    : { _tag: "Credential", containerName, accountUrl: options.accountUrl, credential: options.credential }
}

/**
 * Builds the provider. Validates the options and builds the client; no request is sent until the first
 * operation (the container is created, if asked, by the first acquire that finds it missing).
 *
 * @since 0.1.0
 */
export const make = (options: BlobLeaseProviderOptions): Effect.Effect<LeaseProviderShape, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    const prefix = options.prefix ?? defaultPrefix
    const badPrefix = prefixProblem(prefix)
    if (badPrefix !== undefined) return yield* invalid("prefix", badPrefix)
    if (options.metadata !== undefined) {
      // Our own keys take a few hundred bytes; leave room for them and for per-lease metadata.
      const size = metadataBytes({ dl_metadata: encodeValue(JSON.stringify(options.metadata)) })
      if (size > maxMetadataBytes / 2) {
        return yield* invalid("metadata", `takes ${size} bytes as blob metadata; at most ${maxMetadataBytes / 2}`)
      }
    }
    const container = yield* containerClient(sourceOf(options))
    const store = yield* BlobStore.make({
      container,
      prefix,
      createContainer: options.createContainerIfNotExists ?? false,
      metadata: options.metadata
    })
    const provider: LeaseProviderShape = {
      name: providerName,
      capabilities: {
        waitForRelease: false,
        handoff: true,
        // Azure cannot change a lease's duration without an acquire (which would undo a racing break).
        fixedClaimWindow: true,
        metadata: true,
        clock: "store",
        minDuration,
        maxDuration
      },
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
 * The provider as a layer.
 *
 * @since 0.1.0
 */
export const layer = (options: BlobLeaseProviderOptions): Layer.Layer<LeaseProvider, InvalidLeaseOptionsError> =>
  Layer.effect(LeaseProvider, make(options))

/**
 * What `layerConfig` reads.
 *
 * @since 0.1.0
 */
export interface BlobLeaseProviderConfig {
  readonly containerName: string
  readonly connectionString?: Redacted.Redacted<string> | undefined
  readonly accountUrl?: string | undefined
  readonly prefix?: string | undefined
  readonly createContainerIfNotExists?: boolean | undefined
}

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * The default configuration, from the environment: `AZURE_BLOB_LEASE_CONTAINER` (default `leases`),
 * `AZURE_STORAGE_CONNECTION_STRING` (redacted), `AZURE_STORAGE_ENDPOINT` (the account URL),
 * `AZURE_BLOB_LEASE_PREFIX`, `AZURE_BLOB_LEASE_CREATE_CONTAINER`.
 *
 * @since 0.1.0
 */
export const defaultConfig: Config.Config<BlobLeaseProviderConfig> = Config.all({
  containerName: Config.String("AZURE_BLOB_LEASE_CONTAINER").pipe(Config.withDefault(defaultContainerName)),
  connectionString: optional(Config.Redacted("AZURE_STORAGE_CONNECTION_STRING")),
  accountUrl: optional(Config.String("AZURE_STORAGE_ENDPOINT")),
  prefix: optional(Config.String("AZURE_BLOB_LEASE_PREFIX")),
  createContainerIfNotExists: optional(Config.Boolean("AZURE_BLOB_LEASE_CREATE_CONTAINER"))
})

/**
 * The credential when the configuration has no connection string: the `AzureCredentials` service if the
 * application provides one, else one built from the standard `AZURE_*` variables (`AZURE_AUTH_MODE`, default
 * `Auto`). Loaded lazily, so that `@azure/identity` (an optional peer) is needed only on this path.
 */
const credentialFromEnvironment: Effect.Effect<AzureCredential, InvalidLeaseOptionsError> = Effect.gen(function* () {
  const identity = yield* Effect.tryPromise({
    try: () => import("../identity/AzureCredentials.ts"),
    catch: (cause) =>
      invalid(
        "credential",
        "no connection string is configured, and the Azure credentials module could not be loaded " +
          `(is @azure/identity installed?): ${cause instanceof Error ? cause.message : String(cause)}`
      )
  })
  const provided = yield* Effect.serviceOption(identity.AzureCredentials)
  return Option.isSome(provided) ? provided.value : yield* identity.makeCredentialConfig()
})

/**
 * The provider from `Config` (the environment by default, see `defaultConfig`). A connection string wins; without
 * one, the credential is `extra.credential`, else the `AzureCredentials` service if provided, else one built from
 * the standard `AZURE_*` variables.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<BlobLeaseProviderConfig> = defaultConfig,
  extra?: {
    readonly credential?: AzureCredential | TokenCredential | undefined
    readonly metadata?: Readonly<Record<string, string>> | undefined
  }
): Layer.Layer<LeaseProvider, InvalidLeaseOptionsError | Config.ConfigError> =>
  Layer.effect(
    LeaseProvider,
    Effect.gen(function* () {
      const values = yield* Config.unwrap(config)
      const common = {
        containerName: values.containerName,
        prefix: values.prefix,
        createContainerIfNotExists: values.createContainerIfNotExists,
        metadata: extra?.metadata
      }
      if (values.connectionString !== undefined) {
        return yield* make({ ...common, connectionString: values.connectionString })
      }
      const credential = extra?.credential ?? (yield* credentialFromEnvironment)
      return yield* make({ ...common, accountUrl: values.accountUrl, credential })
    })
  )
