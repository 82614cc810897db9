/**
 * 5. Held leases at scale: N leases acquired (64 at a time, as a service taking its partitions would) and then held
 * with auto-renewal for a window, in real time. Lease duration D (3 s in the full run): renewal comes due every
 * 2/3·D, and a lease is declared lost when 0.9·D passes without a confirmed renewal.
 *
 * Reported per configuration:
 * - acquisition: wall time, client CPU per acquire, and the event-loop delay while acquiring;
 * - heap per held lease (settled heap after acquisition minus before, over N) and heap left after release;
 * - renewals per second in the window (leases renewed) against the expected N / (2/3·D), and the renewal commands
 *   sent per second (Redis: `EVALSHA` calls from `INFO commandstats`, where one call renews a batch of leases;
 *   memory: the renewals), client CPU per renewal, event-loop delay p99 and max;
 * - leases lost by the end of the window.
 *
 * redis-semaphore (one `setInterval` per lock, refresh at 80 % of `lockTimeout`) is measured the same way as a
 * reference; its `onLockLost` is replaced by a counter (its default throws from a timer and ends the process).
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Duration, Effect, Exit, Scope } from "effect"
import { Mutex } from "redis-semaphore"
import type { Lease } from "../../src/Lease.ts"
import { settledHeap } from "../lib/gc.ts"
import { type Backend, manager as ourManager, runOurs } from "../lib/ours.ts"
import type { Plan } from "../lib/plan.ts"
import { commandStats, connect, type RedisServer, statsDelta } from "../lib/redis.ts"
import { cpuMillis, round, sleep } from "../lib/stats.ts"
import { peerLabels } from "../lib/subjects.ts"

export interface HeldRow {
  readonly label: string
  readonly store: "memory" | "redis"
  readonly leases: number
  readonly durationMs: number
  readonly acquireWallMs: number
  readonly acquireCpuUsPerLease: number
  /** Longest stretch without the event loop running a timer, while acquiring. */
  readonly acquireLongestStallMs: number
  readonly heapPerLeaseBytes: number
  readonly heapRetainedAfterReleaseBytes: number
  readonly windowMs: number
  /** Leases renewed per second in the window. */
  readonly renewalsPerSecond: number
  /** Renewal commands sent per second (Redis: `EVALSHA` calls, one per batch of renewals for ours). */
  readonly renewCommandsPerSecond: number
  readonly expectedRenewalsPerSecond: number
  readonly renewCpuUsPerRenewal: number
  /** Client CPU used during the window, as a fraction of one core. */
  readonly windowCpuCores: number
  readonly eventLoopDelayP99Ms: number
  readonly eventLoopDelayMaxMs: number
  readonly lost: number
}

export interface HeldResult {
  readonly rows: ReadonlyArray<HeldRow>
}

/**
 * The longest time the event loop went without running a 5 ms interval, including the stretch still open when
 * stopped. Unlike `monitorEventLoopDelay`, it reports a loop that was blocked for the whole measurement (which
 * then records no sample at all).
 */
const stallMonitor = () => {
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const t = performance.now()
    longest = Math.max(longest, t - last)
    last = t
  }, 5)
  return {
    stop: () => {
      clearInterval(timer)
      return round(Math.max(longest, performance.now() - last), 0)
    }
  }
}

const histogram = () => {
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  return {
    stop: () => {
      h.disable()
      return { p99: round(h.percentile(99) / 1e6, 1), max: round(h.max / 1e6, 1) }
    }
  }
}

const ours = (backend: Backend, server: RedisServer, count: number, plan: Plan): Promise<HeldRow> =>
  runOurs(
    Effect.gen(function* () {
      const { durationMs, windowMs, acquireConcurrency } = plan.held
      const store = backend === "memory" ? "memory" : "redis"
      const leases = yield* ourManager(backend, `bench-held-${store}`)
      const admin = yield* Effect.acquireRelease(
        Effect.promise(() => connect(server, "bench:held:admin")),
        (c) => Effect.promise(() => c.quit())
      )
      const prefix = `bench:held:${store}:${count}`
      // Warm-up (scripts, code paths), then a settled baseline.
      yield* Effect.scoped(leases.acquire(`${prefix}:warm`, { duration: Duration.millis(durationMs) }))
      const heap0 = settledHeap()
      const scope = yield* Scope.make()
      const acquiring = stallMonitor()
      const cpu0 = cpuMillis()
      const t0 = performance.now()
      let held: ReadonlyArray<Lease> = yield* Effect.forEach(
        Array.from({ length: count }, (_, i) => `${prefix}:${i}`),
        (name) => leases.acquire(name, { duration: Duration.millis(durationMs) }).pipe(Scope.provide(scope)),
        { concurrency: acquireConcurrency }
      )
      const acquireWallMs = performance.now() - t0
      const acquireCpuMs = cpuMillis() - cpu0
      const acquireStall = acquiring.stop()
      const heap1 = settledHeap()

      const renewed0 = held.reduce((n, l) => n + l.renewalCount, 0)
      const stats0 = yield* Effect.promise(() => commandStats(admin))
      const window = histogram()
      const cpu1 = cpuMillis()
      const w0 = performance.now()
      yield* Effect.sleep(Duration.millis(windowMs))
      const windowWallMs = performance.now() - w0
      const windowCpuMs = cpuMillis() - cpu1
      const delay = window.stop()
      const stats1 = yield* Effect.promise(() => commandStats(admin))
      const renewed = held.reduce((n, l) => n + l.renewalCount, 0) - renewed0
      const renewCommands = backend === "memory" ? renewed : (statsDelta(stats0, stats1).evalsha ?? 0)
      const lost = held.filter((l) => l.state !== "held").length

      yield* Scope.close(scope, Exit.void)
      held = []
      const heap2 = settledHeap()
      return {
        label: `ours, ${store}`,
        store,
        leases: count,
        durationMs,
        acquireWallMs: round(acquireWallMs, 0),
        acquireCpuUsPerLease: round((acquireCpuMs * 1000) / count, 0),
        acquireLongestStallMs: acquireStall,
        heapPerLeaseBytes: round((heap1 - heap0) / count, 0),
        heapRetainedAfterReleaseBytes: heap2 - heap0,
        windowMs: round(windowWallMs, 0),
        renewalsPerSecond: round((renewed / windowWallMs) * 1000, 0),
        renewCommandsPerSecond: round((renewCommands / windowWallMs) * 1000, 0),
        expectedRenewalsPerSecond: round(count / ((durationMs * 2) / 3 / 1000), 0),
        renewCpuUsPerRenewal: renewed === 0 ? Number.NaN : round((windowCpuMs * 1000) / renewed, 0),
        windowCpuCores: round(windowCpuMs / windowWallMs, 2),
        eventLoopDelayP99Ms: delay.p99,
        eventLoopDelayMaxMs: delay.max,
        lost
      } satisfies HeldRow
    })
  )

