/**
 * The Redis lease provider: leases in a single Redis (or one Redis Cluster shard), one round trip per operation.
 *
 * - Acquire, renew, release, inspect, break, handoff and claim are each one Lua script (see `acquire.ts`,
 *   `renew.ts`, ...), run with `EVALSHA` (falling back to `EVAL` once after a restart). Ownership is checked inside
 *   Redis against the lease id (or the transfer token), and expiry is Redis' own TTL: no client clock decides
 *   anything.
 * - Handoff rewrites the lease hash in place as a reservation for the successor under the transfer token; the claim
 *   turns it into a grant with the next fencing token (`handoff.ts`, `claim.ts`). The key exists throughout.
 * - Every grant increments a per-name fencing counter in the same script, so tokens strictly increase across
 *   holders, releases and expiries (as long as Redis keeps its data: see `docs/providers/redis.md`).
 * - Releases are published; one subscriber connection per provider wakes waiters at once (`waitForRelease`).
 * - Connections are built by the layer (no I/O in any constructor), closed with its scope, and can authenticate
 *   with Microsoft Entra ID tokens that are refreshed before they expire.
 *
 * Constructors: `make` (scoped effect), `layer(options)` (connect from a URL or host, or `{ client }`),
 * `layerClient(client, options?)` (your own ioredis `Redis` or `Cluster`), `layerConfig(config)` (from `Config`).
 *
 * @since 0.1.0
 */

import type { Duration } from "effect"
import { Config, Effect, Layer, Option, type Redacted, type Scope } from "effect"
import { InvalidLeaseOptionsError, type ProviderUnavailableError } from "../LeaseError.ts"
import { LeaseProvider, type LeaseProviderShape } from "../LeaseProvider.ts"
import { tryAcquire } from "./acquire.ts"
import { breakLease } from "./breakLease.ts"
import { claim } from "./claim.ts"
import * as EntraAuth from "./EntraAuth.ts"
import { providerName } from "./errors.ts"
import { handoff } from "./handoff.ts"
import { inspect } from "./inspect.ts"
import { defaultPrefix, makeKeySpace, validatePrefix } from "./keys.ts"
import * as RedisConnection from "./RedisConnection.ts"
import * as ReleaseNotifier from "./ReleaseNotifier.ts"
import { release } from "./release.ts"
import { batchedRenew, renew } from "./renew.ts"
import { isCluster, type RedisClient } from "./script.ts"

export type { EntraAccessToken, EntraAuthOptions, EntraCredential } from "./EntraAuth.ts"
export { keySlot, maxNameLength } from "./keys.ts"
export type { RedisClient } from "./script.ts"

/**
 * Options that do not depend on how the connection is made.
 *
 * @since 0.1.0
 */
export interface ProviderOptions {
  /** Prefix of every key. Default `lease:`. No braces (they would change the cluster hash tag). */
  readonly keyPrefix?: string | undefined
  /**
   * Wake waiters by pub/sub when a lease is released (one extra connection per provider). Default `true`. When
   * `false`, waiters rely on sleeping until the holder's expiry, with backoff.
   */
  readonly pushWakeUp?: boolean | undefined
  /**
   * Send the renewals that fall due together in one script call (up to 256 each) instead of one call per lease.
   * Default `true`; ignored on a cluster, where every lease lives in a hash slot of its own.
   */
  readonly batchRenewals?: boolean | undefined
  /**
   * Authenticate with Microsoft Entra ID (Azure Cache for Redis): a `TokenCredential`, or `{ credential, username?,
   * scope? }`. The token is the password and its `oid` claim the username; it is refreshed before it expires and
   * the live connections are re-authenticated.
   */
  readonly credential?: EntraAuth.EntraCredential | EntraAuth.EntraAuthOptions | undefined
}

/**
 * Options of `layer` / `make` when the provider opens its own connections.
 *
 * @since 0.1.0
 */
export interface RedisLeaseProviderOptions extends RedisConnection.ConnectionOptions, ProviderOptions {}

/**
 * Options of `layer` / `make` with a client you built (and keep ownership of: it is not closed by the provider).
 *
 * @since 0.1.0
 */
export interface ClientOptions extends ProviderOptions {
  readonly client: RedisClient
}

/**
 * What `layerConfig` reads.
 *
 * @since 0.1.0
 */
