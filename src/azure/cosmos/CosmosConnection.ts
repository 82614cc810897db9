/**
 * Reaching the container: from an endpoint and a key, an endpoint and an Entra ID credential, a connection
 * string, a `CosmosClient` or a `Container` you already have. Everything here runs inside the layer (a scoped
 * effect): no constructor does I/O, a client we create is disposed with the scope, one you pass is never touched.
 *
 * Start-up, in order:
 * 1. With `createIfMissing`, the database and then the container are created if absent (partition key path
 *    `/id` by default, hash v2; an indexing policy that indexes nothing, since leases are only point-read and
 *    written; TTL enabled without a default when `cleanupAfter` is set). This needs a key: with Entra ID,
 *    creating databases and containers is a control-plane action, refused with 403 on the data plane.
 * 2. The container is read once, to fail fast and clearly when it (or its database) does not exist, and to learn
 *    its partition key path, which the documents must carry.
 *
 * Clients we create have the SDK's throttling retries turned off (`retryOptions.maxRetryAttemptCount: 0`): a
 * `429` surfaces at once as a retryable error with the service's `retryAfter`, and the core decides, within the
 * lease's own deadlines, when to try again. (The SDK would otherwise wait up to 30 s on its own, far longer than
 * a lease attempt may take.) Pass your own `client` to choose differently.
 *
 * @since 0.1.0
 */
import type { TokenCredential } from "@azure/core-auth"
import {
  type Container,
  type ContainerRequest,
  CosmosClient,
  type CosmosClientOptions,
  IndexingMode,
  PartitionKeyDefinitionVersion,
  PartitionKeyKind
} from "@azure/cosmos"
import { Effect, Redacted, Result, type Scope } from "effect"
import { InvalidLeaseOptionsError, ProviderUnavailableError } from "../../LeaseError.ts"
import { providerName as defaultProviderName, errorShape, type Location, unavailable } from "./errors.ts"

/**
 * Options of a `CosmosClient` the provider creates (everything but the account and its authentication), for
 * example `connectionPolicy`, `consistencyLevel`, or an `agent` (how a test trusts an emulator's certificate
 * for this client only).
 *
 * @since 0.1.0
 */
export type ClientOptions = Omit<
  CosmosClientOptions,
  "endpoint" | "key" | "aadCredentials" | "connectionString" | "tokenProvider" | "resourceTokens" | "permissionFeed"
>

/**
 * Connect with the account endpoint and a primary or secondary key.
 *
 * @since 0.1.0
 */
export interface KeyConnection {
  readonly endpoint: string
  readonly key: Redacted.Redacted<string>
  readonly clientOptions?: ClientOptions | undefined
}

/**
 * Connect with the account endpoint and a Microsoft Entra ID credential (the identity needs a Cosmos DB
 * data-plane role, such as "Cosmos DB Built-in Data Contributor").
 *
 * @since 0.1.0
 */
export interface CredentialConnection {
  readonly endpoint: string
  readonly credential: TokenCredential
  readonly clientOptions?: ClientOptions | undefined
}

/**
 * Connect with a connection string (`AccountEndpoint=...;AccountKey=...;`).
 *
 * @since 0.1.0
 */
export interface ConnectionStringConnection {
  readonly connectionString: Redacted.Redacted<string>
  readonly clientOptions?: ClientOptions | undefined
}

/**
 * Use a client you built and own (never disposed by the provider).
 *
 * @since 0.1.0
 */
export interface ClientConnection {
  readonly client: CosmosClient
}

/**
 * Use a container you already have (never disposed by the provider). `databaseName` and `containerName` are
 * taken from it.
 *
 * @since 0.1.0
 */
export interface ContainerConnection {
  readonly container: Container
}

/**
 * How to reach the account.
 *
 * @since 0.1.0
 */
export type Connection =
  | KeyConnection
  | CredentialConnection
  | ConnectionStringConnection
  | ClientConnection
  | ContainerConnection

/**
 * Where the leases live and how the container is prepared.
 *
 * @since 0.1.0
 */
export interface Placement {
  readonly databaseName: string
  readonly containerName: string
  readonly createIfMissing: boolean
  /** The partition key path asked for; `undefined` adopts the container's (and creates with `/id`). */
  readonly partitionKeyPath: string | undefined
  /** Enable TTL on a container we create (for the per-item clean-up `ttl`). */
  readonly enableTtl: boolean
  readonly providerName?: string | undefined
}

/**
 * The prepared container.
 *
 * @since 0.1.0
 */
