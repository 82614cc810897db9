/**
 * A plain TypeScript app: no Effect in sight. `await using` releases, an `AbortSignal` gives up waiting, errors are
 * classes you can `instanceof`.
 *
 * Run it: `node --conditions=leasing-source examples/promise-app.ts`
 */
import { MemoryLeaseProvider } from "distributed-leasing/memory"
import { createLeasing, LeaseAcquisitionTimeoutError } from "distributed-leasing/promise"

/** Stands for real work that must stop when the lease is lost (pass the signal to fetch, streams, ...). */
const exportInvoices = async (signal: AbortSignal): Promise<number> => {
  for (let batch = 1; batch <= 3; batch++) {
    signal.throwIfAborted()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return 3
}

// The client: close it (here with `await using`) to release every lease it holds and disconnect.
await using leasing = createLeasing({ provider: MemoryLeaseProvider.layer(), holderId: "promise-app" })

{
  await using lease = await leasing.acquire("invoices/export", { duration: "30 seconds" })
  console.log(`holding ${lease.name} with fencing token ${lease.fencingToken}`)
  lease.on("released", (event) => console.log(`released ${event.name} (confirmed: ${event.confirmed})`))

  // Another caller waits for the same lease, but only as long as its AbortSignal allows.
  try {
    await leasing.acquire("invoices/export", { holderId: "impatient", signal: AbortSignal.timeout(200) })
  } catch (error) {
    console.log(`the impatient caller gave up: ${error instanceof Error ? error.name : String(error)}`)
  }

  // Or with a timeout, through the fluent builder: the Effect API's error class, with its _tag.
  try {
    await leasing.lease("invoices/export").holderId("other").timeout("100 millis").acquire()
  } catch (error) {
    if (!(error instanceof LeaseAcquisitionTimeoutError)) throw error
    console.log(`timed out: ${error._tag}`)
  }

  const batches = await exportInvoices(lease.signal)
  console.log(`exported ${batches} batches under the lease`)
} // <- `await using`: the lease is released here

console.log(`after the block: held=${(await leasing.inspect("invoices/export")).held}`)

// withLease: acquire, run, release, in one call.
const total = await leasing.withLease("invoices/export", async (lease) => {
  console.log(`withLease holds fencing token ${lease.fencingToken}`)
  return exportInvoices(lease.signal)
})
console.log(`withLease returned ${total}`)
