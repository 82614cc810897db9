/**
 * The provider's Redis connections: resolving options, building clients, connecting and closing them.
 *
 * Construction does no I/O (`lazyConnect`); the connection is opened by an effect run while the provider's layer
 * is built, and closed (`QUIT`, then a hard disconnect) when its scope closes. A client passed in by the user is
 * never closed by us, but its duplicate (the subscriber) is ours.
 *
 * Clients built here **fail fast instead of queueing**: no offline queue, no retry of a request across a
 * reconnect, no resend of unanswered commands after one. A lease command that is sent late is worse than one that
 * fails: an acquire that lands after its caller gave up holds a lease nobody knows about, and a renewal of a lease
 * its holder already declared lost extends it for nobody. The core retries with its own schedule and deadlines.
 *
 * @since 0.1.0
 */
import type { ConnectionOptions as TlsOptions } from "node:tls"
import { Duration, Effect, Redacted, type Scope } from "effect"
import { Redis, type RedisOptions } from "ioredis"
import { InvalidLeaseOptionsError, ProviderUnavailableError } from "../LeaseError.ts"
import { classify, providerName, redactCause, toProviderError } from "./errors.ts"
import { isCluster, type RedisClient } from "./script.ts"

/**
 * How to reach the server.
 *
 * @since 0.1.0
 */
export interface ConnectionOptions {
  /**
   * `redis://[[username][:password]@]host[:port][/db]`, or `rediss://` for TLS. Pass it as `Redacted` when it
   * carries a password. Explicit options below override its parts.
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** Default `127.0.0.1` (when no URL is given). */
  readonly host?: string | undefined
  /** Default 6379. Azure Cache for Redis listens for TLS on 6380. */
  readonly port?: number | undefined
  /** Database index. Default 0. */
  readonly db?: number | undefined
  /** ACL username (Redis 6+). */
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** `true` for TLS with the host as server name, or Node `tls.connect` options. Default: `true` for `rediss://`. */
  readonly tls?: boolean | TlsOptions | undefined
  /** Bound on establishing a connection. Default 5 s. */
  readonly connectTimeout?: Duration.Input | undefined
  /** Bound on one command, after which it fails as retryable. Default 5 s. */
  readonly commandTimeout?: Duration.Input | undefined
  /** Longest pause between reconnection attempts (they back off from 50 ms). Default 2 s. */
  readonly maxReconnectDelay?: Duration.Input | undefined
  /** `CLIENT SETNAME` of the connections. Default `distributed-leasing`. */
  readonly connectionName?: string | undefined
  /** Extra ioredis options, applied last (an escape hatch: the fail-fast settings above are deliberate). */
  readonly redisOptions?: RedisOptions | undefined
}

const invalid = (field: string, detail: string) =>
  new InvalidLeaseOptionsError({ provider: providerName, field, detail })

const millisOf = (
  field: string,
  input: Duration.Input | undefined,
  fallback: number
): number | InvalidLeaseOptionsError => {
  if (input === undefined) return fallback
  let ms: number
  try {
    ms = Duration.toMillis(input)
  } catch {
    return invalid(field, `is not a duration: ${String(input)}`)
  }
  if (!Number.isFinite(ms) || ms <= 0)
    return invalid(field, `must be a positive, finite duration, got ${String(input)}`)
  return Math.ceil(ms)
}

interface UrlParts {
  host?: string
  port?: number
  db?: number
  username?: string
  password?: string
  tls?: boolean
}

const parseUrl = (raw: string): UrlParts | InvalidLeaseOptionsError => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // Never echo the URL: it may carry a password.
    return invalid("url", "is not a valid URL (expected redis://host:port or rediss://host:port)")
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return invalid("url", `must use redis:// or rediss://, got ${url.protocol}//`)
  }
  const parts: UrlParts = { tls: url.protocol === "rediss:" }
  if (url.hostname.length > 0) parts.host = url.hostname.replace(/^\[(.*)\]$/, "$1")
  if (url.port.length > 0) parts.port = Number(url.port)
  if (url.username.length > 0) parts.username = decodeURIComponent(url.username)
  if (url.password.length > 0) parts.password = decodeURIComponent(url.password)
  const path = url.pathname.replace(/^\//, "")
  if (path.length > 0) {
    if (!/^\d+$/.test(path)) return invalid("url", `the path must be a database number, got "/${path}"`)
    parts.db = Number(path)
  }
  return parts
}

/**
 * Turns the options into ioredis options (pure; no I/O). Secrets are unwrapped here, at the last moment, because
 * ioredis wants strings.
 *
 * @since 0.1.0
 */
