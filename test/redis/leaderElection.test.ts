/**
 * Leader election on Redis, end to end: three replicas, each with its own provider (its own connections, as its
 * own ACL user) and its own `LeaseManager`, run `runWhileLeader` on one election. The leader then dies without a
 * word: its ACL user is disabled and its connections are killed (`CLIENT KILL USER`), so it can neither renew nor
 * release nor reconnect. Another replica must lead within the lease duration plus one renew interval of the death,
 * and never while the dead leader could still trust its lease. A second test hands leadership over with `resign`.
 *
 * The measured failover time is printed.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Redacted } from "effect"
import { LeaderElection } from "../../src/LeaderElection.ts"
import { LeaseManager } from "../../src/LeaseManager.ts"
import { resolve as resolveOptions } from "../../src/LeaseOptions.ts"
import { LeaseProvider } from "../../src/LeaseProvider.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { type RedisServer, startRedisServer } from "../support/redisServer.ts"
import { buildProvider, eventually, rawClient, uniqueName } from "./helpers.ts"

const ownServer = Effect.acquireRelease(
  Effect.promise(() => startRedisServer()),
  (server) => Effect.promise(() => server.close())
)

interface Entry {
  readonly replica: string
  readonly event: "leading" | "stopped"
  readonly at: number
  readonly fencingToken?: bigint | undefined
}

/** One replica: its own ACL user, provider, manager and election, running `runWhileLeader` in the background. */
const replica = (server: RedisServer, id: string, name: string, durationMs: number, timeline: Array<Entry>) =>
  Effect.gen(function* () {
    const { provider } = yield* buildProvider(
      RedisLeaseProvider.layer({
        url: server.url,
        username: id,
        password: Redacted.make("pw"),
        connectionName: id,
        // A dead server must not keep a replica waiting long on one command: the core's deadlines decide.
        commandTimeout: "500 millis",
        connectTimeout: "500 millis"
      })
    )
    const manager = yield* LeaseManager.make({ holderId: id }).pipe(Effect.provideService(LeaseProvider, provider))
    const election = yield* LeaderElection.make(name, { duration: durationMs }).pipe(
      Effect.provideService(LeaseManager, manager)
    )
    const work = Effect.gen(function* () {
      const lease = yield* election.lease
      timeline.push({
        replica: id,
        event: "leading",
        at: Date.now(),
        fencingToken: Option.getOrUndefined(Option.map(lease, (l) => l.fencingToken))
      })
      return yield* Effect.never
    }).pipe(
      Effect.onInterrupt(() => Effect.sync(() => timeline.push({ replica: id, event: "stopped", at: Date.now() })))
    )
    // In the test's scope, not as a child of whichever fiber built the replica (which may end at once).
    const fiber = yield* Effect.forkScoped(Effect.exit(election.runWhileLeader(work)), { startImmediately: true })
    return { id, election, manager, fiber }
  })

const leaders = (timeline: ReadonlyArray<Entry>) => timeline.filter((e) => e.event === "leading")

