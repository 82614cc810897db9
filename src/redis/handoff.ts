/**
 * `handoff` on Redis: one script, one round trip, a compare-and-swap of the owner inside Redis.
 *
 * If the lease hash still carries the holder's lease id (and is not itself a reservation), the script rewrites it
 * in place as a **reservation**: `id` becomes the transfer token, `holder` the successor, a `pending` field marks it,
 * and its TTL becomes the claim window. The key never disappears in between, so every other client keeps seeing the
 * lease as held (by the successor): `tryAcquire` answers `Held` and waiters keep waiting. The fencing counter is not
 * touched (the claim increments it); the fencing token, grant time and metadata of the old grant stay in the hash
 * until the claim replaces them.
 *
 * When the lease id no longer holds the key, the answer tells why, exactly as a renewal would: another id holds it
 * (`stolen`), an operator broke this very grant (`broken`, from the break's tombstone), or it is gone (`expired`).
 *
 * After the swap the old lease id is just a stale id: its `renew` reports `stolen` (the reservation holds the key),
 * its `release` is refused (`false`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { LeaseLostError, type ProviderUnavailableError } from "../LeaseError.ts"
import type { HandoffRequest } from "../LeaseProvider.ts"
import { durationMillis } from "./acquire.ts"
import { providerName, unexpectedReply } from "./errors.ts"
import { type KeySpace, validateName } from "./keys.ts"
import { asArray, asInteger, asOptionalString } from "./reply.ts"
import { type RedisClient, runScript, script } from "./script.ts"

/**
 * KEYS[1] lease hash, KEYS[2] break tombstone.
 * ARGV[1] lease id, ARGV[2] successor holder id, ARGV[3] transfer token, ARGV[4] claim window in ms.
 * Returns {1, pttl} when reserved, {0} when the key is gone, {-1, holder} when another lease id (or a reservation)
 * holds it, {-2} when an operator broke this very grant.
 *
 * @since 0.1.0
 */
export const handoffScript = script(
  "handoff",
  2,
  `
local current = redis.call('HMGET', KEYS[1], 'id', 'holder', 'pending')
if current[1] == ARGV[1] and not current[3] then
  redis.call('HSET', KEYS[1], 'id', ARGV[3], 'holder', ARGV[2], 'pending', '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
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

const lost = (request: HandoffRequest, reason: "expired" | "stolen" | "broken", detail: string) =>
  new LeaseLostError({ leaseName: request.name, reason, leaseId: request.leaseId, provider: providerName, detail })

/**
 * One handoff attempt.
 *
 * @since 0.1.0
 */
export const handoff =
  (client: RedisClient, keySpace: KeySpace) =>
  (request: HandoffRequest): Effect.Effect<void, LeaseLostError | ProviderUnavailableError> =>
    Effect.suspend((): Effect.Effect<void, LeaseLostError | ProviderUnavailableError> => {
      // A name that fails validation can never have been granted: whatever was "held" under it is not in Redis.
      if (validateName(request.name) !== undefined) {
        return Effect.fail(lost(request, "expired", "no lease of this name can exist in Redis"))
      }
      // The core validated the window (positive and finite); should a non-finite one slip through, a 1 ms TTL is
      // the safe side: the reservation lapses instead of blocking the name forever.
      const ms = durationMillis(request.claimWindow) ?? 1
      const context = { operation: "handoff", leaseName: request.name, leaseId: request.leaseId } as const
      const keys = keySpace.keys(request.name)
      return runScript(
        client,
        handoffScript,
        [keys.lease, keys.broken],
        [request.leaseId, request.successorHolderId, request.transferToken, String(ms)],
        context
      ).pipe(
        Effect.flatMap((reply): Effect.Effect<void, LeaseLostError | ProviderUnavailableError> => {
          const array = asArray(reply)
          const code = asInteger(array?.[0])
          if (code === 1) return Effect.void
          if (code === 0)
            return Effect.fail(lost(request, "expired", "the lease key expired in Redis before the handoff"))
          if (code === -2) return Effect.fail(lost(request, "broken", "an operator broke the lease"))
          if (code === -1) {
            const holder = asOptionalString(array?.[1])
            return Effect.fail(
              lost(
                request,
                "stolen",
                `another lease id holds it now${holder === undefined ? "" : ` (holder "${holder}")`}`
              )
            )
          }
          return Effect.fail(unexpectedReply(reply, context))
        })
      )
    })