export interface Prepared {
  readonly container: Container
  readonly location: Location
  /** The top-level document field that carries the partition key. */
  readonly partitionKeyField: string
}

/** The default partition key path. */
export const defaultPartitionKeyPath = "/id"

// Fields of the lease document: a partition key path may not reuse them (it would overwrite them with the id).
const reserved = new Set([
  "type",
  "name",
  "fence",
  "rev",
  "durationMs",
  "holderId",
  "leaseId",
  "acquiredAt",
  "brokenLeaseId",
  "metadata",
  "ttl"
])

/**
 * Why a database or container name is not a valid Cosmos id, if it is not.
 *
 * @since 0.1.0
 */
export const resourceNameProblem = (value: string): string | undefined => {
  if (value.length === 0) return "must not be empty"
  if (value.length > 255) return `must be at most 255 characters, got ${value.length}`
  if (/[/\\?#]/.test(value)) return "must not contain '/', '\\', '?' or '#'"
  if (value.trim() !== value) return "must not start or end with whitespace"
  return undefined
}

/**
 * The document field of a partition key path, or why the path is not supported.
 *
 * @since 0.1.0
 */
export const partitionKeyField = (path: string): { readonly field: string } | { readonly problem: string } => {
  const match = /^\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(path)
  if (match?.[1] === undefined) {
    return { problem: `must be a single top-level property such as "/id" or "/pk", got "${path}"` }
  }
  if (reserved.has(match[1])) return { problem: `"${path}" is a field of the lease document itself` }
  return { field: match[1] }
}

const invalid = (placement: Placement, field: string, detail: string) =>
  new InvalidLeaseOptionsError({ provider: placement.providerName ?? defaultProviderName, field, detail })

const clientOptionsWithDefaults = (options: ClientOptions | undefined): ClientOptions => ({
  userAgentSuffix: "distributed-leasing",
  ...options,
  connectionPolicy: {
    ...options?.connectionPolicy,
    retryOptions: { maxRetryAttemptCount: 0, ...options?.connectionPolicy?.retryOptions }
  }
})

const validEndpoint = (placement: Placement, endpoint: string): Effect.Effect<string, InvalidLeaseOptionsError> => {
  try {
    const url = new URL(endpoint)
    if (url.protocol === "https:" || url.protocol === "http:") return Effect.succeed(endpoint)
  } catch {
    // reported below
  }
  return Effect.fail(
    invalid(placement, "endpoint", `must be an http(s) URL such as https://<account>.documents.azure.com:443/`)
  )
}

/** Creates a client we own: disposed (timers stopped, sockets closed) when the scope closes. */
const ownClient = (
  placement: Placement,
  field: string,
  build: () => CosmosClient
): Effect.Effect<CosmosClient, InvalidLeaseOptionsError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: build,
      catch: (cause) =>
        invalid(placement, field, `the Cosmos client could not be created: ${errorShape(cause).message}`)
    }),
    (client) => Effect.sync(() => client.dispose())
  )

const openContainer = (
  connection: Connection,
  placement: Placement
): Effect.Effect<Container, InvalidLeaseOptionsError, Scope.Scope> =>
  Effect.gen(function* () {
    if ("container" in connection) return connection.container
    let client: CosmosClient
    if ("client" in connection) {
      client = connection.client
    } else if ("connectionString" in connection) {
      const options = clientOptionsWithDefaults(connection.clientOptions)
      client = yield* ownClient(
        placement,
        "connectionString",
        () => new CosmosClient({ ...options, connectionString: Redacted.value(connection.connectionString) })
      )
    } else if ("credential" in connection) {
      const endpoint = yield* validEndpoint(placement, connection.endpoint)
      const options = clientOptionsWithDefaults(connection.clientOptions)
      client = yield* ownClient(
        placement,
        "credential",
        () => new CosmosClient({ ...options, endpoint, aadCredentials: connection.credential })
      )
    } else {
      const endpoint = yield* validEndpoint(placement, connection.endpoint)
      const options = clientOptionsWithDefaults(connection.clientOptions)
      client = yield* ownClient(
        placement,
        "key",
        () => new CosmosClient({ ...options, endpoint, key: Redacted.value(connection.key) })
      )
    }
    return client.database(placement.databaseName).container(placement.containerName)
  })

/**
 * A start-up request; 404 is returned as `undefined`, anything else that fails is a connect error, except a 409
 * when `created` (the SDK's create-if-not-exists is a read then a create: another replica starting at the same
 * moment may create the resource in between, which is just as good).
 */
