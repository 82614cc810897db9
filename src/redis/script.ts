/**
 * Running a Lua script in one round trip: `EVALSHA`, and `EVAL` only when the server answers `NOSCRIPT`.
 *
 * The script cache of a server is empty after a restart or a failover (and `SCRIPT FLUSH` empties it), so the
 * first call after that costs a second round trip; every other call is one. This works the same on a standalone
 * `Redis` and on a `Cluster` client (which routes the call to the node owning the first key), and it does not
 * touch the user's client (unlike ioredis `defineCommand`, which adds methods to it).
 *
 * User strings (names, ids, holders, metadata) only ever travel as `KEYS` and `ARGV`: the Lua sources are
 * constants of this package.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import type { Cluster, Redis } from "ioredis"
import type { LeaseOperation, ProviderUnavailableError } from "../LeaseError.ts"
import { toProviderError } from "./errors.ts"

/**
 * The client the provider talks to: a standalone connection or a cluster.
 *
 * @since 0.1.0
 */
export type RedisClient = Redis | Cluster

/**
 * Whether the client is a cluster (by ioredis' own flag, so a client from another copy of ioredis works too).
 *
 * @since 0.1.0
 */
export const isCluster = (client: RedisClient): client is Cluster => client.isCluster

/**
 * A Lua script with its SHA-1, computed once.
 *
 * @since 0.1.0
 */
export interface Script {
  readonly name: string
  readonly lua: string
  readonly sha: string
  readonly numberOfKeys: number
}

/**
 * Declares a script.
 *
 * @since 0.1.0
 */
export const script = (name: string, numberOfKeys: number, lua: string): Script => ({
  name,
  lua,
  numberOfKeys,
  sha: createHash("sha1").update(lua).digest("hex")
})

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith("NOSCRIPT")

/**
 * Runs a script against the client, as a Promise (no Effect): `EVALSHA`, then `EVAL` on `NOSCRIPT`. A script that
 * takes a variable number of keys (`renew_many`) passes `numberOfKeys`.
 *
 * @since 0.1.0
 */
export const runScriptPromise = async (
  client: RedisClient,
  s: Script,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string>,
  numberOfKeys: number = s.numberOfKeys
): Promise<unknown> => {
  try {
    return await client.evalsha(s.sha, numberOfKeys, ...keys, ...args)
  } catch (error) {
    if (!isNoScript(error)) throw error
    // EVAL also caches the script, so the next EVALSHA (on this node) finds it.
    return await client.eval(s.lua, numberOfKeys, ...keys, ...args)
  }
}

/**
 * Runs a script and maps any failure into `ProviderUnavailableError`.
 *
 * The Redis command cannot be taken back once written: interrupting the returned effect only stops waiting for
 * the reply. That is why the provider's connections fail fast instead of queueing (see `RedisConnection`).
 *
 * @since 0.1.0
 */
export const runScript = (
  client: RedisClient,
  s: Script,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string>,
  context: {
    readonly operation: LeaseOperation
    readonly leaseName?: string | undefined
    readonly leaseId?: string | undefined
  }
): Effect.Effect<unknown, ProviderUnavailableError> =>
  // The command goes on the store call's span (`lease.provider.<op>`), as OpenTelemetry's database conventions do.
  Effect.annotateCurrentSpan({
    "db.system": "redis",
    "db.operation": "EVALSHA",
    "lease.redis.command": `EVALSHA ${s.name}`
  }).pipe(
    Effect.andThen(
      Effect.tryPromise({
        try: () => runScriptPromise(client, s, keys, args),
        catch: (cause) => toProviderError(cause, context)
      })
    )
  )
