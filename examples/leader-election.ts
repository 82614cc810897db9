/**
 * Leader election with takeover when the leader dies.
 *
 * Three replicas compete for the lease `leader`; whoever holds it leads, the others wait in `acquire`. Then the
 * leader's process dies: it stops renewing and never releases. Nobody has to notice the death: the dead leader's
 * lease runs out in the store and a waiting replica takes over, with a higher fencing token that the resources the
 * leader wrote to can use to refuse a zombie.
 *
 * Run it: `node --conditions=leasing-source examples/leader-election.ts`
 *
 * The replicas share one in-memory store here, each through its own "connection"; in production each is a
 * process with a Redis or Azure provider, and a crash is a crash. The lease is 1 s long to keep the demo short.
 */
import {
  type LeaseInfo,
  LeaseManager,
  LeaseProvider,
  type LeaseProviderShape,
  ProviderUnavailableError
} from "distributed-leasing"
import { MemoryLeaseProvider } from "distributed-leasing/memory"
import { Console, Effect, Fiber, References, Schedule } from "effect"

const leaseName = "leader"
const leaseDuration = "1 second"

/**
 * One replica's connection to the shared store. `crash()` cuts it for good, as the death of the process would:
 * from then on nothing this replica sends reaches the store, not even the release of its lease.
 */
const connect = (store: LeaseProviderShape) => {
  let alive = true
  const guard = <A, E>(operation: "acquire" | "renew" | "release", effect: Effect.Effect<A, E>) =>
    Effect.suspend(
      (): Effect.Effect<A, E | ProviderUnavailableError> =>
        alive
          ? effect
          : Effect.fail(
              new ProviderUnavailableError({
                provider: store.name,
                operation,
                isRetryable: true,
                detail: "process died"
              })
            )
    )
  const provider: LeaseProviderShape = {
    ...store,
    tryAcquire: (request) => guard("acquire", store.tryAcquire(request)),
    renew: (request) => guard("renew", store.renew(request)),
    release: (request) => guard("release", store.release(request))
  }
  return { provider, crash: () => (alive = false) }
}

/** A replica: forever, wait for the lease, then lead until the lease is lost. */
const startReplica = (id: string, store: LeaseProviderShape) =>
  Effect.gen(function* () {
    const connection = connect(store)
    const manager = yield* LeaseManager.make({ holderId: id }).pipe(
      Effect.provideService(LeaseProvider, connection.provider)
    )
    const lead = manager.withLease(
      leaseName,
      (lease) =>
        Console.log(`${id} is the leader (fencing token ${lease.fencingToken})`).pipe(
          // The leader's work; withLease interrupts it if the lease is lost.
          Effect.andThen(Effect.never)
        ),
      { duration: leaseDuration }
    )
    const fiber = yield* Effect.forever(
      lead.pipe(Effect.catchTag("LeaseLostError", (error) => Console.log(`${id} lost the lead (${error.reason})`)))
    ).pipe(Effect.forkChild)
    return { id, fiber, connection }
  })

/** Polls the store (as an operator would) until `predicate` holds. */
const waitFor = (store: LeaseProviderShape, predicate: (info: LeaseInfo) => boolean) =>
  store
    .inspect(leaseName)
    .pipe(Effect.repeat({ until: predicate, schedule: Schedule.spaced("20 millis") }), Effect.orDie)

const program = Effect.gen(function* () {
  const store = yield* MemoryLeaseProvider.make()
  const replicas = yield* Effect.forEach(["replica-1", "replica-2", "replica-3"], (id) => startReplica(id, store))

  const first = yield* waitFor(store, (info) => info.held)
  yield* Effect.sleep("300 millis")
  const leader = replicas.find((replica) => replica.id === first.holderId)
  if (leader === undefined) return yield* Effect.die("no leader")

  yield* Console.log(`${leader.id} dies without releasing the lease`)
  leader.connection.crash()
  yield* Fiber.interrupt(leader.fiber)
  const diedAt = Date.now()

  const next = yield* waitFor(store, (info) => info.held && info.holderId !== leader.id)
  yield* Console.log(
    `${next.holderId} took over ${Date.now() - diedAt} ms after the death, when the dead leader's lease ran out ` +
      `(fencing token ${first.fencingToken} -> ${next.fencingToken})`
  )

  // Shut down: the waiting replicas first (so none takes over), then the leader, whose lease is released.
  const byLeadership = [...replicas].sort((a, b) => Number(a.id === next.holderId) - Number(b.id === next.holderId))
  yield* Effect.forEach(byLeadership, (replica) => Fiber.interrupt(replica.fiber), { discard: true })
  const after = yield* store.inspect(leaseName)
  yield* Console.log(`after shutdown: held=${after.held}`)
})

// Warnings off: the core would log the dead replica's failed release, which a really dead process cannot do.
await Effect.runPromise(program.pipe(Effect.provideService(References.MinimumLogLevel, "Error")))
