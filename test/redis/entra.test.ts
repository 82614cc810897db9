/**
 * Microsoft Entra ID authentication (`src/redis/EntraAuth.ts`) against a real redis-server with ACL users.
 *
 * The fake credential issues JWT-shaped tokens (with an `oid` claim) that live about a second. Each token it hands
 * out becomes a valid password of the ACL user named by the oid, and is removed again when it "expires", the way
 * Azure stops accepting an expired token. The original library fetched one token and never refreshed it, and set
 * no username: these tests are its regression tests.
 */
import type { TokenCredential } from "@azure/core-auth"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { Redis } from "ioredis"
import { LeaseManager } from "../../src/LeaseManager.ts"
import { LeaseProvider } from "../../src/LeaseProvider.ts"
import { type EntraCredential, objectIdOf, redisScope, refreshDelay } from "../../src/redis/EntraAuth.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import {
  buildProvider,
  callsBetween,
  commandCalls,
  eventually,
  rawClient,
  uniqueName,
  useRedisServer
} from "./helpers.ts"

const server = useRedisServer()

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const jwt = (claims: Record<string, unknown>) => `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.sig`

interface FakeCredential extends EntraCredential {
  readonly issued: Array<string>
  readonly scopes: Array<string | Array<string>>
  /** When set, the next calls fail with this error. */
  failing: Error | undefined
}

/** Tokens for `oid` that live `lifetimeMs`; each is a password of the ACL user `oid` until it expires. */
const fakeCredential = (admin: Redis, oid: string, lifetimeMs: number): FakeCredential => {
  const credential: FakeCredential = {
    issued: [],
    scopes: [],
    failing: undefined,
    getToken: async (scopes) => {
      credential.scopes.push(scopes)
      if (credential.failing !== undefined) throw credential.failing
      const now = Date.now()
      const token = jwt({ oid, n: credential.issued.length + 1, exp: Math.floor((now + lifetimeMs) / 1000) })
      await admin.acl("SETUSER", oid, "on", `>${token}`, "~*", "&*", "+@all")
      setTimeout(() => {
        admin.acl("SETUSER", oid, `<${token}`).catch(() => {})
      }, lifetimeMs).unref()
      credential.issued.push(token)
      return { token, expiresOnTimestamp: now + lifetimeMs }
    }
  }
  return credential
}

describe("Entra ID token helpers", () => {
  it("the username is the token's oid claim", () => {
    expect(objectIdOf(jwt({ oid: "0f1e2d3c-aaaa-bbbb-cccc-000000000001", tid: "t" }))).toBe(
      "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
    )
    expect(objectIdOf(jwt({ sub: "no-oid" }))).toBeUndefined()
    expect(objectIdOf("not-a-jwt")).toBeUndefined()
    expect(objectIdOf("a.%%%.c")).toBeUndefined()
  })

  it("refresh timing: 5 minutes before expiry for hour-long tokens, a quarter of the lifetime for short ones", () => {
    const now = 1_000_000
    expect(refreshDelay({ token: "t", expiresOnTimestamp: now + 3_600_000 }, now)).toBe(3_300_000)
    expect(refreshDelay({ token: "t", expiresOnTimestamp: now + 2_000 }, now)).toBe(1_500)
    // The credential's own hint wins when it is earlier.
    expect(
      refreshDelay({ token: "t", expiresOnTimestamp: now + 3_600_000, refreshAfterTimestamp: now + 1_800_000 }, now)
    ).toBe(1_800_000)
    // An expired token is refreshed at once.
    expect(refreshDelay({ token: "t", expiresOnTimestamp: now - 1 }, now)).toBe(0)
  })

  it("any @azure/core-auth TokenCredential is accepted (checked by the compiler)", () => {
    const accept = (credential: TokenCredential): RedisLeaseProvider.RedisLeaseProviderOptions => ({ credential })
    const options = accept({ getToken: () => Promise.resolve(null) })
    expect(typeof options.credential).toBe("object")
  })
})

