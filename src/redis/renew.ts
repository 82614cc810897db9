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
import { providerName, toProviderError, unexpectedReply } from "./errors.ts"
import type { KeySpace } from "./keys.ts"
import { asArray, asInteger, asOptionalString } from "./reply.ts"
import { type RedisClient, runScript, runScriptPromise, script } from "./script.ts"

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
/**
 * Many renewals in one script: `KEYS` are pairs (lease key, broken marker) and `ARGV` pairs (lease id, duration in
 * ms), each checked exactly as `renewScript` does; the reply is one `renewScript` reply per pair. Only for a
 * standalone server: in a cluster each lease lives in its own hash slot, and one script cannot reach several.
 */
export const renewManyScript = script(
  "renew_many",
  0,
  `
local out = {}
for i = 1, #KEYS, 2 do
  local lease, broken, id, ms = KEYS[i], KEYS[i + 1], ARGV[i], ARGV[i + 1]
  local current = redis.call('HMGET', lease, 'id', 'holder')
  if current[1] == id then
    redis.call('PEXPIRE', lease, ms)
    out[#out + 1] = {1, redis.call('PTTL', lease)}
  elseif redis.call('EXISTS', lease) == 1 then
    out[#out + 1] = {-1, current[2]}
  elseif redis.call('GET', broken) == id then
    out[#out + 1] = {-2}
  else
    out[#out + 1] = {0}
  end
end
return out
`
)

interface RenewRequest {
  readonly name: string
  readonly leaseId: string
  readonly duration: Duration.Duration
}

type RenewContext = {
  readonly operation: "renew"
  readonly leaseName: string
  readonly leaseId: string
}

/** One `renewScript` reply (or one element of a `renewManyScript` reply) as the SPI's answer. */
const decode = (
  request: RenewRequest,
  reply: unknown,
  context: RenewContext
): Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError> => {
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
}

const contextOf = (request: RenewRequest): RenewContext => ({
  operation: "renew",
  leaseName: request.name,
  leaseId: request.leaseId
})

/**
 * `renew` of the SPI: one `renewScript` per call.
 *
 * @since 0.1.0
 */
export const renew =
  (client: RedisClient, keySpace: KeySpace) =>
  (request: RenewRequest): Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError> =>
    Effect.suspend(() => {
      // The core validated the duration when it granted the lease; a non-finite one here would be a bug upstream,
      // so fall back to a 1 ms TTL rather than an unbounded one.
      const ms = durationMillis(request.duration) ?? 1
      const context = contextOf(request)
      const keys = keySpace.keys(request.name)
      return runScript(client, renewScript, [keys.lease, keys.broken], [request.leaseId, String(ms)], context).pipe(
        Effect.flatMap((reply) => decode(request, reply, context))
      )
    })

/** The most renewals one script call carries: bounds how long the script blocks the server. */
export const maxBatch = 256

interface Pending {
  readonly request: RenewRequest
  readonly ms: number
  settle:
    | ((outcome: { readonly reply: unknown; readonly batch: number } | { readonly error: unknown }) => void)
    | undefined
}

/**
 * `renew` of the SPI, batching: renewals issued in the same turn of the event loop (the core's scheduler starts
 * every renewal that is due in one go) travel in one `renewManyScript` call, up to `maxBatch` each. With thousands
 * of leases held, one round trip per lease per renewal interval was most of the client's and the server's work. A
 * lone renewal is sent as `renewScript`, exactly as without batching. Each renewal keeps its own answer: an
 * interrupted one is dropped from a batch not yet sent, and a failed call fails every renewal it carried.
 *
 * @since 0.1.0
 */
export const batchedRenew = (
  client: RedisClient,
  keySpace: KeySpace
): ((request: RenewRequest) => Effect.Effect<Renewed, LeaseLostError | ProviderUnavailableError>) => {
  let queue: Array<Pending> = []

  const flush = () => {
    const all = queue.filter((pending) => pending.settle !== undefined)
    queue = []
    for (let start = 0; start < all.length; start += maxBatch) {
      const batch = all.slice(start, start + maxBatch)
      const keys: Array<string> = []
      const args: Array<string> = []
      for (const { request, ms } of batch) {
        const leaseKeys = keySpace.keys(request.name)
        keys.push(leaseKeys.lease, leaseKeys.broken)
        args.push(request.leaseId, String(ms))
      }
      const sent =
        batch.length === 1
          ? runScriptPromise(client, renewScript, keys, args).then((reply) => [reply])
          : runScriptPromise(client, renewManyScript, keys, args, keys.length)
      sent.then(
        (replies) => {
          const array = asArray(replies)
          for (let i = 0; i < batch.length; i++) batch[i]?.settle?.({ reply: array?.[i], batch: batch.length })
        },
        (error: unknown) => {
          for (const pending of batch) pending.settle?.({ error })
        }
      )
    }
  }

  return (request) =>
    Effect.suspend(() => {
      const ms = durationMillis(request.duration) ?? 1
      const context = contextOf(request)
      return Effect.callback<{ readonly reply: unknown; readonly batch: number }, ProviderUnavailableError>(
        (resume) => {
          const pending: Pending = {
            request,
            ms,
            settle: (outcome) => {
              pending.settle = undefined
              resume(
                "error" in outcome ? Effect.fail(toProviderError(outcome.error, context)) : Effect.succeed(outcome)
              )
            }
          }
          if (queue.length === 0) queueMicrotask(flush)
          queue.push(pending)
          return Effect.sync(() => {
            pending.settle = undefined
          })
        }
      ).pipe(
        Effect.tap(({ batch }) =>
          Effect.annotateCurrentSpan({
            "db.system": "redis",
            "db.operation": "EVALSHA",
            "lease.redis.command": batch === 1 ? `EVALSHA ${renewScript.name}` : `EVALSHA ${renewManyScript.name}`,
            "lease.redis.batch": batch
          })
        ),
        Effect.flatMap(({ reply }) => decode(request, reply, context))
      )
    })
}