export interface RedisLeaseProviderConfig {
  readonly url?: Redacted.Redacted<string> | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly db?: number | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly tls?: boolean | undefined
  readonly keyPrefix?: string | undefined
  readonly connectTimeout?: Duration.Duration | undefined
  readonly commandTimeout?: Duration.Duration | undefined
  readonly pushWakeUp?: boolean | undefined
  readonly batchRenewals?: boolean | undefined
}

const entraOptions = (
  credential: EntraAuth.EntraCredential | EntraAuth.EntraAuthOptions
): EntraAuth.EntraAuthOptions => ("getToken" in credential ? { credential } : credential)

const isClientOptions = (options: RedisLeaseProviderOptions | ClientOptions): options is ClientOptions =>
  "client" in options && options.client !== undefined

/**
 * Builds the provider in the current scope: validates the options, connects (and subscribes, unless
 * `pushWakeUp: false`), and closes what it opened when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  options: RedisLeaseProviderOptions | ClientOptions
): Effect.Effect<LeaseProviderShape, ProviderUnavailableError | InvalidLeaseOptionsError, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = options.keyPrefix ?? defaultPrefix
    const badPrefix = validatePrefix(prefix)
    if (badPrefix !== undefined) return yield* badPrefix

    let client: RedisClient
    let session: EntraAuth.EntraSession | undefined
    if (isClientOptions(options)) {
      client = options.client
      if (options.credential !== undefined) {
        session = yield* EntraAuth.make(entraOptions(options.credential))
        yield* session.attach(client, { authenticate: true })
      }
      // A client built with `lazyConnect` that nobody connected yet: connect it (with the credentials just set).
      // It stays the caller's: it is not closed with the provider.
      if (client.status === "wait") {
        const clientOptions = isCluster(client) ? client.options.redisOptions : client.options
        yield* RedisConnection.connect(client, RedisConnection.connectBound(clientOptions ?? {}))
      }
    } else {
      if (options.credential !== undefined && options.password !== undefined) {
        return yield* new InvalidLeaseOptionsError({
          provider: providerName,
          field: "credential",
          detail: "give either a password or an Entra ID credential, not both"
        })
      }
      const resolved = RedisConnection.resolveRedisOptions(options)
      if (resolved instanceof InvalidLeaseOptionsError) return yield* resolved
      if (options.credential !== undefined) {
        session = yield* EntraAuth.make(entraOptions(options.credential))
        resolved.username = session.username
        resolved.password = "" // set by attach below, before connecting
      }
      const own = yield* Effect.acquireRelease(
        Effect.sync(() => RedisConnection.construct(resolved)),
        RedisConnection.close
      )
      if (session !== undefined) yield* session.attach(own)
      yield* RedisConnection.logErrors(own, "command")
      yield* RedisConnection.connect(own, RedisConnection.connectBound(resolved))
      client = own
    }

    const keySpace = makeKeySpace(prefix)
    let notifier: ReleaseNotifier.ReleaseNotifier | undefined
    if (options.pushWakeUp !== false) {
      // `duplicate()` copies the current credentials; attaching keeps them current on the subscriber too.
      const subscriber = yield* RedisConnection.acquireDuplicate(client, "subscriber", (duplicate) =>
        session === undefined ? Effect.void : session.attach(duplicate)
      )
      notifier = yield* ReleaseNotifier.make(subscriber, keySpace.releaseChannel)
    }

    const provider: LeaseProviderShape = {
      name: providerName,
      capabilities: {
        waitForRelease: notifier !== undefined,
        handoff: true,
        metadata: true,
        clock: "store"
      },
      tryAcquire: tryAcquire(client, keySpace),
      renew:
        options.batchRenewals === false || isCluster(client) ? renew(client, keySpace) : batchedRenew(client, keySpace),
      release: release(client, keySpace),
      inspect: inspect(client, keySpace),
      breakLease: breakLease(client, keySpace),
      waitForRelease: notifier?.waitForRelease,
      handoff: handoff(client, keySpace),
      claim: claim(client, keySpace)
    }
    return provider
  })

/**
 * The provider as a layer. Connects when the layer is built; closes its connections when the layer is released.
 *
 * @since 0.1.0
 */