describe("Redis with Entra ID tokens", () => {
  it.live(
    "tokens are refreshed before they expire and the live connections re-authenticated: leases keep working for many token lifetimes",
    () =>
      Effect.gen(function* () {
        const admin = yield* rawClient(server())
        const oid = `oid-${uniqueName("svc").replace("/", "-")}`
        const credential = fakeCredential(admin, oid, 1_200)
        const statsBefore = yield* commandCalls(admin)
        const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url, credential }))
        expect(credential.scopes[0]).toBe(redisScope)
        const manager = yield* LeaseManager.make({ holderId: "entra-holder" }).pipe(
          Effect.provideService(LeaseProvider, built.provider)
        )
        const name = uniqueName("entra")
        const lease = yield* manager.acquire(name, { duration: 1_000 })
        // Four token lifetimes: every token the provider started with has been removed from the ACL by now.
        yield* Effect.sleep("4800 millis")
        expect(lease.state).toBe("held")
        expect(lease.renewalCount).toBeGreaterThanOrEqual(5)
        expect(credential.issued.length).toBeGreaterThanOrEqual(4)
        const first = credential.issued[0] ?? ""

        // Each refresh sent AUTH on the command connection and on the subscriber.
        const auths = callsBetween(statsBefore, yield* commandCalls(admin)).auth ?? 0
        expect(auths).toBeGreaterThanOrEqual(2 * (credential.issued.length - 1))

        // The options used on reconnect were updated too: kill every connection of the identity...
        yield* Effect.promise(() => admin.call("CLIENT", "KILL", "USER", oid))
        // ...and the provider comes back with the current token (the first one no longer works).
        yield* eventually(
          Effect.map(Effect.result(built.provider.inspect(name)), (r) => r._tag === "Success" && r.success.held),
          "the provider reconnects with a fresh token"
        )
        // Push wake-up still works on the re-authenticated, reconnected subscriber.
        const wait = built.provider.waitForRelease
        if (wait === undefined) return assert.fail("waitForRelease missing")
        const woke = yield* Effect.scoped(
          Effect.gen(function* () {
            const released = yield* wait(name)
            yield* lease.release
            return yield* Effect.timeoutOption(released, "2 seconds")
          })
        )
        expect(woke._tag).toBe("Some")

        // An expired token is refused: what the original library's connections hit after an hour.
        const stale = yield* Effect.flip(
          buildProvider(
            RedisLeaseProvider.layer({
              url: server().url,
              credential: {
                getToken: () => Promise.resolve({ token: first, expiresOnTimestamp: Date.now() + 60_000 })
              },
              connectTimeout: 1_000
            })
          )
        )
        assert.strictEqual(stale._tag, "ProviderUnavailableError")
        if (stale._tag === "ProviderUnavailableError") {
          expect(stale.isRetryable).toBe(false)
          expect(stale.detail).toMatch(/WRONGPASS/)
        }
        yield* built.close
      }),
    20_000
  )

  it.live("a failing refresh is retried; the connection keeps working meanwhile and after", () =>
    Effect.gen(function* () {
      const admin = yield* rawClient(server())
      const oid = `oid-${uniqueName("flaky").replace("/", "-")}`
      const credential = fakeCredential(admin, oid, 1_600)
      const built = yield* buildProvider(RedisLeaseProvider.layer({ url: server().url, credential, pushWakeUp: false }))
      credential.failing = new Error("AADSTS50058: transient failure")
      yield* Effect.sleep("1500 millis") // the first refresh (at 1.2 s) fails, and is retried
      expect(credential.scopes.length).toBeGreaterThanOrEqual(2)
      expect(credential.issued.length).toBe(1)
      credential.failing = undefined
      yield* eventually(
        Effect.sync(() => credential.issued.length >= 2),
        "a retry gets a new token",
        "3 seconds"
      )
      yield* Effect.promise(() => admin.call("CLIENT", "KILL", "USER", oid))
      yield* eventually(
        Effect.map(Effect.result(built.provider.inspect(uniqueName("x"))), (r) => r._tag === "Success"),
        "the provider reconnects with the token fetched by the retry"
      )
      yield* built.close
    })
  )

  it.live("credential problems are typed: no token, a failing credential, a token without oid", () =>
    Effect.gen(function* () {
      const noToken = yield* Effect.flip(
        buildProvider(
          RedisLeaseProvider.layer({ url: server().url, credential: { getToken: () => Promise.resolve(null) } })
        )
      )
      assert.strictEqual(noToken._tag, "ProviderUnavailableError")
      if (noToken._tag === "ProviderUnavailableError") {
        expect(noToken.isRetryable).toBe(false)
        expect(noToken.operation).toBe("connect")
      }
      const throwing = yield* Effect.flip(
        buildProvider(
          RedisLeaseProvider.layer({
            url: server().url,
            credential: { getToken: () => Promise.reject(new Error("IMDS endpoint unreachable")) }
          })
        )
      )
      assert.strictEqual(throwing._tag, "ProviderUnavailableError")
      if (throwing._tag === "ProviderUnavailableError") {
        expect(throwing.isRetryable).toBe(true)
        expect(throwing.detail).toContain("IMDS endpoint unreachable")
      }
      const token = jwt({ sub: "no-oid" })
      const noOid = yield* Effect.flip(
        buildProvider(
          RedisLeaseProvider.layer({
            url: server().url,
            credential: { getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 60_000 }) }
          })
        )
      )
      assert.strictEqual(noOid._tag, "InvalidLeaseOptionsError")
      if (noOid._tag === "InvalidLeaseOptionsError") expect(noOid.field).toBe("credential")
    })
  )

  it.live("an explicit username overrides the oid; the token is never part of an error message", () =>
    Effect.gen(function* () {
      const admin = yield* rawClient(server())
      const token = jwt({ oid: "ignored", n: "secret-token-marker" })
      yield* Effect.promise(() => admin.acl("SETUSER", "explicit-user", "on", `>${token}`, "~*", "&*", "+@all"))
      const built = yield* buildProvider(
        RedisLeaseProvider.layer({
          url: server().url,
          credential: {
            credential: { getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 60_000 }) },
            username: "explicit-user"
          },
          pushWakeUp: false
        })
      )
      const result = yield* built.provider.tryAcquire({
        name: uniqueName("explicit"),
        holderId: "h",
        leaseId: "l",
        duration: Duration.seconds(1)
      })
      expect(result._tag).toBe("Acquired")
      yield* built.close
      const wrongUser = yield* Effect.flip(
        buildProvider(
          RedisLeaseProvider.layer({
            url: server().url,
            credential: {
              credential: { getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 60_000 }) },
              username: "nobody"
            },
            connectTimeout: 1_000
          })
        )
      )
      expect(String(wrongUser)).not.toContain("secret-token-marker")
      expect(JSON.stringify(wrongUser)).not.toContain(token)
    })
  )
})
