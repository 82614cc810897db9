/**
 * The private redis-server of a run, and what the benchmark asks it: command statistics and round-trip counts.
 */
import { Redis } from "ioredis"
import { type RedisServer, startRedisServer } from "../../test/support/redisServer.ts"

export type { RedisServer }

/** Starts a private redis-server on a free port (never the system one), as the test suites do. */
export const startServer = (): Promise<RedisServer> => startRedisServer()

/** A plain ioredis connection with the client's own defaults, as a peer's user would create it. */
export const connect = async (server: RedisServer, name: string): Promise<Redis> => {
  const client = new Redis({ host: server.host, port: server.port, connectionName: name, lazyConnect: true })
  await client.connect()
  return client
}

/** `INFO commandstats` as `{ command: calls }`. */
export const commandStats = async (admin: Redis): Promise<Record<string, number>> => {
  const text = await admin.info("commandstats")
  const stats: Record<string, number> = {}
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const [, command, calls] = match
    if (command !== undefined && calls !== undefined) stats[command] = Number(calls)
  }
  return stats
}

/** Commands the benchmark itself sends to read or reset the statistics, left out of every delta. */
const ownCommands = new Set(["info", "config|resetstat", "ping", "client|setname", "client|list"])

/** `after − before`, without the benchmark's own commands and without zero entries. */
export const statsDelta = (before: Record<string, number>, after: Record<string, number>): Record<string, number> => {
  const delta: Record<string, number> = {}
  for (const [command, calls] of Object.entries(after)) {
    if (ownCommands.has(command)) continue
    const d = calls - (before[command] ?? 0)
    if (d !== 0) delta[command] = d
  }
  return delta
}

/**
 * Counts the commands a client writes (each one a request and a reply: a round trip when they are sent one after
 * another), by wrapping its `sendCommand`. Script-internal calls are not commands the client sends, so this tells
 * round trips apart from the `INFO commandstats` totals, which count the calls made inside Lua scripts too.
 */
export interface CommandCounter {
  readonly count: () => number
  readonly byName: () => Record<string, number>
  readonly reset: () => void
}

export const countCommands = (client: Redis): CommandCounter => {
  let total = 0
  let names: Record<string, number> = {}
  const original = client.sendCommand.bind(client)
  client.sendCommand = (command, stream) => {
    total++
    names[command.name] = (names[command.name] ?? 0) + 1
    return original(command, stream)
  }
  return {
    count: () => total,
    byName: () => ({ ...names }),
    reset: () => {
      total = 0
      names = {}
    }
  }
}
