/**
 * Graceful shutdown: on `SIGTERM`, stop the work and release the lease, so the next replica takes over at once
 * instead of waiting for the lease to expire.
 *
 * Run it: `node --conditions=leasing-source examples/graceful-shutdown.ts`. When run by hand it sends itself SIGTERM
 * after `SHUTDOWN_AFTER_MS` (default 1000), standing in for Kubernetes or systemd; `kill -TERM <pid>` works too.
 * On Redis: `LEASING_PROVIDER=redis LEASING_REDIS_URL=redis://localhost:6379`.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { createLeasingFromEnv } from "distributed-leasing/promise"

const leasing = await createLeasingFromEnv({ env: { LEASING_PROVIDER: "memory", ...process.env } })
const lease = await leasing.acquire("singleton/worker", { duration: "10 seconds" })
console.log(`worker ${lease.holderId} holds ${lease.name} (fencing token ${lease.fencingToken})`)

// Stop on SIGTERM or SIGINT; and stop as well if the lease is lost (another replica may be working by then).
const shutdown = new AbortController()
const onSignal = (signal: NodeJS.Signals) => {
  console.log(`${signal}: stopping`)
  shutdown.abort()
}
process.once("SIGTERM", onSignal)
process.once("SIGINT", onSignal)
const orchestrator = setTimeout(
  () => process.kill(process.pid, "SIGTERM"),
  Number(process.env.SHUTDOWN_AFTER_MS ?? 1000)
)
const stop = AbortSignal.any([shutdown.signal, lease.signal])

let batches = 0
while (!stop.aborted) {
  try {
    await sleep(100, undefined, { signal: stop }) // one batch of work
    batches++
  } catch {
    // aborted: leave the loop
  }
}
clearTimeout(orchestrator)
console.log(`stopped after ${batches} batch(es)${lease.signal.aborted ? ": the lease was lost" : ""}`)

// Releases the lease in the store (the next replica can take over now), then disconnects.
await leasing.close()
console.log("lease released, exiting")
