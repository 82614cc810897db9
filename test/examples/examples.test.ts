/**
 * Runs every example exactly as its header says (`node --conditions=leasing-source examples/<file>.ts`, with this
 * project's Node), on the memory provider and, where the example reads its provider from the environment, on a
 * private `redis-server`; asserts on what it prints, that it exits by itself, and with code 0.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createLeasing } from "../../src/promise/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { type RedisServer, startRedisServer } from "../support/redisServer.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))

interface Run {
  readonly child: ChildProcess
  /** Everything printed so far (stdout and stderr). */
  readonly output: () => string
  /** Resolves when the output contains `text`. */
  readonly waitFor: (text: string) => Promise<void>
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const start = (file: string, env: Record<string, string> = {}): Run => {
  const child = spawn(process.execPath, ["--conditions=leasing-source", `examples/${file}`], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const waiters = new Set<() => void>()
  const append = (chunk: Buffer) => {
    output += chunk.toString()
    for (const waiter of waiters) waiter()
  }
  child.stdout?.on("data", append)
  child.stderr?.on("data", append)
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  // An example that does not exit by itself fails its test rather than hanging it.
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000)
  void exit.then(() => clearTimeout(killer))
  const waitFor = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (output.includes(text)) {
          waiters.delete(check)
          resolve()
        }
      }
      waiters.add(check)
      check()
      void exit.then(() => {
        if (!output.includes(text)) reject(new Error(`exited without printing "${text}":\n${output}`))
      })
    })
  return { child, output: () => output, waitFor, exit }
}

/** Runs an example to its end; asserts it exited by itself with code 0 and returns its output. */
const run = async (file: string, env?: Record<string, string>): Promise<string> => {
  const example = start(file, env)
  const { code, signal } = await example.exit
  expect({ code, signal }, example.output()).toEqual({ code: 0, signal: null })
  return example.output()
}

const lines = (output: string, pattern: RegExp): Array<string> =>
  output.split("\n").filter((line) => pattern.test(line))

let redis: RedisServer | undefined
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await redis?.close()
})
const redisEnv = (): Record<string, string> => {
  if (redis === undefined) throw new Error("redis-server did not start")
  return { LEASING_PROVIDER: "redis", LEASING_REDIS_URL: redis.url }
}

describe("examples", () => {
  it("effect-app.ts: scoped lease, events, typed error, withLease (memory)", async () => {
    const output = await run("effect-app.ts")
    expect(output).toContain("acquired reports/daily with fencing token 1 (provider memory)")
    expect(output).toContain("someone-else could not get it: LeaseAcquisitionTimeoutError")
    expect(output).toContain("event: Acquired")
    expect(output).toContain("event: Renewed")
    expect(output).toMatch(/renewed [1-9] time\(s\); releasing/)
    expect(output).toContain("after the scope: held=false")
    expect(output).toContain("withLease ran with fencing token 2")
    expect(output.trim().endsWith("done")).toBe(true)
  })

  it("effect-app.ts runs unchanged on Redis, chosen by LEASING_PROVIDER", async () => {
    const output = await run("effect-app.ts", redisEnv())
    expect(output).toContain("(provider redis)")
    expect(output).toContain("after the scope: held=false")
    expect(output).toContain("withLease ran with fencing token")
  })

  it("promise-app.ts: await using, AbortSignal, instanceof, withLease", async () => {
    const output = await run("promise-app.ts")
    expect(lines(output, /./)).toEqual([
      "holding invoices/export with fencing token 1",
      "the impatient caller gave up: TimeoutError",
      "timed out: LeaseAcquisitionTimeoutError",
      "exported 3 batches under the lease",
      "released invoices/export (confirmed: true)",
      "after the block: held=false",
      "withLease holds fencing token 2",
      "withLease returned 3"
    ])
  })

  it("leader-election.ts: a replica takes over when the leader dies, once its lease ran out", async () => {
    const output = await run("leader-election.ts")
    const first = /^(replica-\d) is the leader \(fencing token 1\)$/m.exec(output)?.[1]
    expect(first).toBeDefined()
    expect(output).toContain(`${first} dies without releasing the lease`)
    const takeover = /^(replica-\d) took over (\d+) ms after the death.*\(fencing token 1 -> 2\)$/m.exec(output)
    expect(takeover?.[1]).toBeDefined()
    expect(takeover?.[1]).not.toBe(first)
    // Not at once (a release would have woken a waiter in a few ms): only when the dead leader's 1 s lease ran out.
    expect(Number(takeover?.[2])).toBeGreaterThan(150)
    expect(lines(output, /is the leader/)).toHaveLength(2)
    expect(output).toContain("after shutdown: held=false")
  })

  it("cron-job.ts: each tick runs on exactly one replica, although every replica fires", async () => {
    const output = await run("cron-job.ts")
    for (const tick of [1, 2, 3]) {
      expect(lines(output, new RegExp(`^tick ${tick}: replica-. runs the report$`))).toHaveLength(1)
      expect(lines(output, new RegExp(`^tick ${tick}: replica-. skips`))).toHaveLength(2)
    }
    // Different replicas win different ticks: the lease decides, not a fixed leader.
    expect(new Set(lines(output, /runs the report/).map((line) => line.split(" ")[2])).size).toBeGreaterThan(1)
    expect(output).toContain("done: 3 ticks on 3 replicas")
  })

  it("graceful-shutdown.ts: exits by itself (it sends itself SIGTERM) and releases", async () => {
    const output = await run("graceful-shutdown.ts", { SHUTDOWN_AFTER_MS: "300" })
    expect(output).toContain("holds singleton/worker (fencing token 1)")
    expect(output).toContain("SIGTERM: stopping")
    expect(output).toContain("lease released, exiting")
  })

  it("graceful-shutdown.ts on Redis: an external SIGTERM releases the lease in the store at once", async () => {
    await using observer = createLeasing({
      provider: RedisLeaseProvider.layer({ url: Redacted.make(redisEnv().LEASING_REDIS_URL ?? "") }),
      logLevel: "None"
    })
    const example = start("graceful-shutdown.ts", {
      ...redisEnv(),
      SHUTDOWN_AFTER_MS: "60000",
      LEASING_HOLDER_ID: "worker-1"
    })
    await example.waitFor("holds singleton/worker")
    const before = await observer.inspect("singleton/worker")
    expect(before).toMatchObject({ held: true, holderId: "worker-1" })
    const signalledAt = Date.now()
    example.child.kill("SIGTERM")
    const { code, signal } = await example.exit
    expect({ code, signal }, example.output()).toEqual({ code: 0, signal: null })
    expect(example.output()).toContain("SIGTERM: stopping")
    expect(example.output()).toContain("lease released, exiting")
    // Released, not expired: the lease had 10 s left.
    expect((await observer.inspect("singleton/worker")).held).toBe(false)
    expect(Date.now() - signalledAt).toBeLessThan(5_000)
  })
})
