/**
 * Small statistics helpers for the benchmark: percentiles, medians, fairness.
 */

/** The nearest-rank percentile of already sorted samples (`p` in 0–100). */
export const percentileSorted = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN
}

export const sortNumbers = (samples: ReadonlyArray<number>): Array<number> => [...samples].sort((a, b) => a - b)

export const percentile = (samples: ReadonlyArray<number>, p: number): number =>
  percentileSorted(sortNumbers(samples), p)

export const median = (samples: ReadonlyArray<number>): number => {
  const finite = samples.filter((x) => Number.isFinite(x))
  if (finite.length === 0) return Number.NaN
  const sorted = sortNumbers(finite)
  const mid = Math.floor(sorted.length / 2)
  const hi = sorted[mid] ?? Number.NaN
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2
}

export const mean = (samples: ReadonlyArray<number>): number =>
  samples.length === 0 ? Number.NaN : samples.reduce((a, b) => a + b, 0) / samples.length

/** Latency summary of one run, in milliseconds. */
export interface LatencySummary {
  readonly n: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export const summarize = (samples: ReadonlyArray<number>): LatencySummary => {
  const sorted = sortNumbers(samples)
  return {
    n: sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: mean(sorted)
  }
}

/** Spread of acquisitions per worker. Jain's index is 1 for a perfectly even spread and 1/n for one winner. */
export interface Fairness {
  readonly min: number
  readonly max: number
  /** Coefficient of variation (stddev / mean). */
  readonly cv: number
  /** Jain's fairness index: (Σx)² / (n · Σx²). */
  readonly jain: number
  /** Workers that never acquired. */
  readonly starved: number
}

export const fairness = (counts: ReadonlyArray<number>): Fairness => {
  const n = counts.length
  const total = counts.reduce((a, b) => a + b, 0)
  const squares = counts.reduce((a, b) => a + b * b, 0)
  const avg = n === 0 ? 0 : total / n
  const variance = n === 0 ? 0 : counts.reduce((a, b) => a + (b - avg) ** 2, 0) / n
  return {
    min: n === 0 ? 0 : Math.min(...counts),
    max: n === 0 ? 0 : Math.max(...counts),
    cv: avg === 0 ? Number.NaN : Math.sqrt(variance) / avg,
    jain: squares === 0 ? Number.NaN : (total * total) / (n * squares),
    starved: counts.filter((c) => c === 0).length
  }
}

/** Rounds for JSON: keeps 3 significant decimals of small numbers, whole numbers of large ones. */
export const round = (x: number, digits = 3): number => {
  if (!Number.isFinite(x)) return x
  const factor = 10 ** digits
  return Math.round(x * factor) / factor
}

/** Process CPU time (user + system) in milliseconds. */
export const cpuMillis = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A uniformly random number in [lo, hi). */
export const uniform = (lo: number, hi: number): number => lo + Math.random() * (hi - lo)
