/**
 * Redis Cluster: a real redis-server in cluster mode (one node owning all 16384 slots, so the server enforces
 * CROSSSLOT exactly as a bigger cluster would), driven through an ioredis `Cluster` client.
 *
 * - The slots the provider computes are the server's (`CLUSTER KEYSLOT`), and a lease shares its fence's slot.
 * - Every script touches only keys of one slot: the whole conformance suite passes through the Cluster client.
 * - Entra ID refresh reaches cluster node connections, including nodes created after a refresh.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { Cluster } from "ioredis"
import { objectIdOf } from "../../src/redis/EntraAuth.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { keySlot, makeKeySpace } from "../../src/redis/keys.ts"
import { conformanceSuite } from "../conformance/suite.ts"
import { buildProvider, eventually, rawClient, uniqueName, useRedisServer } from "./helpers.ts"

const server = useRedisServer({ cluster: true })

/** A connected Cluster client, closed with the scope; it fails fast like the provider's own clients. */
const clusterClient = (options: { readonly username?: string; readonly password?: string } = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const cluster = new Cluster([{ host: "127.0.0.1", port: server().port }], {
        lazyConnect: true,
        enableOfflineQueue: false,
        redisOptions: { ...options, maxRetriesPerRequest: 0, commandTimeout: 2_000, connectionName: "cluster-test" }
      })
      cluster.on("error", () => {})
      // With credentials to come from Entra ID, leave it unconnected: the provider connects it.
      if (options.password === undefined) await cluster.connect()
      return cluster
    }),
    (cluster) =>
      Effect.promise(() =>
        cluster.quit().then(
          () => undefined,
          () => cluster.disconnect()
        )
      )
  )

const clusterLayer = Layer.unwrap(Effect.map(clusterClient(), (cluster) => RedisLeaseProvider.layerClient(cluster)))

describe("Redis Cluster", () => {
  it.live("the provider's key slots are the server's, and a lease shares its fence's slot", () =>
    Effect.gen(function* () {
      const redis = yield* rawClient(server())
      const space = makeKeySpace("lease:")
      for (const name of ["job", "a/b/c", "Ünïcode 🚀", "with space", "x".repeat(255), uniqueName("n")]) {
        const keys = space.keys(name)
        const leaseSlot = yield* Effect.promise(() => redis.call("CLUSTER", "KEYSLOT", keys.lease))
        const fenceSlot = yield* Effect.promise(() => redis.call("CLUSTER", "KEYSLOT", keys.fence))
        const brokenSlot = yield* Effect.promise(() => redis.call("CLUSTER", "KEYSLOT", keys.broken))
        expect(fenceSlot).toBe(leaseSlot)
        expect(brokenSlot).toBe(leaseSlot)
        expect(keySlot(keys.lease)).toBe(leaseSlot)
      }
      // And the server enforces it: keys of two slots in one script are refused.
      const error = yield* Effect.flip(
        Effect.tryPromise(() => redis.eval("return 1", 2, "lease:{a}", "lease:{b}:fence"))
      )
      expect(String(error.cause)).toContain("CROSSSLOT")
    })
  )

  it.live("acquire, renew, inspect, push wake-up, release and break through a Cluster client", () =>
    Effect.gen(function* () {
      const { provider, close } = yield* buildProvider(clusterLayer)
      const name = uniqueName("cluster")
      const request = { name, holderId: "h", leaseId: "id-1", duration: Duration.seconds(2) }
      const granted = yield* provider.tryAcquire(request)
      expect(granted._tag).toBe("Acquired")
      const renewed = yield* provider.renew({ name, leaseId: "id-1", duration: Duration.seconds(2) })
      expect(Duration.toMillis(renewed.ttl)).toBeGreaterThan(1_900)
      expect((yield* provider.inspect(name)).leaseId).toBe("id-1")
      const wait = provider.waitForRelease
      expect(wait).toBeDefined()
      if (wait !== undefined) {
        const woke = yield* Effect.scoped(
          Effect.gen(function* () {
            const released = yield* wait(name)
            expect(yield* provider.release({ name, leaseId: "id-1" })).toBe(true)
            return yield* Effect.timeoutOption(released, "2 seconds")
          })
        )
        expect(woke._tag).toBe("Some")
      }
      const again = yield* provider.tryAcquire({ ...request, leaseId: "id-2" })
      expect(again._tag === "Acquired" ? again.fencingToken : 0n).toBe(2n)
      expect(yield* provider.breakLease(name)).toBe(true)
      yield* close
    })
  )

  it.live(
    "Entra ID refresh reaches every cluster node connection, and nodes created later",
    () =>
      Effect.gen(function* () {
        const admin = yield* rawClient(server())
        const oid = `cluster-oid-${Date.now()}`
        let issued = 0
        const credential = {
          getToken: async () => {
            issued++
            const payload = Buffer.from(JSON.stringify({ oid, n: issued })).toString("base64url")
            const token = `e30.${payload}.sig`
            await admin.acl("SETUSER", oid, "on", `>${token}`, "~*", "&*", "+@all")
            setTimeout(() => admin.acl("SETUSER", oid, `<${token}`).catch(() => {}), 1_200).unref()
            return { token, expiresOnTimestamp: Date.now() + 1_200 }
          }
        }
        expect(objectIdOf(`e30.${Buffer.from(JSON.stringify({ oid })).toString("base64url")}.sig`)).toBe(oid)
        // The user's cluster client starts without credentials: the provider supplies them before it connects.
        const cluster = yield* clusterClient({ password: "" })
        const { provider, close } = yield* buildProvider(
          RedisLeaseProvider.layerClient(cluster, { credential, pushWakeUp: false })
        )
        const name = uniqueName("cluster-entra")
        expect(
          (yield* provider.tryAcquire({ name, holderId: "h", leaseId: "a", duration: Duration.seconds(5) }))._tag
        ).toBe("Acquired")
        yield* Effect.sleep("3 seconds") // a few refreshes; the first tokens are gone from the ACL
        expect(issued).toBeGreaterThanOrEqual(3)
        const users = String(yield* Effect.promise(() => admin.client("LIST")))
          .split("\n")
          .filter((line) => line.includes(" name=cluster-test "))
          .map((line) => /user=(\S+)/.exec(line)?.[1])
        expect(users.length).toBeGreaterThan(0)
        expect(new Set(users)).toEqual(new Set([oid]))
        // Drop the node connections: the cluster rebuilds them from its options, which must hold the current token.
        yield* Effect.promise(() => admin.call("CLIENT", "KILL", "USER", oid))
        yield* eventually(
          Effect.map(Effect.result(provider.inspect(name)), (r) => r._tag === "Success" && r.success.held),
          "the cluster reconnects with a fresh token",
          "8 seconds"
        )
        yield* close
      }),
    20_000
  )
})

conformanceSuite("redis-cluster", { layer: clusterLayer, clock: "live" })
