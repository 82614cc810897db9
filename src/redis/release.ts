/**
 * `release` on Redis: one script, one round trip, checked against the lease id inside Redis.
 *
 * The key is deleted only if our lease id still holds it, so a holder whose lease expired and was taken over can
 * never free the new holder's lease. A successful release publishes the lease name on the release channel, which
 * wakes waiters at once (see `ReleaseNotifier`).
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
 * KEYS[1] lease hash. ARGV[1] lease id, ARGV[2] release channel, ARGV[3] lease name.
 * Returns 1 when released, 0 when the key is gone or held by another lease id.
 *
 * @since 0.1.0
 */
export const releaseScript = script(
  "release",
  1,
  `
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`
)

/**
 * One release attempt. Returns whether our lease id was holding the lease.
 *
 * @since 0.1.0
 */
export const release =
  (client: RedisClient, keySpace: KeySpace) =>
  (request: { readonly name: string; readonly leaseId: string }): Effect.Effect<boolean, ProviderUnavailableError> =>
    Effect.suspend(() => {
      // A name that fails validation can never have been granted, so there is nothing of ours to free.
      if (validateName(request.name) !== undefined) return Effect.succeed(false)
      const context = { operation: "release", leaseName: request.name, leaseId: request.leaseId } as const
      return runScript(
        client,
        releaseScript,
        [keySpace.keys(request.name).lease],
        [request.leaseId, keySpace.releaseChannel, request.name],
        context
      ).pipe(
        Effect.flatMap((reply) => {
          const code = asInteger(reply)
          return code === 1 || code === 0 ? Effect.succeed(code === 1) : Effect.fail(unexpectedReply(reply, context))
        })
      )
    })