/** The same measurement for redis-semaphore mutexes (refresh every 0.8 × lockTimeout). */
const redisSemaphore = async (server: RedisServer, count: number, plan: Plan): Promise<HeldRow> => {
  const { durationMs, windowMs, acquireConcurrency } = plan.held
  const client = await connect(server, "bench:held:redis-semaphore")
  const admin = await connect(server, "bench:held:admin")
  let lost = 0
  const options = { lockTimeout: durationMs, onLockLost: () => void lost++ }
  try {
    const warm = new Mutex(client, "bench:held:sem:warm", options)
    await warm.acquire()
    await warm.release()
    const heap0 = settledHeap()
    const acquiring = stallMonitor()
    const cpu0 = cpuMillis()
    const t0 = performance.now()
    const mutexes: Array<Mutex> = []
    let next = 0
    await Promise.all(
      Array.from({ length: acquireConcurrency }, async () => {
        while (next < count) {
          const mutex = new Mutex(client, `bench:held:sem:${count}:${next++}`, options)
          await mutex.acquire()
          mutexes.push(mutex)
        }
      })
    )
    const acquireWallMs = performance.now() - t0
    const acquireCpuMs = cpuMillis() - cpu0
    const acquireStall = acquiring.stop()
    const heap1 = settledHeap()
    const stats0 = await commandStats(admin)
    const window = histogram()
    const cpu1 = cpuMillis()
    const w0 = performance.now()
    await sleep(windowMs)
    const windowWallMs = performance.now() - w0
    const windowCpuMs = cpuMillis() - cpu1
    const delay = window.stop()
    const stats1 = await commandStats(admin)
    const refreshes = statsDelta(stats0, stats1).evalsha ?? 0
    const stillHeld = mutexes.filter((m) => m.isAcquired).length
    await Promise.all(mutexes.map((m) => m.release()))
    mutexes.length = 0
    const heap2 = settledHeap()
    return {
      label: peerLabels["redis-semaphore"],
      store: "redis",
      leases: count,
      durationMs,
      acquireWallMs: round(acquireWallMs, 0),
      acquireCpuUsPerLease: round((acquireCpuMs * 1000) / count, 0),
      acquireLongestStallMs: acquireStall,
      heapPerLeaseBytes: round((heap1 - heap0) / count, 0),
      heapRetainedAfterReleaseBytes: heap2 - heap0,
      windowMs: round(windowWallMs, 0),
      renewalsPerSecond: round((refreshes / windowWallMs) * 1000, 0),
      renewCommandsPerSecond: round((refreshes / windowWallMs) * 1000, 0),
      expectedRenewalsPerSecond: round(count / ((durationMs * 0.8) / 1000), 0),
      renewCpuUsPerRenewal: refreshes === 0 ? Number.NaN : round((windowCpuMs * 1000) / refreshes, 0),
      windowCpuCores: round(windowCpuMs / windowWallMs, 2),
      eventLoopDelayP99Ms: delay.p99,
      eventLoopDelayMaxMs: delay.max,
      lost: Math.max(lost, count - stillHeld)
    }
  } finally {
    await admin.quit()
    await client.quit()
  }
}

export const runHeld = async (server: RedisServer, plan: Plan): Promise<HeldResult> => {
  const rows: Array<HeldRow> = []
  for (const count of plan.held.counts) {
    rows.push(await ours("memory", server, count, plan))
    rows.push(await ours(server, server, count, plan))
    if (plan.held.peerCounts.includes(count)) rows.push(await redisSemaphore(server, count, plan))
  }
  return { rows }
}
