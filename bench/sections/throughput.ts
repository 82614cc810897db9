/**
 * 4. Throughput under contention: W workers loop acquire → release (no work while holding) for a fixed window,
 * either all on one name or each cycle on a random one of 1,000 names. All workers of a library share one client
 * (fibers or async tasks of one service). Reported: cycles per second (acquisitions inside the window) and the
 * spread of acquisitions per worker. Waits use the library's defaults; an acquire that gives up is counted and
 * retried. At the end of the window the waits are cancelled where the library allows it (ours, redis-semaphore);
 * redlock's cannot be, so its workers finish their current attempt.
 */
import { Effect, Fiber } from "effect"
import { manager as ourManager, runOurs } from "../lib/ours.ts"
import type { Plan } from "../lib/plan.ts"
import type { RedisServer } from "../lib/redis.ts"
import { type Fairness, fairness, median, round, sleep } from "../lib/stats.ts"
import { makeOursPromise, makePeer, peerIds, type Subject } from "../lib/subjects.ts"

export interface ThroughputCell {
  readonly workers: number
  readonly names: number
  readonly cyclesPerSecond: number
  readonly fairness: Fairness
  /** Acquires that gave up (retry budget exhausted), per run, median. */
  readonly gaveUp: number
  readonly runs: ReadonlyArray<{ readonly cyclesPerSecond: number; readonly jain: number }>
}

export interface ThroughputRow {
  readonly label: string
  readonly cells: ReadonlyArray<ThroughputCell>
}

export interface ThroughputResult {
  readonly windowMs: number
  readonly runs: number
  readonly rows: ReadonlyArray<ThroughputRow>
}

interface RunOutcome {
  readonly counts: ReadonlyArray<number>
  readonly gaveUp: number
}

const pickName = (base: string, names: number) =>
  names === 1 ? () => base : () => `${base}:${Math.floor(Math.random() * names)}`

const promiseRun = async (subject: Subject, base: string, workers: number, names: number, windowMs: number) => {
  const counts = new Array<number>(workers).fill(0)
  let gaveUp = 0
  let stop = false
  const controller = new AbortController()
  const next = pickName(base, names)
  const deadline = performance.now() + windowMs
  const loops = counts.map(async (_, w) => {
    while (!stop) {
      const held = await subject.acquire(next(), controller.signal)
      if (held === null) {
        if (!stop) gaveUp++
        continue
      }
      if (performance.now() <= deadline) counts[w] = (counts[w] ?? 0) + 1
      await held.release()
    }
  })
  await sleep(windowMs)
  stop = true
  controller.abort()
  await Promise.all(loops)
  return { counts, gaveUp } satisfies RunOutcome
}

const effectRun = (server: RedisServer, base: string, workers: number, names: number, windowMs: number) =>
  runOurs(
    Effect.gen(function* () {
      const leases = yield* ourManager(server, "bench-throughput-effect")
      const counts = new Array<number>(workers).fill(0)
      const next = pickName(base, names)
      // Warm-up: the connection and the scripts.
      yield* Effect.scoped(leases.acquire(`${base}:warm`, { duration: "10 seconds" }))
      const deadline = performance.now() + windowMs
      const fibers = yield* Effect.forEach(counts, (_, w) =>
        Effect.forkChild(
          Effect.forever(
            Effect.scoped(
              Effect.andThen(
                leases.acquire(next(), { duration: "10 seconds" }),
                Effect.sync(() => {
                  if (performance.now() <= deadline) counts[w] = (counts[w] ?? 0) + 1
                })
              )
            )
          ),
          { startImmediately: true }
        )
      )
      yield* Effect.sleep(windowMs)
      yield* Fiber.interruptAll(fibers)
      return { counts, gaveUp: 0 } satisfies RunOutcome
    })
  )

const toCell = (workers: number, names: number, windowMs: number, outcomes: ReadonlyArray<RunOutcome>) => {
  const runs = outcomes.map((o) => ({
    cyclesPerSecond: round((o.counts.reduce((a, b) => a + b, 0) / windowMs) * 1000, 0),
    jain: round(fairness(o.counts).jain, 3),
    fairness: fairness(o.counts)
  }))
  // The fairness reported is the one of the run with the median throughput.
  const med = median(runs.map((r) => r.cyclesPerSecond))
  const mid = runs.reduce((best, r) =>
    Math.abs(r.cyclesPerSecond - med) < Math.abs(best.cyclesPerSecond - med) ? r : best
  )
  const f = mid.fairness
  return {
    workers,
    names,
    cyclesPerSecond: round(med, 0),
    fairness: { min: f.min, max: f.max, cv: round(f.cv, 3), jain: round(f.jain, 3), starved: f.starved },
    gaveUp: median(outcomes.map((o) => o.gaveUp)),
    runs: runs.map(({ cyclesPerSecond, jain }) => ({ cyclesPerSecond, jain }))
  } satisfies ThroughputCell
}

export const runThroughput = async (server: RedisServer, plan: Plan): Promise<ThroughputResult> => {
  const { workers, names, runs, windowMs } = plan.throughput
  type Runner = { readonly label: string; readonly run: (base: string, w: number, n: number) => Promise<RunOutcome> }
  const subjects: Array<Subject> = []
  const runners: Array<Runner> = [
    {
      label: "ours, Effect API",
      run: (base, w, n) => effectRun(server, base, w, n, windowMs)
    }
  ]
  const promise = await makeOursPromise(server, "throughput")
  subjects.push(promise)
  runners.push({ label: promise.label, run: (base, w, n) => promiseRun(promise, base, w, n, windowMs) })
  for (const id of peerIds) {
    const peer = await makePeer(id, server, "throughput")
    subjects.push(peer)
    runners.push({ label: peer.label, run: (base, w, n) => promiseRun(peer, base, w, n, windowMs) })
  }
  const outcomes = new Map<string, Array<RunOutcome>>()
  const key = (label: string, w: number, n: number) => `${label}|${w}|${n}`
  try {
    for (let run = 0; run < runs; run++) {
      for (const w of workers) {
        for (const n of names) {
          for (let i = 0; i < runners.length; i++) {
            const runner = runners[(i + run) % runners.length]
            if (runner === undefined) continue
            const base = `bench:throughput:${runner.label.replace(/\W+/g, "-")}:${w}:${n}:${run}`
            const outcome = await runner.run(base, w, n)
            const list = outcomes.get(key(runner.label, w, n)) ?? []
            list.push(outcome)
            outcomes.set(key(runner.label, w, n), list)
          }
        }
      }
    }
  } finally {
    for (const s of subjects) await s.close()
  }
  return {
    windowMs,
    runs,
    rows: runners.map((runner) => ({
      label: runner.label,
      cells: workers.flatMap((w) =>
        names.map((n) => toCell(w, n, windowMs, outcomes.get(key(runner.label, w, n)) ?? []))
      )
    }))
  }
}
