/**
 * `npm run demo` is part of the product: run it as a user would and check its story.
 */
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { expect, it } from "vitest"

it("the competition demo runs, shows a takeover with a higher token and a fenced stale write, and exits", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["--conditions=leasing-source", "examples/demo.ts"], {
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 30_000
  })
  const tokens = [...stdout.matchAll(/acquired "nightly-report" with fencing token (\d+)/g)].map((m) => Number(m[1]))
  expect(tokens).toEqual([1, 2, 3, 4])
  expect(stdout).toContain("lease lost (unconfirmed)")
  expect(stdout).toMatch(/late write with token 2 rejected by the resource/)
  expect(stdout).toContain("14 writes accepted, 1 stale write rejected, highest token 4, at most 1 holder at any time.")
}, 40_000)
