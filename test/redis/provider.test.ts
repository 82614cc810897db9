/**
 * `RedisLeaseProvider` as a whole: constructors (`make`, `layer`, `layerClient`, `layer({ client })`,
 * `layerConfig`), connection lifecycle (no I/O until built, closed with the scope), option validation,
 * authentication, and push wake-up through the shared subscriber.
 */
import { assert, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Fiber, Layer, Redacted, Scope } from "effect"
import { Redis } from "ioredis"
import type { LeaseProvider } from "../../src/LeaseProvider.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { freePort, startRedisServer } from "../support/redisServer.ts"
import { buildProvider, eventually, rawClient, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer()

/** Connections the provider opened (they carry its connection name). */
const providerConnections = (redis: Redis, name = "distributed-leasing") =>
  Effect.promise(async () => {
    const list = await redis.client("LIST")
    return String(list)
      .split("\n")
      .filter((line) => line.includes(` name=${name} `)).length
  })

const grant = (name: string, leaseId: string, ms = 2_000) => ({
  name,
  holderId: `holder-of-${leaseId}`,
  leaseId,
  duration: Duration.millis(ms)
})

const buildFailure = <E>(layer: Layer.Layer<LeaseProvider, E>) => Effect.flip(Effect.scoped(Layer.build(layer)))

describe("RedisLeaseProvider", () => {
  it.live("a layer (or make effect) is only a description: nothing connects until it is built, all closes after", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server())
      const name = `no-io-${Date.now()}`
      const layer = RedisLeaseProvider.layer({ url: server().url, connectionName: name })
      const effect = RedisLeaseProvider.make({ url: server().url, connectionName: name })
      yield* Effect.sleep("100 millis")
      expect(yield* providerConnections(observer, name)).toBe(0)
      expect(Effect.isEffect(effect)).toBe(true)

      const built = yield* buildProvider(layer)
      // The command connection and the release subscriber.
      expect(yield* providerConnections(observer, name)).toBe(1)
      expect(yield* providerConnections(observer, `${name}:subscriber`)).toBe(1)
      expect(built.provider.name).toBe("redis")
      expect(built.provider.capabilities).toEqual({
        waitForRelease: true,
        handoff: true,
        metadata: true,
        clock: "store"
      })
      yield* built.close
      yield* eventually(
        Effect.map(providerConnections(observer, name), (n) => n === 0),
        "the provider's connections are closed with its scope"
      )
    })
  )

  it.live("pushWakeUp: false opens a single connection and offers no waitForRelease", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server())
      const name = `single-${Date.now()}`
      const built = yield* buildProvider(
        RedisLeaseProvider.layer({ url: server().url, connectionName: name, pushWakeUp: false })
      )
      expect(built.provider.capabilities.waitForRelease).toBe(false)
      expect(built.provider.waitForRelease).toBeUndefined()
      expect(yield* providerConnections(observer, name)).toBe(1)
      expect(yield* providerConnections(observer, `${name}:subscriber`)).toBe(0)
      yield* built.close
    })
  )

  it.live("operations go to the configured prefix and database", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server(), { db: 3 })
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: `${server().url}/3`, keyPrefix: "jobs:" }))
      const name = uniqueName("prefix")
      yield* built.provider.tryAcquire(grant(name, "a"))
      expect(yield* Effect.promise(() => observer.exists(`jobs:{${name}}`, `jobs:{${name}}:fence`))).toBe(2)
      yield* built.close
    })
  )

  it.live("invalid options fail with InvalidLeaseOptionsError naming the field, before any connection", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [RedisLeaseProvider.RedisLeaseProviderOptions, string]> = [
        [{ keyPrefix: "team{a}:" }, "keyPrefix"],
        [{ keyPrefix: "x".repeat(200) }, "keyPrefix"],
        [{ url: "http://localhost:6379" }, "url"],
        [{ url: Redacted.make("not a url at all") }, "url"],
        [{ url: "redis://localhost:6379/zero" }, "url"],
        [{ port: 70_000 }, "port"],
        [{ db: -1 }, "db"],
        [{ commandTimeout: 0 }, "commandTimeout"],
        [{ connectTimeout: "soon" as never }, "connectTimeout"],
        [
          {
            password: Redacted.make("x"),
            credential: { getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: 0 }) }
          },
          "credential"
        ]
      ]
      for (const [options, field] of cases) {
        const error = yield* buildFailure(RedisLeaseProvider.layer({ ...options, port: options.port ?? server().port }))
        assert.strictEqual(error._tag, "InvalidLeaseOptionsError", `${field}: ${String(error)}`)
        if (error._tag === "InvalidLeaseOptionsError") expect(error.field).toBe(field)
      }
      // The URL's secret is never echoed in an error.
      const error = yield* buildFailure(RedisLeaseProvider.layer({ url: Redacted.make("https://user:hunter2@host") }))
      expect(String(error)).not.toContain("hunter2")
    })
  )

  it.live("a refused connection fails the build with a retryable ProviderUnavailableError (operation connect)", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const started = Date.now()
      const error = yield* buildFailure(RedisLeaseProvider.layer({ port, connectTimeout: "1 second" }))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag !== "ProviderUnavailableError") return
      expect(error.isRetryable).toBe(true)
      expect(error.operation).toBe("connect")
      expect(error.detail).toContain("ECONNREFUSED")
      expect(Date.now() - started).toBeLessThan(3_000)
    })
  )

  it.live("layerClient uses the caller's client and never closes it; only its own subscriber is closed", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server())
      const client = yield* rawClient(server(), { connectionName: "users-own" })
      const built = yield* buildProvider(RedisLeaseProvider.layerClient(client, { keyPrefix: "mine:" }))
      const name = uniqueName("client")
      const result = yield* built.provider.tryAcquire(grant(name, "a"))
      expect(result._tag).toBe("Acquired")
      expect(yield* Effect.promise(() => observer.exists(`mine:{${name}}`))).toBe(1)
      expect(yield* providerConnections(observer, "users-own:subscriber")).toBe(1)
      yield* built.close
      expect(client.status).toBe("ready")
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
      yield* eventually(
        Effect.map(providerConnections(observer, "users-own:subscriber"), (n) => n === 0),
        "the subscriber duplicate is closed"
      )
    })
  )

  it.live("layer({ client }) is the same as layerClient", () =>
    Effect.gen(function* () {
      const client = yield* rawClient(server())
      const built = yield* buildProvider(RedisLeaseProvider.layer({ client, pushWakeUp: false }))
      const name = uniqueName("client-form")
      expect((yield* built.provider.tryAcquire(grant(name, "a")))._tag).toBe("Acquired")
      expect((yield* built.provider.inspect(name)).holderId).toBe("holder-of-a")
      yield* built.close
      expect(client.status).toBe("ready")
    })
  )

  it.live("layerConfig reads REDIS_URL, REDIS_KEY_PREFIX, ... from the ConfigProvider", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server())
      const env = ConfigProvider.fromEnv({
        env: { REDIS_URL: server().url, REDIS_KEY_PREFIX: "cfg:", REDIS_COMMAND_TIMEOUT: "2 seconds" }
      })
      const built = yield* buildProvider(RedisLeaseProvider.layerConfig()).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, env)
      )
      const name = uniqueName("config")
      yield* built.provider.tryAcquire(grant(name, "a"))
      expect(yield* Effect.promise(() => observer.exists(`cfg:{${name}}`))).toBe(1)
      yield* built.close

      const bad = ConfigProvider.fromEnv({ env: { REDIS_URL: server().url, REDIS_PORT: "not-a-port" } })
      const error = yield* buildFailure(RedisLeaseProvider.layerConfig()).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, bad)
      )
      expect(error._tag).toBe("ConfigError")
    })
  )

  it.live("push wake-up: a registered waiter wakes on the release of its name only, across providers", () =>
    Effect.gen(function* () {
      const holder = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const waiter = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const name = uniqueName("wake")
      yield* holder.provider.tryAcquire(grant(name, "a", 10_000))
      const wait = waiter.provider.waitForRelease
      assert.isDefined(wait)
      if (wait === undefined) return
      yield* Effect.scoped(
        Effect.gen(function* () {
          const released = yield* wait(name)
          const other = yield* wait(uniqueName("other"))
          const fiber = yield* Effect.forkChild(released, { startImmediately: true })
          const otherFiber = yield* Effect.forkChild(other, { startImmediately: true })
          yield* Effect.sleep("50 millis")
          expect(fiber.pollUnsafe()).toBeUndefined()
          const releasedAt = performance.now()
          expect(yield* holder.provider.release({ name, leaseId: "a" })).toBe(true)
          yield* Fiber.await(fiber)
          const latency = performance.now() - releasedAt
          expect(latency).toBeLessThan(500) // a round trip or two on localhost; the fallback would be 10 s
          expect(otherFiber.pollUnsafe()).toBeUndefined()
        })
      )
      yield* holder.close
      yield* waiter.close
    })
  )

  it.live("a release that lands between registration and the wait is not missed", () =>
    Effect.gen(function* () {
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const wait = built.provider.waitForRelease
      if (wait === undefined) return assert.fail("waitForRelease missing")
      const name = uniqueName("race")
      yield* built.provider.tryAcquire(grant(name, "a", 10_000))
      const outcome = yield* Effect.scoped(
        Effect.gen(function* () {
          const released = yield* wait(name) // register (as the core does before each attempt)...
          yield* built.provider.release({ name, leaseId: "a" }) // ...the release happens...
          yield* Effect.sleep("100 millis") // ...and its message arrives before anyone waits.
          return yield* Effect.timeoutOption(released, "50 millis")
        })
      )
      expect(outcome._tag).toBe("Some")
      yield* built.close
    })
  )

  it.live("when the subscriber reconnects, every registered waiter is woken (messages may have been lost)", () =>
    Effect.gen(function* () {
      const observer = yield* rawClient(server())
      const connectionName = `reconnect-${Date.now()}`
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url, connectionName }))
      const wait = built.provider.waitForRelease
      if (wait === undefined) return assert.fail("waitForRelease missing")
      const outcome = yield* Effect.scoped(
        Effect.gen(function* () {
          const released = yield* wait(uniqueName("never-released"))
          const fiber = yield* Effect.forkChild(released, { startImmediately: true })
          yield* Effect.promise(() => observer.call("CLIENT", "KILL", "USER", "default", "SKIPME", "yes"))
          return yield* Effect.timeoutOption(Fiber.await(fiber), "3 seconds")
        })
      )
      expect(outcome._tag).toBe("Some")
      // The provider itself recovered: the command connection reconnected too.
      yield* eventually(
        Effect.map(Effect.result(built.provider.inspect(uniqueName("after"))), (r) => r._tag === "Success"),
        "the provider works again after the reconnect"
      )
      expect(yield* providerConnections(observer, connectionName)).toBe(1)
      yield* built.close
    })
  )

  it.live("registrations end with their scope", () =>
    Effect.gen(function* () {
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url }))
      const wait = built.provider.waitForRelease
      if (wait === undefined) return assert.fail("waitForRelease missing")
      const name = uniqueName("scoped")
      const scope = yield* Scope.make()
      const released = yield* wait(name).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      // Released after the registration ended: not delivered to it.
      yield* built.provider.tryAcquire(grant(name, "a"))
      yield* built.provider.release({ name, leaseId: "a" })
      expect((yield* Effect.timeoutOption(released, "200 millis"))._tag).toBe("None")
      yield* built.close
    })
  )
})

