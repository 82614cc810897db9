/**
 * Shared fixtures of the Redis tests: a private server per file, raw ioredis clients for looking behind the
 * provider's back, and counters of what was sent.
 */
import { randomUUID } from "node:crypto"
import { Context, Duration, Effect, Exit, Layer, Scope } from "effect"
import { Redis, type RedisOptions } from "ioredis"
import { afterAll, beforeAll } from "vitest"
import { LeaseProvider, type LeaseProviderShape } from "../../src/LeaseProvider.ts"
import { type RedisServer, type RedisServerOptions, startRedisServer } from "../support/redisServer.ts"

/** Starts a private server before the file's tests and stops it after them. */
export const useRedisServer = (options?: RedisServerOptions): (() => RedisServer) => {
  let server: RedisServer | undefined
  beforeAll(async () => {
    server = await startRedisServer(options)
  })
  afterAll(async () => {
    await server?.close()
  })
  return () => {
    if (server === undefined) throw new Error("the redis-server of this file is not running (beforeAll failed?)")
    return server
  }
}

/** A connected raw client, closed with the scope. Its errors are swallowed (the server may be down on purpose). */
export const rawClient = (server: RedisServer, options: RedisOptions = {}): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Redis({
        ...options,
        host: server.host,
        port: server.port,
        lazyConnect: true,
        replyMapping: "legacy"
      })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) =>
      Effect.promise(() =>
        client.quit().then(
          () => undefined,
          () => client.disconnect()
        )
      )
  )

/** A fresh lease name, unique per test. */
export const uniqueName = (label: string): string => `${label}/${randomUUID().slice(0, 8)}`

/** Server-side calls of each command so far (`INFO commandstats`), e.g. `{ evalsha: 3, eval: 1 }`. */
export const commandCalls = (client: Redis): Effect.Effect<Record<string, number>> =>
  Effect.promise(async () => {
    const info = await client.info("commandstats")
    const out: Record<string, number> = {}
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const [, command, calls] = match
      if (command !== undefined && calls !== undefined) out[command] = Number(calls)
    }
    return out
  })

/** The difference of two `commandCalls` snapshots, leaving out zeros and the `info` used to take them. */
export const callsBetween = (before: Record<string, number>, after: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [command, calls] of Object.entries(after)) {
    const delta = calls - (before[command] ?? 0)
    if (delta !== 0 && command !== "info") out[command] = delta
  }
  return out
}

/**
 * Records the name of every command the client writes. Installed on a client the test owns; each entry is one
 * request on the wire (none of our clients pipeline), i.e. one round trip.
 */
export const recordCommands = (client: Redis): Array<string> => {
  const sent: Array<string> = []
  const original = client.sendCommand.bind(client)
  client.sendCommand = (command, stream) => {
    sent.push(command.name)
    return original(command, stream)
  }
  return sent
}

/** Polls `check` until it holds or `timeout` passes; fails with `message` otherwise. */
export const eventually = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  message: string,
  timeout: Duration.Input = "5 seconds"
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(timeout)
    while (Date.now() < deadline) {
      if (yield* check) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.fail(new Error(`timed out: ${message}`))
  })

/**
 * Builds a provider layer in a scope of its own, so that a test can close it and look at what is left. The scope is
 * also closed with the test's scope, so a failing test leaves no connection or refresh fiber behind.
 */
export const buildProvider = <E>(
  layer: Layer.Layer<LeaseProvider, E>
): Effect.Effect<{ readonly provider: LeaseProviderShape; readonly close: Effect.Effect<void> }, E, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.acquireRelease(Scope.make(), (s) => Scope.close(s, Exit.void))
    const context = yield* Layer.buildWithScope(layer, scope)
    return { provider: Context.get(context, LeaseProvider), close: Scope.close(scope, Exit.void) }
  })