describe("LeaderElection on Redis", () => {
  it.live(
    "failover: the leader's connections die; another replica leads within duration + one renew interval",
    () =>
      Effect.gen(function* () {
        const server = yield* ownServer
        const admin = yield* rawClient(server)
        const ids = ["replica-1", "replica-2", "replica-3"]
        for (const id of ids) {
          yield* Effect.promise(() => admin.acl("SETUSER", id, "on", ">pw", "~*", "&*", "+@all"))
        }
        const durationMs = 2_000
        const renewIntervalMs = Duration.toMillis((yield* resolveOptions({ duration: durationMs })).renewInterval)
        const name = uniqueName("election")
        const timeline: Array<Entry> = []
        yield* Effect.forEach(ids, (id) => replica(server, id, name, durationMs, timeline), {
          concurrency: "unbounded"
        })

        yield* eventually(
          Effect.sync(() => leaders(timeline).length > 0),
          "nobody leads"
        )
        // Let the leader renew a few times, and let the death fall at a random point of its renewal cycle: the
        // failover time depends on it (from one duration less one renew interval, to one duration).
        yield* Effect.sleep(Duration.millis(durationMs + Math.random() * renewIntervalMs))
        const first = leaders(timeline)
        expect(first.length).toBe(1)
        const dead = first[0]
        if (dead === undefined) return assert.fail("no leader")

        // Death: the leader can no longer authenticate, and every connection it had is cut.
        yield* Effect.promise(() => admin.acl("SETUSER", dead.replica, "off"))
        yield* Effect.promise(() => admin.client("KILL", "USER", dead.replica))
        const diedAt = Date.now()

        yield* eventually(
          Effect.sync(() => leaders(timeline).length > 1),
          "no replica took over",
          Duration.millis(3 * durationMs)
        )
        const next = leaders(timeline)[1]
        if (next === undefined) return assert.fail("no new leader")
        const failoverMs = next.at - diedAt
        console.log(
          `Redis failover: ${failoverMs} ms from the leader's death to the next leader ` +
            `(lease ${durationMs} ms, renew interval ${Math.round(renewIntervalMs)} ms, ` +
            `bound ${Math.round(durationMs + renewIntervalMs)} ms)`
        )

        expect(next.replica).not.toBe(dead.replica)
        expect(failoverMs).toBeLessThanOrEqual(durationMs + renewIntervalMs)
        // The dead leader neither released nor renewed after its death: the takeover had to wait for the store's
        // expiry, which is at least one duration after its last renewal, itself at most one renew interval ago.
        expect(failoverMs).toBeGreaterThanOrEqual(durationMs - renewIntervalMs - 100)
        // The dead leader stopped its work (it could not confirm its lease) before anyone else started: no overlap.
        const stopped = timeline.find((e) => e.replica === dead.replica && e.event === "stopped")
        if (stopped === undefined) return assert.fail("the dead leader's work was never stopped")
        expect(stopped.at).toBeLessThanOrEqual(next.at)
        expect(next.fencingToken).toBeDefined()
        expect(dead.fencingToken).toBeDefined()
        if (next.fencingToken !== undefined && dead.fencingToken !== undefined) {
          expect(next.fencingToken).toBeGreaterThan(dead.fencingToken)
        }
        // Exactly one live leader afterwards, as the store sees it.
        const info = yield* Effect.promise(() => admin.hget(`lease:{${name}}`, "holder"))
        expect(info).toBe(next.replica)
      }),
    30_000
  )

  it.live("resign(successor): leadership moves by handoff and claim, with no moment without a leader", () =>
    Effect.gen(function* () {
      const server = yield* ownServer
      const admin = yield* rawClient(server)
      for (const id of ["replica-a", "replica-b"]) {
        yield* Effect.promise(() => admin.acl("SETUSER", id, "on", ">pw", "~*", "&*", "+@all"))
      }
      const name = uniqueName("resign")
      const timeline: Array<Entry> = []
      const a = yield* replica(server, "replica-a", name, 2_000, timeline)
      yield* eventually(
        Effect.sync(() => leaders(timeline).length === 1),
        "replica-a does not lead"
      )
      const { provider } = yield* buildProvider(
        RedisLeaseProvider.layer({ url: server.url, username: "replica-b", password: Redacted.make("pw") })
      )
      const b = yield* LeaseManager.make({ holderId: "replica-b" }).pipe(Effect.provideService(LeaseProvider, provider))
      const token = yield* a.election.resign("replica-b")
      assert.isTrue(Option.isSome(token))
      if (Option.isNone(token)) return
      // Between the handoff and the claim the lease is reserved for B: nobody else could take it.
      const reserved = yield* b.inspect(name)
      expect(reserved.held).toBe(true)
      expect(reserved.holderId).toBe("replica-b")
      const lease = yield* b.claim(name, token.value, { duration: 2_000 })
      expect(lease.holderId).toBe("replica-b")
      const old = leaders(timeline)[0]?.fencingToken
      expect(old).toBeDefined()
      if (old !== undefined) expect(lease.fencingToken).toBeGreaterThan(old)
      // A's work under the old lease was stopped by the handoff.
      expect(timeline.some((e) => e.replica === "replica-a" && e.event === "stopped")).toBe(true)
      expect(yield* a.election.lease).toEqual(Option.none())
      yield* Fiber.interrupt(a.fiber)
    })
  )
})
