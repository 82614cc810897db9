/**
 * `examples/chaos-survival.ts` run as a user would (a separate Node process importing the package by its public
 * names), checked for its story: a partitioned sender gives the lease up before the store could expire it, a robbed
 * sender is stopped by the ledger's fencing check, no stale write is accepted, and batches flow after the chaos.
 */
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { promisify } from "node:util"
import { expect, it } from "vitest"

it("the package exports the kit as distributed-leasing/testing", () => {
  const pkg: { exports: Record<string, unknown> } = JSON.parse(readFileSync("package.json", "utf8"))
  expect(pkg.exports["./testing"]).toEqual({
    "leasing-source": "./src/testing/index.ts",
    types: "./dist/testing/index.d.ts",
    default: "./dist/testing/index.js"
  })
})

it("the chaos-survival example survives its chaos run and exits by itself with code 0", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=leasing-source", "examples/chaos-survival.ts"],
    { env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 }
  )
  // execFile rejects on a non-zero exit code, so reaching here means exit code 0.
  expect(stdout).toMatch(/chaos: replica-\w (\(the sender\) )?is partitioned from the store/)
  expect(stdout).toMatch(/lost the lease \(unconfirmed\) \d+ ms before the store could expire it/)
  expect(stdout).toMatch(/chaos: the lease is stolen from replica-\w/)
  expect(stdout).toMatch(/write was refused by the ledger \(stale\)/)
  expect(stdout).toContain("stale writes accepted: 0")
  const after = Number(/after the chaos: (\d+) batches/.exec(stdout)?.[1])
  expect(after).toBeGreaterThan(0)
  expect(stdout).toContain("service survived: yes")
  // Every sender's token is higher than the previous one's.
  const tokens = [...stdout.matchAll(/is the sender \(fencing token (\d+)\)/g)].map((m) => Number(m[1]))
  expect(tokens.length).toBeGreaterThan(4)
  expect(tokens).toEqual([...tokens].sort((a, b) => a - b))
}, 40_000)