export const layer = (
  options: RedisLeaseProviderOptions | ClientOptions
): Layer.Layer<LeaseProvider, ProviderUnavailableError | InvalidLeaseOptionsError> =>
  Layer.effect(LeaseProvider, make(options))

/**
 * The provider over your own ioredis `Redis` or `Cluster` client. The provider never closes it; it opens one
 * duplicate for the release subscription (unless `pushWakeUp: false`) and closes that.
 *
 * For leases, a client that fails fast is safer than the ioredis defaults (which queue commands while
 * disconnected and resend them after a reconnect): consider `enableOfflineQueue: false`,
 * `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false` and a `commandTimeout`.
 *
 * @since 0.1.0
 */
export const layerClient = (
  client: RedisClient,
  options?: ProviderOptions
): Layer.Layer<LeaseProvider, ProviderUnavailableError | InvalidLeaseOptionsError> => layer({ ...options, client })

/**
 * The Redis ACL rules a least-privilege user of the provider needs with key prefix `prefix`: its keys and release
 * channel, the connection handshake, the scripts (`EVALSHA`, and `EVAL` for the fallback after a restart) and the
 * commands they run, and `SUBSCRIBE` for push wake-up. For example
 * `ACL SETUSER leaser on >secret ${aclRules().join(" ")}`.
 *
 * @since 0.1.0
 */
export const aclRules = (prefix: string = defaultPrefix): ReadonlyArray<string> => [
  "resetkeys",
  "resetchannels",
  "-@all",
  `~${prefix}*`,
  `&${prefix}released`,
  // connection: handshake (RESP3), connection name, database, ready check, close
  "+hello",
  "+auth",
  "+client|setname",
  "+select",
  "+ping",
  "+info",
  "+quit",
  // the scripts, and what they call
  "+evalsha",
  "+eval",
  "+exists",
  "+hmget",
  "+hget",
  "+hset",
  "+hgetall",
  "+pexpire",
  "+pttl",
  "+incr",
  "+get",
  "+time",
  "+del",
  "+type",
  "+set",
  "+publish",
  // push wake-up
  "+subscribe"
]

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * The default configuration: `REDIS_URL` (redacted), `REDIS_HOST`, `REDIS_PORT`, `REDIS_DB`, `REDIS_USERNAME`,
 * `REDIS_PASSWORD` (redacted), `REDIS_TLS`, `REDIS_KEY_PREFIX`, `REDIS_CONNECT_TIMEOUT`, `REDIS_COMMAND_TIMEOUT`,
 * `REDIS_PUSH_WAKE_UP`, `REDIS_BATCH_RENEWALS`; all optional.
 *
 * @since 0.1.0
 */
export const defaultConfig: Config.Config<RedisLeaseProviderConfig> = Config.all({
  url: optional(Config.Redacted("REDIS_URL")),
  host: optional(Config.String("REDIS_HOST")),
  port: optional(Config.Port("REDIS_PORT")),
  db: optional(Config.Int("REDIS_DB")),
  username: optional(Config.String("REDIS_USERNAME")),
  password: optional(Config.Redacted("REDIS_PASSWORD")),
  tls: optional(Config.Boolean("REDIS_TLS")),
  keyPrefix: optional(Config.String("REDIS_KEY_PREFIX")),
  connectTimeout: optional(Config.Duration("REDIS_CONNECT_TIMEOUT")),
  commandTimeout: optional(Config.Duration("REDIS_COMMAND_TIMEOUT")),
  pushWakeUp: optional(Config.Boolean("REDIS_PUSH_WAKE_UP")),
  batchRenewals: optional(Config.Boolean("REDIS_BATCH_RENEWALS"))
})

/**
 * The provider from `Config` (environment variables by default, see `defaultConfig`). An Entra ID credential is
 * not configuration: pass it as the second argument.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<RedisLeaseProviderConfig> = defaultConfig,
  extra?: { readonly credential?: EntraAuth.EntraCredential | EntraAuth.EntraAuthOptions | undefined }
): Layer.Layer<LeaseProvider, ProviderUnavailableError | InvalidLeaseOptionsError | Config.ConfigError> =>
  Layer.effect(
    LeaseProvider,
    Effect.gen(function* () {
      const values = yield* Config.unwrap(config)
      return yield* make({ ...values, credential: extra?.credential })
    })
  )