const startup = <A>(
  location: Location,
  providerName: string,
  run: (signal: AbortSignal) => Promise<{ readonly statusCode: number; readonly resource?: A | undefined }>,
  created = false
): Effect.Effect<A | undefined, ProviderUnavailableError> =>
  Effect.gen(function* () {
    const outcome = yield* Effect.result(Effect.tryPromise({ try: run, catch: (cause) => cause }))
    if (Result.isSuccess(outcome)) return outcome.success.statusCode === 404 ? undefined : outcome.success.resource
    const status = errorShape(outcome.failure).status
    if (status === 404 || (created && status === 409)) return undefined
    return yield* unavailable(outcome.failure, { operation: "connect", location, provider: providerName })
  })

/**
 * Opens (and, if asked, creates) the container, checks it exists and learns its partition key.
 *
 * @since 0.1.0
 */
export const prepare = (
  connection: Connection,
  placement: Placement
): Effect.Effect<Prepared, ProviderUnavailableError | InvalidLeaseOptionsError, Scope.Scope> =>
  Effect.gen(function* () {
    const providerName = placement.providerName ?? defaultProviderName
    if (!("container" in connection)) {
      for (const [field, value] of [
        ["databaseName", placement.databaseName],
        ["containerName", placement.containerName]
      ] as const) {
        const problem = resourceNameProblem(value)
        if (problem !== undefined) return yield* invalid(placement, field, `${problem}, got "${value}"`)
      }
    }
    const wanted = placement.partitionKeyPath
    if (wanted !== undefined && wanted !== defaultPartitionKeyPath) {
      const parsed = partitionKeyField(wanted)
      if ("problem" in parsed) return yield* invalid(placement, "partitionKeyPath", parsed.problem)
    }

    const container = yield* openContainer(connection, placement)
    const location: Location = { databaseName: container.database.id, containerName: container.id }

    if (placement.createIfMissing) {
      const request: ContainerRequest = {
        id: container.id,
        partitionKey: { paths: [wanted ?? defaultPartitionKeyPath], version: PartitionKeyDefinitionVersion.V2 },
        // Leases are only point-read and written by id: index nothing (id and _ts are always indexed anyway).
        indexingPolicy: {
          indexingMode: IndexingMode.consistent,
          automatic: true,
          includedPaths: [],
          excludedPaths: [{ path: "/*" }]
        },
        ...(placement.enableTtl ? { defaultTtl: -1 } : {})
      }
      const client = container.database.client
      yield* startup(
        location,
        providerName,
        (abortSignal) => client.databases.createIfNotExists({ id: location.databaseName }, { abortSignal }),
        true
      )
      yield* startup(
        location,
        providerName,
        (abortSignal) => container.database.containers.createIfNotExists(request, { abortSignal }),
        true
      )
    }

    const definition = yield* startup(location, providerName, (abortSignal) => container.read({ abortSignal }))
    if (definition === undefined) {
      const database = yield* startup(location, providerName, (abortSignal) => container.database.read({ abortSignal }))
      return yield* new ProviderUnavailableError({
        provider: providerName,
        operation: "connect",
        isRetryable: false,
        detail:
          database === undefined
            ? `database "${location.databaseName}" was not found (it should hold container "${location.containerName}"); ` +
              "create it, or pass createIfMissing: true"
            : `container "${location.containerName}" was not found in database "${location.databaseName}"; create it ` +
              `(partition key ${wanted ?? defaultPartitionKeyPath}), or pass createIfMissing: true`
      })
    }

    const key = definition.partitionKey
    const paths = key?.paths ?? []
    const actual = paths[0]
    if (
      key?.systemKey === true ||
      key?.kind === PartitionKeyKind.MultiHash ||
      paths.length !== 1 ||
      actual === undefined
    ) {
      return yield* invalid(
        placement,
        "partitionKeyPath",
        `container "${location.containerName}" is partitioned by ${JSON.stringify(paths)}` +
          (key?.kind === PartitionKeyKind.MultiHash ? " (hierarchical)" : "") +
          "; leases need a container partitioned by one top-level path, such as /id"
      )
    }
    if (wanted !== undefined && wanted !== actual) {
      return yield* invalid(
        placement,
        "partitionKeyPath",
        `container "${location.containerName}" is partitioned by "${actual}", not "${wanted}"`
      )
    }
    if (actual === defaultPartitionKeyPath) return { container, location, partitionKeyField: "id" }
    const parsed = partitionKeyField(actual)
    if ("problem" in parsed) return yield* invalid(placement, "partitionKeyPath", parsed.problem)
    return { container, location, partitionKeyField: parsed.field }
  })
