/**
 * The Redis provider under faults, each test with a redis-server child of its own: a frozen server (SIGSTOP), a
 * killed and restarted server, a connection dropped in the middle of a renewal, and what a restart does to the
 * fencing counter with and without persistence.
 */
import { assert, describe, expect, it, vi } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { LeaseManager } from "../../src/LeaseManager.ts"
import { LeaseProvider, type LeaseProviderShape } from "../../src/LeaseProvider.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { type RedisServer, type RedisServerOptions, startRedisServer } from "../support/redisServer.ts"
import { buildProvider, eventually, rawClient, uniqueName } from "./helpers.ts"

const ownServer = (options?: RedisServerOptions) =>
  Effect.acquireRelease(
    Effect.promise(() => startRedisServer(options)),
    (server) => Effect.promise(() => server.close())
  )

/** A provider in a scope of its own. */
const buildRedis = (options: RedisLeaseProvider.RedisLeaseProviderOptions) =>
  buildProvider(RedisLeaseProvider.layer(options))

const managerOn = (provider: LeaseProviderShape, holderId: string) =>
  LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, provider))

const connectionId = (server: RedisServer, connectionName: string) =>
  Effect.gen(function* () {
    const observer = yield* rawClient(server)
    const list = String(yield* Effect.promise(() => observer.client("LIST")))
    const line = list.split("\n").find((l) => l.includes(` name=${connectionName} `))
    const id = /^id=(\d+)/.exec(line ?? "")?.[1]
    if (id === undefined) return yield* Effect.die(new Error(`no connection named ${connectionName}`))
    return id
  })

