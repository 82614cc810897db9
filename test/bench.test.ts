/**
 * The benchmark is part of the product (`npm run bench`): its quick mode must keep working. This runs
 * `bench/run.ts --quick` as a child process, as CI does, and checks that it exits 0 and writes every section.
 * It never asserts a timing: only that each measurement was made and is a number.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, expect, it } from "vitest"

const dir = mkdtempSync(join(tmpdir(), "leasing-bench-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Labelled {
  readonly label: string
}

/** The parts of the JSON this test reads. */
interface QuickResult {
  readonly mode: string
  readonly machine: { readonly redisServer: string }
  readonly targets: ReadonlyArray<{ readonly status: string }>
  readonly sections: {
    readonly uncontended: { readonly rows: ReadonlyArray<Labelled & { readonly cyclesPerSecond: number }> }
    readonly commands: {
      readonly rows: ReadonlyArray<Labelled & Record<"acquire" | "renew" | "release", { readonly roundTrips: number }>>
    }
    readonly handoff: {
      readonly rows: ReadonlyArray<Labelled & { readonly cells: ReadonlyArray<{ waiters: number }> }>
    }
    readonly throughput: { readonly rows: ReadonlyArray<Labelled & { readonly cells: ReadonlyArray<unknown> }> }
    readonly held: { readonly rows: ReadonlyArray<Labelled & { readonly heapPerLeaseBytes: number }> }
    readonly overhead: { readonly rows: ReadonlyArray<Labelled> }
  }
}

const labels = (rows: ReadonlyArray<Labelled>) => rows.map((r) => r.label)

it("bench/run.ts --quick exits 0 and writes every section", async () => {
  const out = join(dir, "quick.json")
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=leasing-source", "bench/run.ts", "--quick", `--out=${out}`],
    { env: { ...process.env, NO_COLOR: "1" }, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 }
  )
  expect(stdout).toContain("Targets")
  const result: QuickResult = JSON.parse(readFileSync(out, "utf8"))
  expect(result.mode).toBe("quick")
  expect(Object.keys(result.sections).sort()).toEqual(
    ["commands", "handoff", "held", "overhead", "throughput", "uncontended"].sort()
  )
  const { uncontended, commands, handoff, throughput, held, overhead } = result.sections
  const peers = ["redis-semaphore 5.8 Mutex", "@sesamecare-oss/redlock 1.4", "redlock 5.0.0-beta.2"]
  expect(labels(uncontended.rows)).toEqual([
    "floor: 2 × PING, same connection",
    "ours, Promise API",
    "ours, Effect API",
    ...peers
  ])
  for (const row of uncontended.rows) expect(row.cyclesPerSecond).toBeGreaterThan(0)
  expect(labels(commands.rows)).toEqual(["ours, Promise API", ...peers])
  for (const row of commands.rows) {
    for (const op of [row.acquire, row.renew, row.release]) expect(op.roundTrips).toBeGreaterThan(0)
  }
  expect(handoff.rows).toHaveLength(2 + peers.length)
  for (const row of handoff.rows) expect(row.cells.map((c) => c.waiters)).toEqual([1, 8, 64])
  expect(throughput.rows).toHaveLength(2 + peers.length)
  for (const row of throughput.rows) expect(row.cells).toHaveLength(4)
  expect(labels(held.rows)).toEqual(["ours, memory", "ours, redis", "redis-semaphore 5.8 Mutex"])
  for (const row of held.rows) expect(Number.isFinite(row.heapPerLeaseBytes)).toBe(true)
  expect(labels(overhead.rows)).toContain("bare Map acquire/release")
  expect(result.targets.length).toBeGreaterThan(0)
  expect(result.machine.redisServer).toMatch(/^\d+\.\d+/)
}, 120_000)
