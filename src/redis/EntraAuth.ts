/**
 * Microsoft Entra ID authentication for Azure Cache for Redis (and Azure Managed Redis).
 *
 * Azure takes an Entra access token for the scope `https://redis.azure.com/.default` as the password, and the
 * object id of the identity (the token's `oid` claim) as the username. Tokens live about an hour; Azure closes a
 * connection whose token expired unless it was re-authenticated. The original library fetched one token at start-up
 * and never again, and set no username: its connections died after an hour, and every reconnect after that failed.
 *
 * Here a session fetches the first token before any connection is made, then a fiber in the provider's scope
 * refreshes it ahead of expiry (at `refreshAfterTimestamp` if the credential gives one, else when a quarter of
 * the lifetime, at most 5 minutes, is left). Each new token is
 * - written into the options of every attached client, so that reconnects (and cluster nodes created later) use
 *   it, and
 * - sent with `AUTH <oid> <token>` on every live connection (the command connection and the subscriber, which
 *   RESP3 allows in subscriber mode; every node of a cluster).
 * A failed refresh is retried with backoff; the old token keeps working until it expires.
 *
 * The credential is any `@azure/core-auth` `TokenCredential` (`DefaultAzureCredential`,
 * `ManagedIdentityCredential`, ...): only its `getToken` is used, so this module does not import Azure packages.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Redacted, type Scope } from "effect"
import type { Redis } from "ioredis"
import { InvalidLeaseOptionsError, ProviderUnavailableError } from "../LeaseError.ts"
import { classify, providerName, redactCause } from "./errors.ts"
import { isCluster, type RedisClient } from "./script.ts"

/**
 * The scope of Azure Cache for Redis data-plane tokens.
 *
 * @since 0.1.0
 */
export const redisScope = "https://redis.azure.com/.default"

/**
 * An access token as `@azure/core-auth` returns it.
 *
 * @since 0.1.0
 */
export interface EntraAccessToken {
  readonly token: string
  /** Expiry, in milliseconds since the epoch. */
  readonly expiresOnTimestamp: number
  /** When the credential suggests refreshing, in milliseconds since the epoch. */
  readonly refreshAfterTimestamp?: number | undefined
}

/**
 * The part of an `@azure/core-auth` `TokenCredential` the provider uses. Every Azure credential satisfies it.
 *
 * @since 0.1.0
 */
export interface EntraCredential {
  getToken(
    scopes: string | Array<string>,
    options?: { readonly abortSignal?: AbortSignal }
  ): Promise<EntraAccessToken | null>
}

/**
 * Options of Entra ID authentication.
 *
 * @since 0.1.0
 */
export interface EntraAuthOptions {
  readonly credential: EntraCredential
  /**
   * The Redis username. Default: the token's `oid` claim, which is what Azure expects for users, service
   * principals and managed identities.
   */
  readonly username?: string | undefined
  /** The token scope. Default `https://redis.azure.com/.default`. */
  readonly scope?: string | undefined
}

/**
 * A live Entra ID session: the current credentials and the clients that follow them.
 *
 * @since 0.1.0
 */
export interface EntraSession {
  readonly username: string
  /** The current token. */
  readonly password: () => Redacted.Redacted<string>
  /** When the current token expires (ms since the epoch). */
  readonly expiresOn: () => number
  /** How many tokens were fetched so far (the first one included). */
  readonly refreshes: () => number
  /**
   * Puts the current credentials on `client` and keeps them there on every refresh. With `authenticate`, also
   * sends `AUTH` now (for a client that is already connected, such as one the user passed in).
   */
  readonly attach: (client: RedisClient, options?: { readonly authenticate?: boolean }) => Effect.Effect<void>
}

/**
 * Reads the object id (`oid` claim) from an access token (a JWT). Returns `undefined` if the token is not a JWT or
 * has no `oid`. The signature is not checked: the token comes from the credential, and Redis checks it.
 *
 * @since 0.1.0
 */
export const objectIdOf = (token: string): string | undefined => {
  const payload = token.split(".")[1]
  if (payload === undefined || payload.length === 0) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
    if (typeof claims !== "object" || claims === null || !("oid" in claims)) return undefined
    return typeof claims.oid === "string" && claims.oid.length > 0 ? claims.oid : undefined
  } catch {
    return undefined
  }
}

/**
 * Milliseconds from `now` until the token should be refreshed: at `refreshAfterTimestamp` if given and earlier,
 * else when a quarter of the remaining lifetime (at most 5 minutes) is left. An hour-long token is refreshed
 * 5 minutes before it expires; a 2-second test token after 1.5 seconds.
 *
 * @since 0.1.0
 */
export const refreshDelay = (token: EntraAccessToken, now: number): number => {
  const lifetime = Math.max(0, token.expiresOnTimestamp - now)
  let at = token.expiresOnTimestamp - Math.min(lifetime / 4, 5 * 60_000)
  if (token.refreshAfterTimestamp !== undefined && token.refreshAfterTimestamp < at) at = token.refreshAfterTimestamp
  return Math.max(0, Math.floor(at - now))
}

/** After a failed refresh: try again soon, but not in a hot loop (between 250 ms and 30 s). */
const retryDelay = (expiresOn: number, now: number): number =>
  Math.min(30_000, Math.max(250, Math.floor((expiresOn - now) / 4)))

