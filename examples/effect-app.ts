/**
 * An Effect app: a lease as a scoped resource, the manager composed from `Layer`s, typed errors.
 *
 * Run it: `node --conditions=leasing-source examples/effect-app.ts` (memory), or on Redis:
 * `LEASING_PROVIDER=redis LEASING_REDIS_URL=redis://localhost:6379 node --conditions=leasing-source examples/effect-app.ts`
 *
 * The manager comes from configuration (`Leasing.layerConfig`): the same program runs on memory in a test and on
 * Redis in production; only the environment changes.
 */
import { LeaseManager } from "distributed-leasing"
import { Leasing } from "distributed-leasing/config"
import { ConfigProvider, Console, Effect, Layer, Stream } from "effect"

const name = "reports/daily"

// Holding a lease: it lives exactly as long as the Scope around it.
const generateReport = Effect.scoped(
  Effect.gen(function* () {
    const leases = yield* LeaseManager
    const lease = yield* leases.acquire(name, { duration: "2 seconds" })
    yield* Console.log(`acquired ${name} with fencing token ${lease.fencingToken} (provider ${lease.provider})`)

    // Its events, watched by a fiber that lives in the same scope.
    yield* lease.events.pipe(
      Stream.runForEach((event) => Console.log(`event: ${event._tag}`)),
      Effect.forkScoped({ startImmediately: true })
    )

    // While it is held, nobody else gets it: a typed error, handled by its tag.
    yield* Effect.scoped(leases.acquire(name, { holderId: "someone-else", timeout: "200 millis" })).pipe(
      Effect.andThen(Console.log("unexpected: someone else got the lease")),
      Effect.catchTag("LeaseAcquisitionTimeoutError", (error) =>
        Console.log(`someone-else could not get it: ${error._tag} after ${error.attempts} attempt(s)`)
      )
    )

    // Long enough for one automatic renewal (at 2/3 of the duration).
    yield* Effect.sleep("1800 millis")
    yield* Console.log(`renewed ${lease.renewalCount} time(s); releasing`)
  })
) // <- the scope closes here: renewal stops and the lease is released

const program = Effect.gen(function* () {
  const leases = yield* LeaseManager
  yield* generateReport
  const after = yield* leases.inspect(name)
  yield* Console.log(`after the scope: held=${after.held}`)

  // withLease: run an effect only while holding the lease; it is released afterwards.
  const token = yield* leases.withLease(name, (lease) => Effect.succeed(lease.fencingToken))
  yield* Console.log(`withLease ran with fencing token ${token}`)
})

// Layer composition: the manager from `LEASING_*` variables, falling back to the memory provider.
const Configuration = ConfigProvider.layer(
  ConfigProvider.fromEnv().pipe(
    ConfigProvider.orElse(ConfigProvider.fromUnknown({ LEASING_PROVIDER: "memory", LEASING_HOLDER_ID: "effect-app" }))
  )
)
const AppLayer = Leasing.layerConfig.pipe(Layer.provide(Configuration))

await Effect.runPromise(program.pipe(Effect.provide(AppLayer)))
console.log("done")
