/**
 * The SIGTERM handoff example, run as a user would: three replicas, a hands leadership to b on SIGTERM, the store
 * is never seen free, c never leads, and b's token is higher.
 */
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { expect, it } from "vitest"

it("leader-election-handoff.ts: a SIGTERM hands leadership over with no gap, and the process exits", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=leasing-source", "examples/leader-election-handoff.ts"],
    { timeout: 30_000 }
  )
  expect(stdout).toContain("a leads (fencing token 1)")
  expect(stdout).toContain("a: SIGTERM, handing leadership to b")
  expect(stdout).toContain("b claimed the lease with fencing token 2")
  expect(stdout).toContain("c never led: true")
  expect(stdout).toContain("the store was seen held by a, then held by b; never free: true")
}, 40_000)
