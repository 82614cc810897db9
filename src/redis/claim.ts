/**
 * `claim` on Redis: one script, one round trip, checked against the transfer token and the successor inside Redis.
 *
 * If the lease hash is a pending reservation (`pending` set) under this transfer token, reserved for this holder,
 * the script increments the fencing counter and rewrites the hash as a grant: the new lease id, the holder, the new
 * token, the grant time from the server's `TIME`, the metadata (the claim's own, or the old grant's when the claim
 * brings none) and the TTL of the lease's duration; it answers the token and the server's `PTTL`. All of it is one
 * atomic step, so nobody can slip between the reservation and the grant.
 *
 * Otherwise it says why not, as a `LeaseTransferError`:
 * - `expired`: there is no lease key any more (the claim window ran out, or an operator broke the reservation: the
 *   break's tombstone tells which, for the message);
 * - `invalid-token`: the key is not a pending reservation under this token (a wrong token, or one already claimed,
 *   or the name was taken by someone else after the reservation lapsed);
 * - `not-successor`: the reservation is for another holder.
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { LeaseTransferError, type LeaseTransferReason, ProviderUnavailableError } from "../LeaseError.ts"
import type { Acquired, ClaimRequest } from "../LeaseProvider.ts"
import { durationMillis, fields } from "./acquire.ts"
import { providerName, unexpectedReply } from "./errors.ts"
import { type KeySpace, validateName } from "./keys.ts"
import { asArray, asBigInt, asInteger, asOptionalString } from "./reply.ts"
import { type RedisClient, runScript, script } from "./script.ts"

/**
 * KEYS[1] lease hash, KEYS[2] fencing counter, KEYS[3] break tombstone.
 * ARGV[1] transfer token, ARGV[2] holder id, ARGV[3] new lease id, ARGV[4] duration in ms, ARGV[5] `1` to replace the
 * metadata with ARGV[6..] (field/value pairs), `0` to keep the old grant's.
 * Returns {1, token, pttl} when granted, {0} when the key is gone, {-3} when it was broken by an operator, {-1} when
 * it is not a pending reservation under this token, {-2, holder} when it is reserved for another holder.
 *
 * The hash is deleted and written whole, so no field of the reservation (the `pending` marker, stale metadata)
 * survives into the grant; the key never stops existing inside the script, which runs atomically.
 *
 * @since 0.1.0
 */
export const claimScript = script(
  "claim",
  3,
  `
local current = redis.call('HMGET', KEYS[1], 'id', 'holder', 'pending')
if not current[1] then
  if redis.call('GET', KEYS[3]) == ARGV[1] then
    return {-3}
  end
  return {0}
end
if current[1] ~= ARGV[1] or current[3] ~= '1' then
  return {-1}
end
if current[2] ~= ARGV[2] then
  return {-2, current[2]}
end
redis.call('INCR', KEYS[2])
-- Read the counter back as a string: Lua numbers are doubles and would round tokens above 2^53.
local token = redis.call('GET', KEYS[2])
local now = redis.call('TIME')
local at = now[1] .. string.format('%03d', math.floor(tonumber(now[2]) / 1000))
local grant = {'id', ARGV[3], 'holder', ARGV[2], 'token', token, 'at', at}
if ARGV[5] == '1' then
  for i = 6, #ARGV do grant[#grant + 1] = ARGV[i] end
else
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'm:' then
      grant[#grant + 1] = all[i]
      grant[#grant + 1] = all[i + 1]
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(grant))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, token, redis.call('PTTL', KEYS[1])}
`
)

const refuse = (request: ClaimRequest, reason: LeaseTransferReason, detail: string) =>
  new LeaseTransferError({ leaseName: request.name, reason, provider: providerName, detail })

/**
 * One claim attempt.
 *
 * @since 0.1.0
 */
export const claim =
  (client: RedisClient, keySpace: KeySpace) =>
  (request: ClaimRequest): Effect.Effect<Acquired, LeaseTransferError | ProviderUnavailableError> =>
    Effect.suspend((): Effect.Effect<Acquired, LeaseTransferError | ProviderUnavailableError> => {
      if (validateName(request.name) !== undefined) {
        return Effect.fail(refuse(request, "invalid-token", "no lease of this name can exist in Redis"))
      }
      const ms = durationMillis(request.duration)
      if (ms === undefined) {
        // The core checked the duration before claiming; this only guards direct SPI use.
        return Effect.fail(
          new ProviderUnavailableError({
            provider: providerName,
            operation: "claim",
            isRetryable: false,
            leaseName: request.name,
            leaseId: request.leaseId,
            detail: `the duration must be a finite duration of at least 1 ms, got ${Duration.format(request.duration)}`
          })
        )
      }
      const keys = keySpace.keys(request.name)
      const args: Array<string> = [
        request.transferToken,
        request.holderId,
        request.leaseId,
        String(ms),
        request.metadata === undefined ? "0" : "1"
      ]
      for (const [key, value] of Object.entries(request.metadata ?? {})) {
        args.push(`${fields.metadataPrefix}${key}`, value)
      }
      const context = { operation: "claim", leaseName: request.name, leaseId: request.leaseId } as const
      return runScript(client, claimScript, [keys.lease, keys.fence, keys.broken], args, context).pipe(
        Effect.flatMap((reply): Effect.Effect<Acquired, LeaseTransferError | ProviderUnavailableError> => {
          const array = asArray(reply)
          const code = asInteger(array?.[0])
          if (code === 1) {
            const token = asBigInt(array?.[1])
            const pttl = asInteger(array?.[2])
            if (token === undefined || pttl === undefined) return Effect.fail(unexpectedReply(reply, context))
            return Effect.succeed({
              _tag: "Acquired",
              leaseId: request.leaseId,
              fencingToken: token,
              ttl: Duration.millis(Math.max(0, pttl))
            })
          }
          if (code === 0) {
            return Effect.fail(refuse(request, "expired", "no handoff is pending: the reservation expired in Redis"))
          }
          if (code === -3) {
            return Effect.fail(refuse(request, "expired", "an operator broke the reservation before the claim"))
          }
          if (code === -1) {
            return Effect.fail(refuse(request, "invalid-token", "no pending handoff of this lease has this token"))
          }
          if (code === -2) {
            const holder = asOptionalString(array?.[1])
            return Effect.fail(
              refuse(
                request,
                "not-successor",
                `the lease was handed to ${holder === undefined ? "another holder" : `"${holder}"`}`
              )
            )
          }
          return Effect.fail(unexpectedReply(reply, context))
        })
      )
    })