describe("RedisLeaseProvider authentication and error mapping", () => {
  const securedServer = useRedisServer({ args: ["--requirepass", "s3cret"] })
  beforeAll(async () => {
    const admin = new Redis({ port: securedServer().port, host: "127.0.0.1", password: "s3cret" })
    // May only touch keys under other:*, so the lease scripts hit NOPERM.
    await admin.acl("SETUSER", "limited", "on", ">pw", "~other:*", "&*", "+@all")
    await admin.quit()
  })

  it.live("the password may come in a Redacted URL or as a Redacted option", () =>
    Effect.gen(function* () {
      const url = Redacted.make(`redis://:s3cret@127.0.0.1:${securedServer().port}`)
      const fromUrl = yield* buildProvider(RedisLeaseProvider.layer({ url }))
      expect((yield* fromUrl.provider.tryAcquire(grant(uniqueName("auth"), "a")))._tag).toBe("Acquired")
      yield* fromUrl.close
      const fromOption = yield* buildProvider(
        RedisLeaseProvider.layer({ port: securedServer().port, password: Redacted.make("s3cret") })
      )
      expect((yield* fromOption.provider.tryAcquire(grant(uniqueName("auth"), "a")))._tag).toBe("Acquired")
      yield* fromOption.close
    })
  )

  it.live("a wrong password (WRONGPASS) or none (NOAUTH) fails the build, not retryable", () =>
    Effect.gen(function* () {
      const wrong = yield* buildFailure(
        RedisLeaseProvider.layer({
          port: securedServer().port,
          password: Redacted.make("wrong"),
          connectTimeout: 1_000
        })
      )
      assert.strictEqual(wrong._tag, "ProviderUnavailableError")
      if (wrong._tag === "ProviderUnavailableError") {
        expect(wrong.isRetryable).toBe(false)
        expect(wrong.detail).toMatch(/WRONGPASS/)
        // ioredis attaches the failed HELLO/AUTH command, password included, to its error: it must not survive.
        expect(JSON.stringify(wrong)).not.toContain('wrong"')
        expect(JSON.stringify(wrong)).toContain("<redacted>")
      }
      const none = yield* buildFailure(RedisLeaseProvider.layer({ port: securedServer().port, connectTimeout: 1_000 }))
      assert.strictEqual(none._tag, "ProviderUnavailableError")
      if (none._tag === "ProviderUnavailableError") {
        expect(none.isRetryable).toBe(false)
        expect(none.detail).toMatch(/NOAUTH/)
      }
    })
  )

  it.live("an ACL user that may not touch the lease keys gets NOPERM, not retryable", () =>
    Effect.gen(function* () {
      const built = yield* buildProvider(
        RedisLeaseProvider.layer({
          port: securedServer().port,
          username: "limited",
          password: Redacted.make("pw"),
          pushWakeUp: false
        })
      )
      const error = yield* Effect.flip(built.provider.tryAcquire(grant(uniqueName("noperm"), "a")))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag === "ProviderUnavailableError") {
        expect(error.isRetryable).toBe(false)
        expect(error.detail).toMatch(/NOPERM/)
      }
      yield* built.close
    })
  )

  it.live("a least-privilege ACL user with exactly RedisLeaseProvider.aclRules() can do everything", () =>
    Effect.gen(function* () {
      const admin = yield* rawClient(securedServer(), { password: "s3cret" })
      yield* Effect.promise(() => admin.acl("LOG", "RESET"))
      yield* Effect.promise(() =>
        admin.acl("SETUSER", "leaser", "reset", "on", ">leaser-pw", ...RedisLeaseProvider.aclRules("acl:"))
      )
      const built = yield* buildProvider(
        RedisLeaseProvider.layer({
          port: securedServer().port,
          username: "leaser",
          password: Redacted.make("leaser-pw"),
          keyPrefix: "acl:"
        })
      )
      const { provider } = built
      const name = uniqueName("acl")
      expect((yield* provider.tryAcquire(grant(name, "a")))._tag).toBe("Acquired")
      yield* provider.renew({ name, leaseId: "a", duration: Duration.seconds(2) })
      expect((yield* provider.inspect(name)).held).toBe(true)
      const wait = provider.waitForRelease
      if (wait === undefined) return assert.fail("waitForRelease missing")
      const woke = yield* Effect.scoped(
        Effect.gen(function* () {
          const released = yield* wait(name)
          expect(yield* provider.release({ name, leaseId: "a" })).toBe(true)
          return yield* Effect.timeoutOption(released, "2 seconds")
        })
      )
      expect(woke._tag).toBe("Some")
      yield* provider.tryAcquire(grant(name, "b"))
      // Handoff and claim run under the same rules (their scripts call nothing beyond the list).
      if (provider.handoff === undefined || provider.claim === undefined) return assert.fail("handoff missing")
      yield* provider.handoff({
        name,
        leaseId: "b",
        successorHolderId: "holder-of-c",
        transferToken: "t",
        claimWindow: Duration.seconds(2)
      })
      const claimed = yield* provider.claim({
        name,
        transferToken: "t",
        holderId: "holder-of-c",
        leaseId: "c",
        duration: Duration.seconds(2)
      })
      expect(claimed.leaseId).toBe("c")
      expect(yield* provider.breakLease(name)).toBe(true)
      // After a restart the script cache is empty: the EVAL fallback is allowed too.
      yield* Effect.promise(() => admin.script("FLUSH"))
      expect((yield* provider.tryAcquire(grant(uniqueName("acl"), "c")))._tag).toBe("Acquired")
      yield* built.close
      // Nothing was denied along the way.
      expect(yield* Effect.promise(() => admin.acl("LOG"))).toEqual([])
      // And the rules really are narrow: other keys are out of reach.
      const other = yield* buildProvider(
        RedisLeaseProvider.layer({
          port: securedServer().port,
          username: "leaser",
          password: Redacted.make("leaser-pw"),
          keyPrefix: "elsewhere:",
          pushWakeUp: false
        })
      )
      const denied = yield* Effect.flip(other.provider.tryAcquire(grant(uniqueName("acl"), "d")))
      expect(denied._tag === "ProviderUnavailableError" && denied.detail).toMatch(/NOPERM/)
      yield* other.close
    })
  )

  it.live("a read-only replica answers READONLY: retryable (a failover may be in progress)", () =>
    Effect.gen(function* () {
      const replica = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startRedisServer({
            args: ["--replicaof", "127.0.0.1", String(server().port), "--replica-serve-stale-data", "yes"]
          })
        ),
        (s) => Effect.promise(() => s.close())
      )
      const built = yield* buildProvider(RedisLeaseProvider.layer({ port: replica.port, pushWakeUp: false }))
      const error = yield* Effect.flip(built.provider.tryAcquire(grant(uniqueName("ro"), "a")))
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      if (error._tag === "ProviderUnavailableError") {
        expect(error.isRetryable).toBe(true)
        expect(error.detail).toMatch(/READONLY/)
      }
      yield* built.close
    })
  )
})
