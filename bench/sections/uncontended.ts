/**
 * 1. Uncontended cycle: acquire then release, one client, sequential, on one name. Every row runs in every run,
 * in a rotated order; ratios are computed inside each run and their median reported.
 *
 * The floor is two `PING`s on one connection: an acquire and a release can be no faster than two round trips.
 */
import { Effect } from "effect"
import type { Redis } from "ioredis"
import { now, manager as ourManager, runOurs } from "../lib/ours.ts"
import type { Plan } from "../lib/plan.ts"
import { connect, type RedisServer } from "../lib/redis.ts"
import { cpuMillis, median, round, summarize } from "../lib/stats.ts"
import { makeOursPromise, makePeer, peerIds, peerLabels, type Subject } from "../lib/subjects.ts"

export interface UncontendedRow {
  readonly label: string
  readonly cyclesPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Client (Node) CPU time per cycle, microseconds. Redis' own time is not included. */
  readonly cpuUsPerCycle: number
  /** p50 ÷ the floor's p50 in the same run (median over runs). */
  readonly p50VsFloor: number
  /** Cycles/s ÷ the fastest peer's cycles/s in the same run (median over runs): > 1 is faster. */
  readonly speedVsFastestPeer: number
  readonly runs: ReadonlyArray<{ readonly cyclesPerSecond: number; readonly p50Ms: number; readonly p99Ms: number }>
}

export interface UncontendedResult {
  readonly cyclesPerRun: number
  readonly runs: number
  readonly rows: ReadonlyArray<UncontendedRow>
}

interface RunSample {
  readonly latencies: ReadonlyArray<number>
  readonly totalMs: number
  readonly cpuMs: number
}

/** Times `cycles` calls of `cycle`, after `warmup` untimed ones. */
const timeLoop = async (cycles: number, warmup: number, cycle: () => Promise<void>): Promise<RunSample> => {
  for (let i = 0; i < warmup; i++) await cycle()
  const latencies: Array<number> = []
  const cpu0 = cpuMillis()
  const start = performance.now()
  for (let i = 0; i < cycles; i++) {
    const t = performance.now()
    await cycle()
    latencies.push(performance.now() - t)
  }
  return { latencies, totalMs: performance.now() - start, cpuMs: cpuMillis() - cpu0 }
}

interface Row {
  readonly label: string
  readonly measure: (cycles: number, warmup: number) => Promise<RunSample>
  readonly close: () => Promise<void>
}

const floorRow = (client: Redis): Row => ({
  label: "floor: 2 × PING, same connection",
  measure: (cycles, warmup) =>
    timeLoop(cycles, warmup, async () => {
      await client.ping()
      await client.ping()
    }),
  close: async () => {
    await client.quit()
  }
})

const subjectRow = (subject: Subject, name: string): Row => ({
  label: subject.label,
  measure: (cycles, warmup) =>
    timeLoop(cycles, warmup, async () => {
      const held = await subject.acquire(name)
      if (held === null) throw new Error(`${subject.label}: an uncontended acquire gave up`)
      await held.release()
    }),
  close: subject.close
})

/** The Effect API measured from inside Effect: one `runPromise` per run, the loop itself is Effect code. */
const effectRow = (server: RedisServer): Row => ({
  label: "ours, Effect API",
  measure: (cycles, warmup) =>
    runOurs(
      Effect.gen(function* () {
        const leases = yield* ourManager(server, "bench-uncontended-effect")
        const cycle = Effect.scoped(leases.acquire("bench:uncontended:effect", { duration: "10 seconds" }))
        for (let i = 0; i < warmup; i++) yield* cycle
        const latencies: Array<number> = []
        const cpu0 = cpuMillis()
        const start = performance.now()
        for (let i = 0; i < cycles; i++) {
          const t = yield* now
          yield* cycle
          latencies.push((yield* now) - t)
        }
        return { latencies, totalMs: performance.now() - start, cpuMs: cpuMillis() - cpu0 }
      })
    ),
  close: async () => {}
})

export const runUncontended = async (server: RedisServer, plan: Plan): Promise<UncontendedResult> => {
  const { runs, cycles, warmup } = plan.uncontended
  const rows: Array<Row> = [
    floorRow(await connect(server, "bench:floor")),
    subjectRow(await makeOursPromise(server, "uncontended"), "bench:uncontended:promise"),
    effectRow(server)
  ]
  for (const id of peerIds) rows.push(subjectRow(await makePeer(id, server, "uncontended"), `bench:uncontended:${id}`))
  const peerLabelSet = new Set<string>(Object.values(peerLabels))
  const perRow = new Map<string, Array<{ sample: RunSample; p50VsFloor: number; speedVsFastestPeer: number }>>()
  try {
    for (let run = 0; run < runs; run++) {
      // Rotate the order so that a change of machine load does not always hit the same row.
      const order = rows.map((_, i) => rows[(i + run) % rows.length]).filter((r): r is Row => r !== undefined)
      const samples = new Map<string, RunSample>()
      for (const row of order) samples.set(row.label, await row.measure(cycles, run === 0 ? warmup * 2 : warmup))
      const floor = samples.get(rows[0]?.label ?? "")
      const floorP50 = floor === undefined ? Number.NaN : summarize(floor.latencies).p50
      const peerSpeeds = [...samples].filter(([label]) => peerLabelSet.has(label)).map(([, s]) => cycles / s.totalMs)
      const fastestPeer = Math.max(...peerSpeeds)
      for (const [label, sample] of samples) {
        const list = perRow.get(label) ?? []
        list.push({
          sample,
          p50VsFloor: summarize(sample.latencies).p50 / floorP50,
          speedVsFastestPeer: cycles / sample.totalMs / fastestPeer
        })
        perRow.set(label, list)
      }
    }
  } finally {
    for (const row of rows) await row.close()
  }
  return {
    cyclesPerRun: cycles,
    runs,
    rows: rows.map((row): UncontendedRow => {
      const list = perRow.get(row.label) ?? []
      const perRun = list.map(({ sample }) => {
        const s = summarize(sample.latencies)
        return { cyclesPerSecond: round((cycles / sample.totalMs) * 1000, 0), p50Ms: round(s.p50), p99Ms: round(s.p99) }
      })
      return {
        label: row.label,
        cyclesPerSecond: round(median(perRun.map((r) => r.cyclesPerSecond)), 0),
        p50Ms: round(median(perRun.map((r) => r.p50Ms))),
        p99Ms: round(median(perRun.map((r) => r.p99Ms))),
        cpuUsPerCycle: round(median(list.map(({ sample }) => (sample.cpuMs * 1000) / cycles)), 1),
        p50VsFloor: round(median(list.map((x) => x.p50VsFloor)), 2),
        speedVsFastestPeer: round(median(list.map((x) => x.speedVsFastestPeer)), 2),
        runs: perRun
      }
    })
  }
}
