/**
 * `inspect` on Redis: one script, one round trip, reading the grant, its `PTTL` and the fencing counter together
 * (so the answer is one consistent snapshot).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { ProviderUnavailableError } from "../LeaseError.ts"
import { free, type LeaseInfo } from "../LeaseProvider.ts"
import { fields } from "./acquire.ts"
import { unexpectedReply } from "./errors.ts"
import { type KeySpace, validateName } from "./keys.ts"
import { asArray, asBigInt, asFieldMap, asInteger, asOptionalString } from "./reply.ts"
import { type RedisClient, runScript, script } from "./script.ts"

/**
 * KEYS[1] lease hash, KEYS[2] fencing counter. Returns {HGETALL, PTTL, counter}.
 *
 * @since 0.1.0
 */
export const inspectScript = script(
  "inspect",
  2,
  `
return {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2])}
`
)

/**
 * Reads what the store knows about a lease.
 *
 * @since 0.1.0
 */
export const inspect =
  (client: RedisClient, keySpace: KeySpace) =>
  (name: string): Effect.Effect<LeaseInfo, ProviderUnavailableError> =>
    Effect.suspend(() => {
      // A name that fails validation can never have been granted: it is free and has no token.
      if (validateName(name) !== undefined) return Effect.succeed(free(name, Option.none()))
      const keys = keySpace.keys(name)
      const context = { operation: "inspect", leaseName: name } as const
      return runScript(client, inspectScript, [keys.lease, keys.fence], [], context).pipe(
        Effect.flatMap((reply) => {
          const array = asArray(reply)
          const grant = asFieldMap(array?.[0])
          const pttl = asInteger(array?.[1])
          if (grant === undefined || pttl === undefined) return Effect.fail(unexpectedReply(reply, context))
          const counter = asBigInt(array?.[2])
          const leaseId = grant.get(fields.id)
          if (leaseId === undefined || pttl === -2) {
            return Effect.succeed(free(name, Option.fromUndefinedOr(counter)))
          }
          const metadata: Record<string, string> = {}
          let hasMetadata = false
          for (const [field, value] of grant) {
            if (field.startsWith(fields.metadataPrefix)) {
              metadata[field.slice(fields.metadataPrefix.length)] = value
              hasMetadata = true
            }
          }
          const acquiredAtMs = asInteger(grant.get(fields.acquiredAt))
          const remaining = pttl >= 0 ? Duration.millis(pttl) : undefined
          return Clock.currentTimeMillis.pipe(
            Effect.map(
              (now): LeaseInfo => ({
                name,
                held: true,
                holderId: asOptionalString(grant.get(fields.holder)),
                leaseId,
                fencingToken: asBigInt(grant.get(fields.token)) ?? counter,
                remaining,
                expiresAt: pttl >= 0 ? new Date(now + pttl) : undefined,
                acquiredAt: acquiredAtMs === undefined ? undefined : new Date(acquiredAtMs),
                metadata: hasMetadata ? metadata : undefined
              })
            )
          )
        })
      )
    })
