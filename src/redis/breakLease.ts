/**
 * `breakLease` on Redis: an operator frees a lease whoever holds it. One script, one round trip.
 *
 * It deletes the lease key only if it is a lease hash (a key of another type is not ours and is reported as
 * `WRONGTYPE`), leaves the fencing counter alone (the next grant still gets a higher token) and publishes on the
 * release channel so that waiters wake at once. It also leaves a tombstone with the evicted lease id, expiring
 * when the evicted grant would have: the evicted holder's next renewal then reports `broken`, as the memory
 * provider (the reference semantics) does, instead of a vaguer `expired`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ProviderUnavailableError } from "../LeaseError.ts"
import { unexpectedReply } from "./errors.ts"
import { type KeySpace, validateName } from "./keys.ts"
import { asInteger } from "./reply.ts"
import { type RedisClient, runScript, script } from "./script.ts"

/**
 * KEYS[1] lease hash, KEYS[2] tombstone. ARGV[1] release channel, ARGV[2] lease name.
 * Returns 1 when a holder was evicted, 0 when the lease was free.
 *
 * @since 0.1.0
 */
export const breakScript = script(
  "break",
  2,
  `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  return 0
end
if kind ~= 'hash' then
  return redis.error_reply('WRONGTYPE the key ' .. KEYS[1] .. ' is a ' .. kind .. ', not a lease')
end
local id = redis.call('HGET', KEYS[1], 'id')
local pttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
if id and pttl > 0 then
  redis.call('SET', KEYS[2], id, 'PX', pttl)
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`
)

/**
 * Breaks the lease. Returns whether a holder was evicted.
 *
 * @since 0.1.0
 */
export const breakLease =
  (client: RedisClient, keySpace: KeySpace) =>
  (name: string): Effect.Effect<boolean, ProviderUnavailableError> =>
    Effect.suspend(() => {
      // A name that fails validation can never have been granted: there is no holder to evict.
      if (validateName(name) !== undefined) return Effect.succeed(false)
      const context = { operation: "break", leaseName: name } as const
      const keys = keySpace.keys(name)
      return runScript(client, breakScript, [keys.lease, keys.broken], [keySpace.releaseChannel, name], context).pipe(
        Effect.flatMap((reply) => {
          const code = asInteger(reply)
          return code === 1 || code === 0 ? Effect.succeed(code === 1) : Effect.fail(unexpectedReply(reply, context))
        })
      )
    })