const fetchToken = (options: EntraAuthOptions): Effect.Effect<EntraAccessToken, ProviderUnavailableError> =>
  Effect.tryPromise({
    try: (signal) => options.credential.getToken(options.scope ?? redisScope, { abortSignal: signal }),
    catch: (cause) =>
      new ProviderUnavailableError({
        provider: providerName,
        operation: "connect",
        isRetryable: true,
        detail: `could not get a Microsoft Entra ID token for ${options.scope ?? redisScope}: ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        cause
      })
  }).pipe(
    Effect.flatMap((token) =>
      token === null || token.token.length === 0
        ? Effect.fail(
            new ProviderUnavailableError({
              provider: providerName,
              operation: "connect",
              isRetryable: false,
              detail: `the credential returned no Microsoft Entra ID token for ${options.scope ?? redisScope}`
            })
          )
        : Effect.succeed(token)
    )
  )

// Writes credentials where ioredis reads them on (re)connect.
const setOptions = (client: Redis, username: string, password: string) => {
  client.options.username = username
  client.options.password = password
}

// AUTH on a connection that is up. A connection that is down will use the new options when it reconnects.
const authenticate = (client: Redis, username: string, password: string): Effect.Effect<void> =>
  client.status !== "ready"
    ? Effect.void
    : Effect.tryPromise({ try: () => client.auth(username, password), catch: redactCause }).pipe(
        Effect.catch((error) =>
          Effect.logWarning("Redis AUTH with a refreshed Microsoft Entra ID token failed", classify(error).detail)
        )
      )

/**
 * Starts an Entra ID session: fetches the first token (failing if there is none), and forks the refresh loop into
 * the current scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: EntraAuthOptions
): Effect.Effect<EntraSession, ProviderUnavailableError | InvalidLeaseOptionsError, Scope.Scope> =>
  Effect.gen(function* () {
    const first = yield* fetchToken(options)
    const username = options.username ?? objectIdOf(first.token)
    if (username === undefined) {
      return yield* new InvalidLeaseOptionsError({
        provider: providerName,
        field: "credential",
        detail:
          "the Microsoft Entra ID token has no `oid` claim to use as the Redis username; " +
          "pass `username` (the object id of the identity) explicitly"
      })
    }
    let current = first
    let password = Redacted.make(first.token, { label: "EntraToken" })
    let count = 1
    const clients = new Set<RedisClient>()
    const nodeHooks: Array<() => void> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const remove of nodeHooks) remove()
      })
    )

    const nodesOf = (client: RedisClient): ReadonlyArray<Redis> => (isCluster(client) ? client.nodes("all") : [client])

    const applyTo = (client: RedisClient, auth: boolean): Effect.Effect<void> =>
      Effect.suspend(() => {
        const secret = Redacted.value(password)
        if (isCluster(client)) {
          // New node connections of a cluster are built from `redisOptions`.
          client.options.redisOptions = { ...client.options.redisOptions, username, password: secret }
        }
        const nodes = nodesOf(client)
        for (const node of nodes) setOptions(node, username, secret)
        return auth
          ? Effect.forEach(nodes, (node) => authenticate(node, username, secret), {
              discard: true,
              concurrency: "unbounded"
            })
          : Effect.void
      })

    const attach = (client: RedisClient, attachOptions?: { readonly authenticate?: boolean }) =>
      Effect.suspend(() => {
        if (!clients.has(client)) {
          clients.add(client)
          if (isCluster(client)) {
            // The cluster's connection pool copied `redisOptions` when it was built: patch each node it creates.
            const onNode = (node: Redis) => setOptions(node, username, Redacted.value(password))
            client.on("+node", onNode)
            nodeHooks.push(() => client.off("+node", onNode))
          }
        }
        return applyTo(client, attachOptions?.authenticate === true)
      })

    const refreshOnce: Effect.Effect<void> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.sleep(Duration.millis(refreshDelay(current, now)))
      let next: EntraAccessToken | undefined
      while (next === undefined) {
        const attempt = yield* Effect.result(fetchToken(options).pipe(Effect.timeout("30 seconds")))
        const after = yield* Clock.currentTimeMillis
        if (attempt._tag === "Success" && attempt.success.expiresOnTimestamp > current.expiresOnTimestamp) {
          next = attempt.success
        } else {
          // A failure, or a credential that handed back its cached token: try again a little later.
          if (attempt._tag === "Failure") {
            yield* Effect.logWarning(
              "Refreshing the Microsoft Entra ID token for Redis failed; will retry",
              attempt.failure
            )
          }
          yield* Effect.sleep(Duration.millis(retryDelay(current.expiresOnTimestamp, after)))
        }
      }
      current = next
      password = Redacted.make(next.token, { label: "EntraToken" })
      count++
      yield* Effect.forEach(clients, (client) => applyTo(client, true), { discard: true })
      yield* Effect.logDebug("Microsoft Entra ID token for Redis refreshed", {
        username,
        expiresOn: new Date(next.expiresOnTimestamp).toISOString()
      })
    })

    yield* Effect.forkScoped(Effect.forever(refreshOnce))

    const session: EntraSession = {
      username,
      password: () => password,
      expiresOn: () => current.expiresOnTimestamp,
      refreshes: () => count,
      attach
    }
    return session
  })
