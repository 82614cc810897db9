/**
 * The Promise forms of issue 11 and issue 8: `leasing.election(name)`, `lease.handoff(successor)` +
 * `leasing.claim(name, token)`, and `leasing.health()`, on one shared memory store in real time.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { LeaseProvider } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { createLeasing, LeaseTransferError } from "../../src/promise/index.ts"

const sharedStore = () => {
  const store = Effect.runSync(MemoryLeaseProvider.make())
  return (holderId: string) => createLeasing({ provider: Layer.succeed(LeaseProvider, store), holderId })
}

describe("Promise API: election, handoff, health", () => {
  it("hands a lease to a named successor with no gap; the successor claims it with a higher token", async () => {
    const client = sharedStore()
    await using a = client("a")
    await using b = client("b")
    const lease = await a.acquire("job", { duration: "5 seconds" })
    const token = await lease.handoff("b")
    expect(lease.signal.aborted).toBe(true)
    expect((lease.signal.reason as Error).message).toContain("released")
    expect((await a.inspect("job")).holderId).toBe("b")
    const claimed = await b.claim("job", token, { duration: "5 seconds" })
    expect(claimed.fencingToken).toBeGreaterThan(lease.fencingToken)
    const wrong = b.claim("job", token, { duration: "5 seconds" })
    await expect(wrong).rejects.toBeInstanceOf(LeaseTransferError)
    await expect(wrong).rejects.toMatchObject({ _tag: "LeaseTransferError", reason: "invalid-token" })
  })

  it("elects one leader, reports leadership changes, and fails over when the leader resigns", async () => {
    const client = sharedStore()
    await using a = client("a")
    await using b = client("b")
    const ea = await a.election("leader", { duration: "2 seconds", observeInterval: 50 })
    const eb = await b.election("leader", { duration: "2 seconds", observeInterval: 50 })
    const changes: Array<string> = []
    eb.on("leadershipChanged", (leading) => changes.push(`b:${leading}`))
    await ea.campaign()
    expect(ea.isLeader).toBe(true)
    const bCampaign = eb.campaign()
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(eb.isLeader).toBe(false)
    expect(eb.leader).toBe("a")
    await ea.resign()
    const token = await bCampaign
    expect(typeof token).toBe("bigint")
    expect(eb.isLeader).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(ea.leader).toBe("b")
    expect(changes).toContain("b:true")
  })

  it("runWhileLeader aborts the work's signal when leadership is lost", async () => {
    const client = sharedStore()
    await using a = client("a")
    await using ops = client("ops")
    const election = await a.election("leader", { duration: "600 millis" })
    let aborted = 0
    let runs = 0
    const running = election.runWhileLeader(
      (signal) =>
        new Promise<string>((resolve) => {
          runs++
          if (runs === 2) resolve("second term done")
          signal.addEventListener("abort", () => aborted++)
        })
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(runs).toBe(1)
    await ops.breakLease("leader") // the next renewal (at 400 ms) finds the lease broken
    await expect(running).resolves.toBe("second term done")
    expect(aborted).toBe(1)
    expect(runs).toBe(2)
  })

  it("health() reports the client's leases and probes the store", async () => {
    const client = sharedStore()
    await using a = client("a")
    await a.acquire("job", { duration: "5 seconds" })
    const report = await a.health({ probe: true })
    expect(report.status).toBe("Healthy")
    expect(report.leases.map((l) => l.name)).toEqual(["job"])
    expect(report.store?.outcome).toBe("acquired")
  })
})
