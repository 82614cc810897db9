/**
 * `tryAcquire` on Redis: one script, one round trip.
 *
 * If the lease key is absent, the script increments the fencing counter, writes the grant (lease id, holder,
 * token, grant time from the server's `TIME`, metadata) and sets its TTL to the lease's duration, all atomically;
 * it answers the new token and the server's `PTTL`. If the key is present it answers the holder and the `PTTL`, so
 * a waiter can sleep until the server-side expiry. The expiry is judged by Redis alone: no client clock is involved.
 *
 * A repeated request with the lease id that already holds the key (an attempt that timed out on our side but
 * landed) confirms that grant rather than reporting it as held by someone else. A pending handoff reservation
 * (`handoff.ts`) is never confirmed that way, even for its own id: it carries the old holder's fencing token, and only
 * a claim may turn it into a grant (with a new token).
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { InvalidLeaseOptionsError, type LeaseConflictError, type ProviderUnavailableError } from "../LeaseError.ts"
import { type AcquireRequest, type AcquireResult, acquired, held } from "../LeaseProvider.ts"
import { unexpectedReply } from "./errors.ts"
import { type KeySpace, validateName } from "./keys.ts"
import { asArray, asBigInt, asInteger, asOptionalString } from "./reply.ts"
import { type RedisClient, runScript, script } from "./script.ts"

/** Hash fields of a lease key. Metadata entries are stored as `m:<key>`. */
export const fields = {
  id: "id",
  holder: "holder",
  token: "token",
  acquiredAt: "at",
  /** Present (`1`) while the key is a handoff reservation waiting for its claim (see `handoff.ts`). */
  pending: "pending",
  metadataPrefix: "m:"
} as const

/**
 * KEYS[1] lease hash, KEYS[2] fencing counter.
 * ARGV[1] lease id, ARGV[2] holder id, ARGV[3] duration in ms, ARGV[4..] metadata field/value pairs.
 * Returns {1, token, pttl} when granted, {0, holder, pttl} when held.
 *
 * @since 0.1.0
 */
export const acquireScript = script(
  "acquire",
  2,
  `
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- HMGET fails with WRONGTYPE if the key is not a hash: not a lease of ours, never overwrite it.
  local current = redis.call('HMGET', KEYS[1], 'id', 'holder', 'token', 'pending')
  if current[1] == ARGV[1] and not current[4] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return {1, current[3], redis.call('PTTL', KEYS[1])}
  end
  return {0, current[2], redis.call('PTTL', KEYS[1])}
end
redis.call('INCR', KEYS[2])
-- Read the counter back as a string: Lua numbers are doubles and would round tokens above 2^53.
local token = redis.call('GET', KEYS[2])
local now = redis.call('TIME')
local grant = {'id', ARGV[1], 'holder', ARGV[2], 'token', token, 'at', now[1] .. string.format('%03d', math.floor(tonumber(now[2]) / 1000))}
for i = 4, #ARGV do grant[#grant + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(grant))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, token, redis.call('PTTL', KEYS[1])}
`
)

/**
 * The duration as whole milliseconds for `PEXPIRE`, rounded up: the store must never hold a grant for less time
 * than the holder believes it has.
 *
 * @since 0.1.0
 */
export const durationMillis = (duration: Duration.Duration): number | undefined => {
  if (!Duration.isFinite(duration)) return undefined
  const ms = Math.ceil(Duration.toMillis(duration))
  return ms >= 1 ? ms : undefined
}

/**
 * One acquire attempt.
 *
 * @since 0.1.0
 */
export const tryAcquire =
  (client: RedisClient, keySpace: KeySpace) =>
  (
    request: AcquireRequest
  ): Effect.Effect<AcquireResult, ProviderUnavailableError | LeaseConflictError | InvalidLeaseOptionsError> =>
    Effect.suspend((): Effect.Effect<AcquireResult, ProviderUnavailableError | InvalidLeaseOptionsError> => {
      const invalid = validateName(request.name)
      if (invalid !== undefined) return Effect.fail(invalid)
      const ms = durationMillis(request.duration)
      if (ms === undefined) {
        return Effect.fail(
          new InvalidLeaseOptionsError({
            leaseName: request.name,
            provider: "redis",
            field: "duration",
            detail: `must be a finite duration of at least 1 ms, got ${Duration.format(request.duration)}`
          })
        )
      }
      const keys = keySpace.keys(request.name)
      const args: Array<string> = [request.leaseId, request.holderId, String(ms)]
      for (const [key, value] of Object.entries(request.metadata ?? {})) {
        args.push(`${fields.metadataPrefix}${key}`, value)
      }
      const context = { operation: "acquire", leaseName: request.name, leaseId: request.leaseId } as const
      return runScript(client, acquireScript, [keys.lease, keys.fence], args, context).pipe(
        Effect.flatMap((reply) => {
          const array = asArray(reply)
          const code = asInteger(array?.[0])
          const pttl = asInteger(array?.[2])
          if (code === 1) {
            const token = asBigInt(array?.[1])
            if (token === undefined || pttl === undefined) return Effect.fail(unexpectedReply(reply, context))
            return Effect.succeed(
              acquired({ leaseId: request.leaseId, fencingToken: token, ttl: Duration.millis(Math.max(0, pttl)) })
            )
          }
          if (code === 0) {
            const holderId = asOptionalString(array?.[1])
            // PTTL is -1 for a key without expiry (not written by us) and -2 if it vanished meanwhile.
            const remaining = pttl !== undefined && pttl >= 0 ? Duration.millis(pttl) : undefined
            return Effect.succeed(held({ holderId, remaining }))
          }
          return Effect.fail(unexpectedReply(reply, context))
        })
      )
    })
