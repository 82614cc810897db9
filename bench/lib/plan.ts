/**
 * How much of everything a run does: the full plan (a few minutes on 2 cores) and the quick one (seconds, for CI).
 */
export interface Plan {
  readonly mode: "full" | "quick"
  readonly uncontended: { readonly runs: number; readonly cycles: number; readonly warmup: number }
  readonly commands: { readonly ops: number }
  readonly handoff: { readonly waiters: ReadonlyArray<number>; readonly rounds: Readonly<Record<number, number>> }
  readonly throughput: {
    readonly workers: ReadonlyArray<number>
    readonly names: ReadonlyArray<number>
    readonly runs: number
    readonly windowMs: number
  }
  readonly held: {
    readonly counts: ReadonlyArray<number>
    /** Lease duration; renewal comes due at 2/3 of it. */
    readonly durationMs: number
    readonly windowMs: number
    readonly acquireConcurrency: number
    /** Counts at which the redis-semaphore reference is measured too. */
    readonly peerCounts: ReadonlyArray<number>
  }
  readonly overhead: { readonly runs: number; readonly cycles: number; readonly warmup: number }
}

export const fullPlan: Plan = {
  mode: "full",
  uncontended: { runs: 5, cycles: 1_000, warmup: 200 },
  commands: { ops: 100 },
  handoff: { waiters: [1, 8, 64], rounds: { 1: 25, 8: 15, 64: 8 } },
  throughput: { workers: [8, 64], names: [1, 1_000], runs: 3, windowMs: 1_000 },
  held: { counts: [1_000, 10_000], durationMs: 3_000, windowMs: 6_500, acquireConcurrency: 64, peerCounts: [10_000] },
  overhead: { runs: 5, cycles: 3_000, warmup: 500 }
}

export const quickPlan: Plan = {
  mode: "quick",
  uncontended: { runs: 1, cycles: 50, warmup: 10 },
  commands: { ops: 5 },
  handoff: { waiters: [1, 8, 64], rounds: { 1: 2, 8: 1, 64: 1 } },
  throughput: { workers: [8, 64], names: [1, 1_000], runs: 1, windowMs: 150 },
  held: { counts: [200], durationMs: 900, windowMs: 1_300, acquireConcurrency: 64, peerCounts: [200] },
  overhead: { runs: 1, cycles: 200, warmup: 20 }
}