describe("Redis provider under faults", () => {
  it.live(
    "SIGSTOP longer than the lease: the holder reports the loss before the store's expiry; after SIGCONT another client acquires with a higher token",
    () =>
      Effect.gen(function* () {
        const server = yield* ownServer()
        const a = yield* buildRedis({ url: server.url })
        const b = yield* buildRedis({ url: server.url })
        const holder = yield* managerOn(a.provider, "holder-a")
        const contender = yield* managerOn(b.provider, "holder-b")
        const name = uniqueName("sigstop")
        const duration = 1_500
        const lease = yield* holder.acquire(name, { duration })
        const storeExpiry = lease.acquiredAt.getTime() + duration

        server.pause()
        const lost = yield* lease.lost
        const lostAt = Date.now()
        expect(lost.reason).toBe("unconfirmed")
        // The holder stopped trusting the lease before Redis could have handed it to anyone else.
        expect(lostAt).toBeLessThan(storeExpiry)
        expect(lease.state).toBe("lost")

        // Stay frozen past the store's expiry, then thaw.
        yield* Effect.sleep(Duration.millis(Math.max(0, storeExpiry - Date.now()) + 300))
        server.resume()

        const next = yield* contender.acquire(name, { duration, timeout: "5 seconds" })
        expect(next.fencingToken).toBeGreaterThan(lease.fencingToken)
        const info = yield* contender.inspect(name)
        expect(info.holderId).toBe("holder-b")
        // The frozen holder's late renewals, executed by Redis after SIGCONT, found the key expired: they did not
        // extend anything, and its stale release cannot free B's lease.
        expect(yield* a.provider.release({ name, leaseId: lease.leaseId })).toBe(false)
        expect((yield* contender.inspect(name)).leaseId).toBe(next.leaseId)
        yield* a.close
        yield* b.close
      }),
    20_000
  )

  it.live(
    "kill and restart: the provider recovers by itself, without unhandled errors or rejections, and leaks no handles",
    () =>
      Effect.gen(function* () {
        const server = yield* ownServer()
        const unhandled: Array<unknown> = []
        const onUnhandled = (reason: unknown) => unhandled.push(reason)
        process.on("unhandledRejection", onUnhandled)
        yield* Effect.addFinalizer(() => Effect.sync(() => process.off("unhandledRejection", onUnhandled)))
        const consoleError = vi.spyOn(console, "error")
        yield* Effect.addFinalizer(() => Effect.sync(() => consoleError.mockRestore()))

        const handles = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length
        const baseline = { sockets: handles("TCPSocketWrap") }

        const built = yield* buildRedis({ url: server.url })
        const manager = yield* managerOn(built.provider, "holder-a")
        const name = uniqueName("restart")
        const leaseScope = yield* Scope.make()
        const lease = yield* manager.acquire(name, { duration: 1_000 }).pipe(Scope.provide(leaseScope))
        const first = lease.fencingToken

        yield* Effect.promise(() => server.kill())
        // While the server is down: failures are retryable ProviderUnavailableErrors, never hangs.
        const down = yield* Effect.flip(built.provider.inspect(name))
        expect(down._tag).toBe("ProviderUnavailableError")
        expect(down.isRetryable).toBe(true)
        const lost = yield* lease.lost
        expect(lost.reason).toBe("unconfirmed")

        yield* Effect.promise(() => server.restart())
        // The same provider, untouched, works again once ioredis has reconnected (it backs off up to 2 s).
        const afterScope = yield* Scope.make()
        const again = yield* manager
          .acquire(uniqueName("after-restart"), { duration: 1_000, timeout: "10 seconds" })
          .pipe(Scope.provide(afterScope))
        expect(again.state).toBe("held")
        // The data set was lost with the process (no persistence): the old lease is gone, and a new grant of the
        // same name starts the fencing counter again. This is why docs/providers/redis.md asks for AOF.
        const regrant = yield* manager
          .acquire(name, { duration: 1_000, timeout: "5 seconds" })
          .pipe(Scope.provide(afterScope))
        expect(regrant.fencingToken).toBe(first)

        // Release every lease (their renewal fibers stop) before closing the provider.
        yield* Scope.close(afterScope, Exit.void)
        yield* Scope.close(leaseScope, Exit.void)
        expect(again.state).toBe("released")
        yield* built.close
        // No socket left...
        yield* eventually(
          Effect.sync(() => handles("TCPSocketWrap") <= baseline.sockets),
          "all of the provider's sockets are closed"
        )
        // ...and nothing left trying to reconnect: the server sees no new connection for longer than the
        // provider's longest reconnection delay (2 s). (Timers are not counted from inside a fiber: Effect's own
        // scheduler timer would be among them.)
        const observer = yield* rawClient(server)
        const connectionsReceived = Effect.map(
          Effect.promise(() => observer.info("stats")),
          (info) => Number(/total_connections_received:(\d+)/.exec(info)?.[1])
        )
        const before = yield* connectionsReceived
        yield* Effect.sleep("2500 millis")
        expect(yield* connectionsReceived).toBe(before)
        expect(unhandled).toEqual([])
        const printed = consoleError.mock.calls.map((args) => args.map(String).join(" "))
        expect(printed.filter((line) => line.includes("Unhandled error event"))).toEqual([])
      }),
    30_000
  )

  it.live(
    "a connection dropped in the middle of a renewal (CLIENT KILL): the renewal fails as retryable, a retry succeeds, the lease stays held",
    () =>
      Effect.gen(function* () {
        const server = yield* ownServer()
        const observer = yield* rawClient(server)
        const connectionName = `dropped-${Date.now()}`
        const built = yield* buildRedis({ url: server.url, connectionName, pushWakeUp: false })
        const id = yield* connectionId(server, connectionName)
        const failures: Array<{ readonly retryable: boolean; readonly tag: string }> = []
        let renewals = 0
        // The first renewal is held in Redis (CLIENT PAUSE WRITE) and its connection killed while it waits: the
        // request was sent, the reply never comes.
        const dropping: LeaseProviderShape = {
          ...built.provider,
          renew: (request) =>
            Effect.gen(function* () {
              renewals++
              if (renewals !== 1) return yield* built.provider.renew(request)
              yield* Effect.promise(() => observer.client("PAUSE", 300, "WRITE"))
              const inFlight = yield* Effect.forkChild(built.provider.renew(request), { startImmediately: true })
              yield* Effect.sleep("50 millis")
              expect(inFlight.pollUnsafe()).toBeUndefined() // still waiting for its reply
              yield* Effect.promise(() => observer.call("CLIENT", "KILL", "ID", id))
              const result = yield* Fiber.await(inFlight)
              if (Exit.isFailure(result)) {
                const error = result.cause.reasons[0]
                if (error?._tag === "Fail") {
                  failures.push({
                    tag: error.error._tag,
                    retryable: error.error._tag === "ProviderUnavailableError" && error.error.isRetryable
                  })
                }
              }
              return yield* result
            })
        }
        const manager = yield* managerOn(dropping, "holder-a")
        const name = uniqueName("drop")
        const lease = yield* manager.acquire(name, { duration: 3_000 })
        const events = yield* lease.events.pipe(
          Stream.map((e) => e._tag),
          Stream.takeUntil((tag) => tag === "Renewed"),
          Stream.runCollect,
          Effect.forkChild({ startImmediately: true })
        )
        const timeline = yield* Fiber.join(events)
        expect(failures).toEqual([{ tag: "ProviderUnavailableError", retryable: true }])
        expect(timeline).toContain("RenewalFailed")
        expect(timeline.at(-1)).toBe("Renewed")
        expect(lease.state).toBe("held")
        expect(renewals).toBeGreaterThanOrEqual(2)
        const info = yield* built.provider.inspect(name)
        expect(info.leaseId).toBe(lease.leaseId)
        expect(Duration.toMillis(info.remaining ?? Duration.zero)).toBeGreaterThan(2_000)
        yield* built.close
      }),
    20_000
  )

  it.live(
    "fencing after a restart: without persistence the counter starts over; with AOF it keeps increasing",
    () =>
      Effect.gen(function* () {
        const tokenAfterRestart = (options: RedisServerOptions) =>
          Effect.scoped(
            Effect.gen(function* () {
              const server = yield* ownServer(options)
              const built = yield* buildRedis({ url: server.url, pushWakeUp: false })
              const name = uniqueName("persist")
              const request = (leaseId: string) => ({
                name,
                holderId: leaseId,
                leaseId,
                duration: Duration.seconds(10)
              })
              const before = yield* built.provider.tryAcquire(request("before"))
              yield* Effect.promise(() => server.kill())
              yield* Effect.promise(() => server.restart())
              // Break whatever survived, so the next acquire is a new grant.
              yield* eventually(
                Effect.map(Effect.result(built.provider.breakLease(name)), (r) => r._tag === "Success"),
                "the provider reconnects after the restart",
                "10 seconds"
              )
              const after = yield* built.provider.tryAcquire(request("after"))
              yield* built.close
              assert.isTrue(before._tag === "Acquired" && after._tag === "Acquired")
              return [
                before._tag === "Acquired" ? before.fencingToken : -1n,
                after._tag === "Acquired" ? after.fencingToken : -1n
              ] as const
            })
          )
        const [volatileBefore, volatileAfter] = yield* tokenAfterRestart({})
        expect(volatileAfter).toBe(volatileBefore) // reset: the guarantee is gone
        const [durableBefore, durableAfter] = yield* tokenAfterRestart({
          args: ["--appendonly", "yes", "--appendfsync", "always"]
        })
        expect(durableAfter).toBeGreaterThan(durableBefore) // kept
        expect(Option.some(durableAfter)).toEqual(Option.some(durableBefore + 1n))
      }),
    30_000
  )
})
