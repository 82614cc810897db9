/**
 * 6. Effect overhead: an uncontended acquire + release on the memory provider, at four depths, against a bare
 * `Map` lock doing the same bookkeeping (random id, expiry, ownership-checked delete):
 * - the provider's own `tryAcquire` / `release` effects, called directly;
 * - the Effect API (`LeaseManager.acquire` in a scope: options, spans, metrics, renewal fibers, release);
 * - the same with `autoRenew: false` (no renewal fiber: shows what the per-lease fibers cost);
 * - the Promise API (one `ManagedRuntime` run per call).
 * Everything is synchronous CPU work, so client CPU per cycle is the cost of the core itself.
 */
import { randomUUID } from "node:crypto"
import { Duration, Effect } from "effect"
import { now, manager as ourManager, provider as ourProvider, runOurs } from "../lib/ours.ts"
import type { Plan } from "../lib/plan.ts"
import { cpuMillis, median, round } from "../lib/stats.ts"
import { makeOursPromise } from "../lib/subjects.ts"

export interface OverheadRow {
  readonly label: string
  readonly usPerCycle: number
  readonly cpuUsPerCycle: number
  /** Time per cycle ÷ the bare Map's, in the same run (median over runs). */
  readonly vsBareMap: number
}

export interface OverheadResult {
  readonly cyclesPerRun: number
  readonly runs: number
  readonly rows: ReadonlyArray<OverheadRow>
}

interface Sample {
  readonly wallMs: number
  readonly cpuMs: number
}

const bareMap = (cycles: number, warmup: number): Promise<Sample> => {
  const locks = new Map<string, { readonly id: string; readonly expiresAt: number }>()
  const acquire = (name: string): string | undefined => {
    const t = performance.now()
    const current = locks.get(name)
    if (current !== undefined && current.expiresAt > t) return undefined
    const id = randomUUID()
    locks.set(name, { id, expiresAt: t + 10_000 })
    return id
  }
  const release = (name: string, id: string) => {
    if (locks.get(name)?.id === id) locks.delete(name)
  }
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = acquire("bench:overhead")
      if (id === undefined) throw new Error("bare map: held")
      release("bench:overhead", id)
    }
  }
  loop(warmup)
  const cpu0 = cpuMillis()
  const t0 = performance.now()
  loop(cycles)
  return Promise.resolve({ wallMs: performance.now() - t0, cpuMs: cpuMillis() - cpu0 })
}

const timed = <E, R>(cycles: number, warmup: number, cycle: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < warmup; i++) yield* cycle
    const cpu0 = cpuMillis()
    const t0 = yield* now
    for (let i = 0; i < cycles; i++) yield* cycle
    return { wallMs: (yield* now) - t0, cpuMs: cpuMillis() - cpu0 } satisfies Sample
  })

const providerRaw = (cycles: number, warmup: number) =>
  runOurs(
    Effect.gen(function* () {
      const store = yield* ourProvider("memory")
      const cycle = Effect.gen(function* () {
        const leaseId = randomUUID()
        yield* store.tryAcquire({ name: "bench:overhead", holderId: "bench", leaseId, duration: Duration.seconds(10) })
        yield* store.release({ name: "bench:overhead", leaseId })
      })
      return yield* timed(cycles, warmup, cycle)
    })
  )

const effectApi = (cycles: number, warmup: number, autoRenew: boolean) =>
  runOurs(
    Effect.gen(function* () {
      const leases = yield* ourManager("memory", "bench-overhead")
      return yield* timed(
        cycles,
        warmup,
        Effect.scoped(leases.acquire("bench:overhead", { duration: "10 seconds", autoRenew }))
      )
    })
  )

const promiseApi = async (cycles: number, warmup: number): Promise<Sample> => {
  const subject = await makeOursPromise("memory", "overhead")
  try {
    const cycle = async () => {
      const held = await subject.acquire("bench:overhead")
      if (held === null) throw new Error("promise api: held")
      await held.release()
    }
    for (let i = 0; i < warmup; i++) await cycle()
    const cpu0 = cpuMillis()
    const t0 = performance.now()
    for (let i = 0; i < cycles; i++) await cycle()
    return { wallMs: performance.now() - t0, cpuMs: cpuMillis() - cpu0 }
  } finally {
    await subject.close()
  }
}

export const runOverhead = async (plan: Plan): Promise<OverheadResult> => {
  const { runs, cycles, warmup } = plan.overhead
  const rows: ReadonlyArray<{ readonly label: string; readonly measure: () => Promise<Sample> }> = [
    { label: "bare Map acquire/release", measure: () => bareMap(cycles, warmup) },
    { label: "memory provider, raw effects", measure: () => providerRaw(cycles, warmup) },
    { label: "ours, Effect API (memory)", measure: () => effectApi(cycles, warmup, true) },
    { label: "ours, Effect API, autoRenew: false", measure: () => effectApi(cycles, warmup, false) },
    { label: "ours, Promise API (memory)", measure: () => promiseApi(cycles, warmup) }
  ]
  const samples = new Map<string, Array<Sample & { readonly vsBareMap: number }>>()
  for (let run = 0; run < runs; run++) {
    const current = new Map<string, Sample>()
    for (let i = 0; i < rows.length; i++) {
      const row = rows[(i + run) % rows.length]
      if (row !== undefined) current.set(row.label, await row.measure())
    }
    const base = current.get("bare Map acquire/release")?.wallMs ?? Number.NaN
    for (const [label, s] of current) {
      const list = samples.get(label) ?? []
      list.push({ ...s, vsBareMap: s.wallMs / base })
      samples.set(label, list)
    }
  }
  return {
    cyclesPerRun: cycles,
    runs,
    rows: rows.map(({ label }) => {
      const list = samples.get(label) ?? []
      return {
        label,
        usPerCycle: round(median(list.map((s) => (s.wallMs * 1000) / cycles)), 2),
        cpuUsPerCycle: round(median(list.map((s) => (s.cpuMs * 1000) / cycles)), 2),
        vsBareMap: round(median(list.map((s) => s.vsBareMap)), 1)
      }
    })
  }
}
