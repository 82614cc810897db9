/**
 * Leader election with a graceful handoff on SIGTERM: three replicas, no moment without a leader.
 *
 * Replicas a, b and c campaign for `scheduler`; a wins. When a receives SIGTERM (a rolling deployment), it hands
 * the lease to b instead of releasing it: one store operation moves ownership, so c, still campaigning, never gets a
 * chance, and b claims the lease with a higher fencing token. A watcher polls the store throughout and reports
 * whether it ever saw the lease free.
 *
 * Run it: `npm run example examples/leader-election-handoff.ts` (it sends itself SIGTERM and exits by itself).
 *
 * The replicas share one in-memory store here; in production each is a process on Redis, Cosmos DB or Blob (all
 * support handoff) and the transfer token travels over your own channel (an HTTP call, a queue message).
 */
import { LeaderElection, LeaseManager, LeaseProvider } from "distributed-leasing"
import { MemoryLeaseProvider } from "distributed-leasing/memory"
import { Deferred, Effect, Fiber, Layer, Option, References, SubscriptionRef } from "effect"

const name = "scheduler"
const options = { duration: "2 seconds" } as const

const program = Effect.gen(function* () {
  const store = yield* LeaseProvider
  const replica = (holderId: string) =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, store))
      const election = yield* LeaderElection.make(name, options).pipe(Effect.provideService(LeaseManager, manager))
      return { holderId, manager, election }
    })
  const [a, b, c] = yield* Effect.all([replica("a"), replica("b"), replica("c")])

  // The watcher: what any observer of the store sees, every 5 ms.
  const seen = new Set<string>()
  const watcher = yield* Effect.gen(function* () {
    while (true) {
      const info = yield* store.inspect(name)
      seen.add(info.held ? `held by ${info.holderId}` : "free")
      yield* Effect.sleep("5 millis")
    }
  }).pipe(Effect.forkChild)

  const first = yield* a.election.campaign
  console.log(`a leads (fencing token ${first.fencingToken})`)
  // c keeps campaigning: it would win any gap.
  const cCampaign = yield* Effect.forkChild(c.election.campaign)

  // SIGTERM: hand off to b before exiting.
  const terminated = yield* Deferred.make<void>()
  process.once("SIGTERM", () => Deferred.doneUnsafe(terminated, Effect.void))
  yield* Effect.sleep("300 millis")
  process.kill(process.pid, "SIGTERM")
  yield* Deferred.await(terminated)
  console.log("a: SIGTERM, handing leadership to b")
  const token = Option.getOrThrow(yield* a.election.resign("b"))
  console.log(`a: handed off (a still leading: ${yield* SubscriptionRef.get(a.election.isLeader)})`)

  const claimed = yield* b.manager.claim(name, token, options)
  console.log(`b claimed the lease with fencing token ${claimed.fencingToken}`)
  yield* Effect.sleep("300 millis")
  yield* Fiber.interrupt(watcher)
  yield* Fiber.interrupt(cCampaign)
  console.log(`c never led: ${!(yield* SubscriptionRef.get(c.election.isLeader))}`)
  console.log(`the store was seen ${[...seen].join(", then ")}; never free: ${!seen.has("free")}`)
})

Effect.runPromise(
  Effect.scoped(program).pipe(
    Effect.provide(Layer.merge(MemoryLeaseProvider.layer(), Layer.succeed(References.MinimumLogLevel, "Error")))
  )
).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
