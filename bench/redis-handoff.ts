/**
 * Redis handoff latency: the time from a holder starting to release a lease to a waiting acquirer (another
 * provider, with its own connections, as another process would have) holding it.
 *
 * It runs against a private redis-server started on a free port (never a system Redis) and measures:
 * - handoff with push wake-up (release publishes, the waiter's subscriber wakes it);
 * - handoff without it (`pushWakeUp: false`: the waiter sleeps with backoff and polls), the peers' way;
 * - an uncontended acquire + release on one client, and the commands each sends.
 *
 * Run: `npm exec -- node bench/redis-handoff.ts [iterations]` (default 200).
 */
import { Context, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Redis } from "ioredis"
import { LeaseManager, type LeaseManagerShape } from "../src/LeaseManager.ts"
import { LeaseProvider } from "../src/LeaseProvider.ts"
import { RedisLeaseProvider } from "../src/redis/index.ts"
import { startRedisServer } from "../test/support/redisServer.ts"

const iterations = Number(process.argv[2] ?? 200)

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

const summary = (label: string, samples: ReadonlyArray<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  const row = {
    label,
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean
  }
  const f = (ms: number) => `${ms.toFixed(3)} ms`.padStart(12)
  console.log(
    `${label.padEnd(44)} n=${String(row.n).padStart(4)}  p50 ${f(row.p50)}  p90 ${f(row.p90)}  p99 ${f(row.p99)}  max ${f(row.max)}`
  )
  return row
}

/** A manager on a provider of its own, built in `scope`. */
const managerIn = (scope: Scope.Scope, options: RedisLeaseProvider.RedisLeaseProviderOptions, holderId: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.buildWithScope(RedisLeaseProvider.layer(options), scope)
    return yield* LeaseManager.make({ holderId }).pipe(Effect.provide(context))
  })

/** One handoff: A holds, B waits, A releases; returns release start → B holds, in ms. */
const handoff = (holder: LeaseManagerShape, waiter: LeaseManagerShape, name: string) =>
  Effect.gen(function* () {
    const holderScope = yield* Scope.make()
    yield* holder.acquire(name, { duration: "10 seconds" }).pipe(Scope.provide(holderScope))
    const waiterScope = yield* Scope.make()
    let acquiredAt = 0
    const waiting = yield* Effect.forkChild(
      waiter.acquire(name, { duration: "10 seconds" }).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            acquiredAt = performance.now()
          })
        ),
        Scope.provide(waiterScope)
      ),
      { startImmediately: true }
    )
    // Let the waiter get its "held" answer and go to sleep (or subscribe) first.
    yield* Effect.sleep("30 millis")
    const releasedAt = performance.now()
    yield* Scope.close(holderScope, Exit.void)
    const lease = yield* Fiber.join(waiting)
    const latency = acquiredAt - releasedAt
    if (lease.fencingToken < 2n) throw new Error("the waiter did not get a new grant")
    yield* Scope.close(waiterScope, Exit.void)
    return latency
  })

const program = Effect.gen(function* () {
  const server = yield* Effect.acquireRelease(
    Effect.promise(() => startRedisServer()),
    (s) => Effect.promise(() => s.close())
  )
  const redisVersion = yield* Effect.promise(async () => {
    const client = new Redis({ port: server.port, host: server.host })
    const info = await client.info("server")
    await client.quit()
    return /redis_version:(\S+)/.exec(info)?.[1] ?? "?"
  })
  console.log(
    `redis-server ${redisVersion} on 127.0.0.1:${server.port}, node ${process.version}, ${iterations} iterations each`
  )
  const scope = yield* Effect.scope
  const url = server.url
  const results = []

  // Uncontended acquire + release (through the manager: validation, options, renewal fiber start and stop).
  {
    const solo = yield* managerIn(scope, { url, pushWakeUp: false }, "solo")
    const samples: Array<number> = []
    for (let i = 0; i < iterations + 20; i++) {
      const start = performance.now()
      yield* Effect.scoped(solo.acquire(`bench/solo/${i}`, { duration: "10 seconds" }))
      if (i >= 20) samples.push(performance.now() - start)
    }
    results.push(summary("uncontended acquire + release (manager)", samples))
  }

  // The provider's raw operations: each is one EVALSHA.
  {
    const context = yield* Layer.buildWithScope(RedisLeaseProvider.layer({ url, pushWakeUp: false }), scope)
    const provider = Context.get(context, LeaseProvider)
    const acquireSamples: Array<number> = []
    const releaseSamples: Array<number> = []
    for (let i = 0; i < iterations + 20; i++) {
      const request = { name: `bench/raw/${i}`, holderId: "raw", leaseId: `id-${i}`, duration: Duration.seconds(10) }
      const t0 = performance.now()
      yield* provider.tryAcquire(request)
      const t1 = performance.now()
      yield* provider.release({ name: request.name, leaseId: request.leaseId })
      const t2 = performance.now()
      if (i >= 20) {
        acquireSamples.push(t1 - t0)
        releaseSamples.push(t2 - t1)
      }
    }
    results.push(summary("provider tryAcquire (1 EVALSHA)", acquireSamples))
    results.push(summary("provider release (1 EVALSHA)", releaseSamples))
  }

  for (const push of [true, false]) {
    const holder = yield* managerIn(scope, { url, pushWakeUp: push }, "holder")
    const waiter = yield* managerIn(scope, { url, pushWakeUp: push }, "waiter")
    const samples: Array<number> = []
    const runs = push ? iterations : Math.min(iterations, 60)
    for (let i = 0; i < runs + 5; i++) {
      const latency = yield* handoff(holder, waiter, `bench/handoff/${push ? "push" : "poll"}/${i}`)
      if (i >= 5) samples.push(latency)
    }
    results.push(
      summary(push ? "handoff, push wake-up (release → waiter holds)" : "handoff, polling (pushWakeUp: false)", samples)
    )
  }
  console.log(JSON.stringify({ redisVersion, node: process.version, iterations, results }))
})

Effect.runPromise(Effect.scoped(program)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
