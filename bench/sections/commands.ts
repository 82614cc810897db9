/**
 * 2. Commands per operation. Each library gets a fresh, counted connection; then, on fresh names: N acquires,
 * N renewals, N releases, sequentially. For each phase, two counts divided by N:
 * - round trips: the commands the client wrote (its `sendCommand` is counted), one request and reply each;
 * - Redis commands: the `INFO commandstats` delta, which also counts the calls a Lua script makes inside Redis.
 *
 * The first operation of each kind is done before counting: it loads the scripts (an `EVALSHA` answered
 * `NOSCRIPT`, then an `EVAL`), which happens once per server start, not per operation.
 */
import type { Redis } from "ioredis"
import type { Plan } from "../lib/plan.ts"
import { commandStats, connect, countCommands, type RedisServer, statsDelta } from "../lib/redis.ts"
import { round } from "../lib/stats.ts"
import { type Held, makeOursPromise, makePeer, peerIds, type Subject } from "../lib/subjects.ts"

export interface OperationCount {
  readonly roundTrips: number
  readonly redisCommands: number
  /** Commands per operation by name, from `INFO commandstats` (script-internal calls included). */
  readonly breakdown: Readonly<Record<string, number>>
  /** Commands the client wrote, by name. */
  readonly sent: Readonly<Record<string, number>>
}

export interface CommandsRow {
  readonly label: string
  readonly acquire: OperationCount
  readonly renew: OperationCount
  readonly release: OperationCount
}

export interface CommandsResult {
  readonly opsPerPhase: number
  readonly rows: ReadonlyArray<CommandsRow>
}

const perOp = (counts: Record<string, number>, ops: number): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, round(v / ops, 2)]))

const measure = async (
  admin: Redis,
  subject: Subject,
  client: Redis,
  prefix: string,
  ops: number
): Promise<CommandsRow> => {
  const counter = countCommands(client)
  // Warm-up: loads the scripts of all three operations.
  const warm = await subject.acquire(`${prefix}:warm`)
  if (warm === null) throw new Error(`${subject.label}: warm-up acquire gave up`)
  await warm.renew()
  await warm.release()

  const held: Array<Held> = []
  const phase = async (run: () => Promise<void>): Promise<OperationCount> => {
    counter.reset()
    const before = await commandStats(admin)
    await run()
    const after = await commandStats(admin)
    const delta = statsDelta(before, after)
    const total = Object.values(delta).reduce((a, b) => a + b, 0)
    return {
      roundTrips: round(counter.count() / ops, 2),
      redisCommands: round(total / ops, 2),
      breakdown: perOp(delta, ops),
      sent: perOp(counter.byName(), ops)
    }
  }
  const acquire = await phase(async () => {
    for (let i = 0; i < ops; i++) {
      const h = await subject.acquire(`${prefix}:${i}`)
      if (h === null) throw new Error(`${subject.label}: acquire gave up`)
      held.push(h)
    }
  })
  const renew = await phase(async () => {
    for (const h of held) await h.renew()
  })
  const release = await phase(async () => {
    for (const h of held) await h.release()
  })
  return { label: subject.label, acquire, renew, release }
}

export const runCommands = async (server: RedisServer, plan: Plan): Promise<CommandsResult> => {
  const admin = await connect(server, "bench:admin")
  const rows: Array<CommandsRow> = []
  try {
    {
      // Ours on a connection we built, so that its commands can be counted (the subscriber is a duplicate).
      const client = await connect(server, "bench:commands:ours")
      const subject = await makeOursPromise(server, "commands", { client })
      try {
        rows.push(await measure(admin, subject, client, "bench:commands:ours", plan.commands.ops))
      } finally {
        await subject.close()
        await client.quit()
      }
    }
    for (const id of peerIds) {
      const subject = await makePeer(id, server, "commands")
      try {
        const client = subject.client
        if (client === undefined) throw new Error(`${id} has no client`)
        rows.push(await measure(admin, subject, client, `bench:commands:${id}`, plan.commands.ops))
      } finally {
        await subject.close()
      }
    }
  } finally {
    await admin.quit()
  }
  return { opsPerPhase: plan.commands.ops, rows }
}
