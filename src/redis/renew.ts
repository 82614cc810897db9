/**
 * `renew` on Redis: one script, one round trip, checked against the lease id inside Redis.
 *
 * The script sets the TTL to exactly the lease's duration (`PEXPIRE key duration`). It never adds to what is left
 * (the original library sent `expiresAt − acquiredAt`, which grew on every renewal: after an hour of renewals a
 * crashed holder blocked the name for about 44 hours). It tells apart a key that is gone (`expired`), a key that
 * another lease id holds (`stolen`), and a grant an operator broke (`broken`, from the break's tombstone).
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { LeaseLostError, type ProviderUnavailableError } from "../LeaseError.ts"
import type { Renewed } from "../LeaseProvider.ts"
import { durationMillis } from "./acquire.ts"
import { providerName, unexpectedReply } from "./errors.ts"
import type { KeySpace } from "./keys.ts"
import { asArray, asInteger, asOptionalString } from "./reply.ts"
import { type RedisClient, runScript, script } from "./script.ts"

/**
 * KEYS[1] lease hash, KEYS[2] break tombstone. ARGV[1] lease id, ARGV[2] duration in ms.
 * Returns {1, pttl} when renewed, {0} when the key is gone, {-1, holder} when another lease id holds it, {-2} when
 * an operator broke this very grant.
 *
 * @since 0.1.0
 */
export const renewScript = script(
  "renew",
  2,
  `
local current = redis.call('HMGET', KEYS[1], 'id', 'holder')
if current[1] == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('PTTL', KEYS[1])}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1, current[2]}
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return {-2}
end
return {0}
`
)

/**
 * One renewal attempt.
 *
 * @since 0.1.0
 */
export const renew =
  (client: RedisClient, keySpace: KeySpace) =>
  (request: {
    readonly name: string
    readonly leaseId: string
    readonly duration: Duration.Duration
  }): Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError> =>
    Effect.suspend(() => {
      // The core validated the duration when it granted the lease; a non-finite one here would be a bug upstream,
      // so fall back to a 1 ms TTL rather than an unbounded one.
      const ms = durationMillis(request.duration) ?? 1
      const context = { operation: "renew", leaseName: request.name, leaseId: request.leaseId } as const
      const keys = keySpace.keys(request.name)
      return runScript(client, renewScript, [keys.lease, keys.broken], [request.leaseId, String(ms)], context).pipe(
        Effect.flatMap((reply): Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError> => {
          const array = asArray(reply)
          const code = asInteger(array?.[0])
          if (code === 1) {
            const pttl = asInteger(array?.[1])
            if (pttl === undefined) return Effect.fail(unexpectedReply(reply, context))
            return Effect.succeed({ ttl: Duration.millis(Math.max(0, pttl)) })
          }
          if (code === 0) {
            return Effect.fail(
              new LeaseLostError({
                leaseName: request.name,
                reason: "expired",
                leaseId: request.leaseId,
                provider: providerName,
                detail: "the lease key expired in Redis before this renewal arrived"
              })
            )
          }
          if (code === -2) {
            return Effect.fail(
              new LeaseLostError({
                leaseName: request.name,
                reason: "broken",
                leaseId: request.leaseId,
                provider: providerName,
                detail: "an operator broke the lease"
              })
            )
          }
          if (code === -1) {
            const holder = asOptionalString(array?.[1])
            return Effect.fail(
              new LeaseLostError({
                leaseName: request.name,
                reason: "stolen",
                leaseId: request.leaseId,
                provider: providerName,
                detail: `another lease id holds it now${holder === undefined ? "" : ` (holder "${holder}")`}`
              })
            )
          }
          return Effect.fail(unexpectedReply(reply, context))
        })
      )
    })
