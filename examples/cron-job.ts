/**
 * A cron-style job that runs on exactly one replica per tick.
 *
 * Every replica runs the same schedule. At each tick they all try the tick's own lease once (`tryAcquire` of
 * `cron/daily-report/<tick>`); the one that gets it runs the job, the others skip. The winner keeps the lease for the
 * whole tick slot even if the job is quick, so a replica whose timer fires late (clock skew, a busy event loop) finds
 * it still held and does not run the same tick again. (A scheduler calls this "lock at least for"; naming the lease
 * after the tick means a slow tick never blocks the next one.)
 *
 * Run it: `node --conditions=leasing-source examples/cron-job.ts`, or on Redis with
 * `LEASING_PROVIDER=redis LEASING_REDIS_URL=redis://localhost:6379`.
 *
 * Here the three replicas live in one process and share one client, each with its own holder id; in production each
 * replica is a process with its own client on a shared store.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { createLeasingFromEnv } from "distributed-leasing/promise"

const interval = 500 // ms between ticks; a real job would say "every night at 02:00"
const minHold = interval // ms: the whole tick slot, far longer than the worst lateness of a replica's timer
const ticks = 3
const replicas = ["replica-a", "replica-b", "replica-c"]
// How late each replica's timer fires, in ms: a different one is first at each tick, and the late ones must not run
// the tick a second time.
const lateness = [0, 80, 150]
const lateBy = (replica: number, tick: number): number => lateness[(replica + tick) % lateness.length] ?? 0

await using leasing = await createLeasingFromEnv({ env: { LEASING_PROVIDER: "memory", ...process.env } })

const runReport = async (tick: number, replica: string, signal: AbortSignal): Promise<void> => {
  console.log(`tick ${tick}: ${replica} runs the report`)
  await sleep(50, undefined, { signal }) // the job; it stops if the lease is lost
}

const onTick = async (replica: string, tick: number): Promise<void> => {
  const lease = await leasing.lease(`cron/daily-report/${tick}`).holderId(replica).duration("5 seconds").tryAcquire()
  if (lease === null) {
    console.log(`tick ${tick}: ${replica} skips (another replica has it)`)
    return
  }
  try {
    await runReport(tick, replica, lease.signal)
  } finally {
    const heldFor = Date.now() - lease.acquiredAt.getTime()
    if (heldFor < minHold) await sleep(minHold - heldFor)
    await lease.release()
  }
}

const start = Date.now()
await Promise.all(
  replicas.map(async (id, index) => {
    for (let tick = 1; tick <= ticks; tick++) {
      const due = start + (tick - 1) * interval + lateBy(index, tick)
      await sleep(Math.max(0, due - Date.now()))
      await onTick(id, tick)
    }
  })
)
console.log(`done: ${ticks} ticks on ${replicas.length} replicas`)