export const resolveRedisOptions = (options: ConnectionOptions): RedisOptions | InvalidLeaseOptionsError => {
  const fromUrl: UrlParts = {}
  if (options.url !== undefined) {
    const parsed = parseUrl(Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url)
    if (parsed instanceof InvalidLeaseOptionsError) return parsed
    Object.assign(fromUrl, parsed)
  }
  const host = options.host ?? fromUrl.host ?? "127.0.0.1"
  const port = options.port ?? fromUrl.port ?? 6379
  if (!Number.isInteger(port) || port < 1 || port > 65535) return invalid("port", `must be 1-65535, got ${port}`)
  const db = options.db ?? fromUrl.db ?? 0
  if (!Number.isInteger(db) || db < 0) return invalid("db", `must be a non-negative integer, got ${db}`)
  const connectTimeout = millisOf("connectTimeout", options.connectTimeout, 5_000)
  if (connectTimeout instanceof InvalidLeaseOptionsError) return connectTimeout
  const commandTimeout = millisOf("commandTimeout", options.commandTimeout, 5_000)
  if (commandTimeout instanceof InvalidLeaseOptionsError) return commandTimeout
  const maxReconnectDelay = millisOf("maxReconnectDelay", options.maxReconnectDelay, 2_000)
  if (maxReconnectDelay instanceof InvalidLeaseOptionsError) return maxReconnectDelay

  const tlsOption = options.tls ?? fromUrl.tls ?? false
  const tls: TlsOptions | undefined =
    tlsOption === false ? undefined : tlsOption === true ? { servername: host } : { servername: host, ...tlsOption }
  const username = options.username ?? fromUrl.username
  const password = options.password !== undefined ? Redacted.value(options.password) : fromUrl.password

  const resolved: RedisOptions = {
    host,
    port,
    db,
    connectTimeout,
    commandTimeout,
    connectionName: options.connectionName ?? "distributed-leasing",
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(times * 50, maxReconnectDelay),
    ...(tls === undefined ? {} : { tls }),
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...options.redisOptions
  }
  return resolved
}

/**
 * Closes a client: `QUIT` if it is up (bounded to 1 s), then a hard disconnect that also stops reconnecting.
 *
 * @since 0.1.0
 */
export const close = (client: RedisClient): Effect.Effect<void> =>
  Effect.suspend(() =>
    client.status === "ready"
      ? Effect.tryPromise(() => client.quit()).pipe(Effect.timeout("1 second"), Effect.ignore)
      : Effect.void
  ).pipe(Effect.ensuring(Effect.sync(() => client.disconnect())))

/**
 * Logs the client's `error` events (at debug level: each failed command already reports its own error) so that a
 * server that is down never produces ioredis' "Unhandled error event" output.
 *
 * @since 0.1.0
 */
export const logErrors = (client: RedisClient, role: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<never>()
    const onError = (error: unknown) => {
      Effect.runForkWith(context)(
        Effect.logDebug(`Redis ${role} connection error`, classify(error).detail).pipe(
          Effect.annotateLogs({ provider: providerName })
        )
      )
    }
    client.on("error", onError)
    yield* Effect.addFinalizer(() => Effect.sync(() => client.off("error", onError)))
  })

/**
 * Opens the connection of a client built with `lazyConnect`, bounded by `timeout`. On failure the error is the
 * last socket or server error seen (e.g. `ECONNREFUSED`, `WRONGPASS`), not ioredis' generic "Connection is closed".
 *
 * @since 0.1.0
 */
export const connect = (client: RedisClient, timeout: Duration.Input): Effect.Effect<void, ProviderUnavailableError> =>
  Effect.suspend(() => {
    let lastError: unknown
    const onError = (error: unknown) => {
      lastError = error
    }
    client.on("error", onError)
    return Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => toProviderError(lastError ?? cause, { operation: "connect" })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new ProviderUnavailableError({
              provider: providerName,
              operation: "connect",
              isRetryable: true,
              detail: `could not connect within ${Duration.format(Duration.fromInputUnsafe(timeout))}${
                lastError === undefined ? "" : `: ${classify(lastError).detail}`
              }`,
              cause: redactCause(lastError)
            })
          )
      }),
      Effect.ensuring(Effect.sync(() => client.off("error", onError)))
    )
  })

/**
 * A standalone client for resolved options. Pure construction: `lazyConnect` means no I/O until `connect`.
 *
 * @since 0.1.0
 */
export const construct = (redisOptions: RedisOptions): Redis =>
  // The scripts' replies are decoded in the legacy (RESP2-shaped) mapping, whatever `redisOptions` says.
  new Redis({ ...redisOptions, replyMapping: "legacy" })

/**
 * A second connection like `client` (for the subscriber), connected, closed with the scope. Works for a user's
 * client too: the duplicate is ours even when the original is not. `beforeConnect` runs on the new client before it
 * connects (to put fresh credentials on it).
 *
 * @since 0.1.0
 */
export const acquireDuplicate = (
  client: RedisClient,
  role: string,
  beforeConnect: (duplicate: RedisClient) => Effect.Effect<void>
): Effect.Effect<RedisClient, ProviderUnavailableError, Scope.Scope> =>
  Effect.gen(function* () {
    const duplicate = yield* Effect.acquireRelease(
      Effect.sync(
        (): RedisClient =>
          isCluster(client)
            ? client.duplicate(undefined, { lazyConnect: true })
            : client.duplicate({
                lazyConnect: true,
                // The subscription must come back after a reconnect, whatever the original client says.
                autoResubscribe: true,
                connectionName: `${client.options.connectionName ?? "distributed-leasing"}:${role}`
              })
      ),
      close
    )
    yield* beforeConnect(duplicate)
    yield* logErrors(duplicate, role)
    const options = isCluster(duplicate) ? duplicate.options.redisOptions : duplicate.options
    yield* connect(duplicate, connectBound(options ?? {}))
    return duplicate
  })

/**
 * The bound on a whole connect (TCP, TLS, HELLO/AUTH, ready check): `connectTimeout + commandTimeout`.
 *
 * @since 0.1.0
 */
export const connectBound = (options: {
  readonly connectTimeout?: number | undefined
  readonly commandTimeout?: number | undefined
}): Duration.Duration => Duration.millis((options.connectTimeout ?? 10_000) + (options.commandTimeout ?? 5_000))
