/**
 * The fault mixes of the suite, as data: latency; errors of every mapped type; renewal outages longer than the
 * safety margin; lease theft; holders paused longer than their lease; store partitions. Times are scaled by the
 * lease duration, so the same mixes run on memory (1 s leases, virtual time) and on Redis (2 s leases, real time).
 */
import { Duration, Effect } from "effect"
import { Fault, FaultPolicy, Latency } from "../../src/testing/index.ts"
import type { DriverContext, Scenario } from "./harness.ts"

/** Sizes that differ per backend. */
export interface Scale {
  /** Lease duration, ms. */
  readonly lease: number
  readonly faultMs: number
  readonly healMs: number
  readonly minCyclesAfterHeal: number
  /** Multiplies the work and think times (shorter work gives more cycles in real time). Default 1. */
  readonly work?: number | undefined
}

const base = (scale: Scale) => {
  const work = scale.work ?? 1
  return {
    contenders: 8,
    leaseName: "orders/ledger",
    options: { duration: scale.lease },
    faultMs: scale.faultMs,
    healMs: scale.healMs,
    minCyclesAfterHeal: scale.minCyclesAfterHeal,
    // Work from a few ms to ~2.5 lease durations (at work = 1): about half the cycles live through a renewal.
    steps: [1, 6] as const,
    stepMs: [Math.round(scale.lease * 0.02 * work), Math.round(scale.lease * 0.4 * work)] as const,
    thinkMs: [0, Math.round(scale.lease * 0.05 * work)] as const
  }
}

const pick = (random: () => number, lo: number, hi: number) => Math.round(lo + (hi - lo) * random())

/** Slow calls: always a little, sometimes longer than `attemptTimeout` (10% of the lease), sometimes a late reply. */
export const latency = (scale: Scale): Scenario => ({
  ...base(scale),
  name: "latency",
  rules: () => ({
    all: [
      { fault: Fault.latency(Latency.uniform(0, scale.lease * 0.03)), label: "jitter" },
      {
        when: FaultPolicy.probability(0.1),
        fault: Fault.latency(Latency.uniform(scale.lease * 0.08, scale.lease * 0.5)),
        label: "slow"
      },
      {
        when: FaultPolicy.probability(0.1),
        fault: Fault.latency(Latency.exponential(scale.lease * 0.04, { max: scale.lease * 0.3 }), { phase: "reply" }),
        label: "late reply"
      }
    ]
  })
})

/** Every error an operation can fail with, retryable or not, before or after the store applied the call. */
export const errors = (scale: Scale): Scenario => ({
  ...base(scale),
  name: "errors",
  rules: () => ({
    acquire: [
      { when: FaultPolicy.probability(0.1), fault: Fault.unavailable() },
      { when: FaultPolicy.probability(0.01), fault: Fault.unavailable({ retryable: false }) },
      { when: FaultPolicy.probability(0.05), fault: Fault.conflict() },
      { when: FaultPolicy.probability(0.02), fault: Fault.unavailable({ phase: "reply" }) },
      { when: FaultPolicy.probability(0.02), fault: Fault.timeout({ phase: "reply" }) }
    ],
    renew: [
      { when: FaultPolicy.probability(0.2), fault: Fault.unavailable() },
      { when: FaultPolicy.probability(0.05), fault: Fault.timeout() },
      { when: FaultPolicy.probability(0.05), fault: Fault.unavailable({ phase: "reply" }) },
      { when: FaultPolicy.probability(0.03), fault: Fault.lost({ reason: "expired" }) }
    ],
    release: [
      { when: FaultPolicy.probability(0.2), fault: Fault.unavailable() },
      { when: FaultPolicy.probability(0.05), fault: Fault.timeout() }
    ]
  })
})

/**
 * Renewals fail for 1.5 lease durations every 6, at a different phase per contender: far longer than the safety
 * margin, so every lease renewing in a window is lost (and must be reported before it expires).
 */
export const renewalOutage = (scale: Scale): Scenario => ({
  ...base(scale),
  name: "renewal outage",
  rules: (i) => ({
    renew: [
      {
        when: FaultPolicy.window({
          every: Duration.millis(scale.lease * 6),
          for: Duration.millis(scale.lease * 1.5),
          offset: Duration.millis(scale.lease * 0.75 * i)
        }),
        fault: Fault.unavailable()
      }
    ]
  })
})

/** An operator breaks the lease at random times, and 2% of acquisitions take the lease over. */
export const theft = (scale: Scale): Scenario => ({
  ...base(scale),
  name: "theft",
  thefts: true,
  rules: () => ({ acquire: [{ when: FaultPolicy.probability(0.02), fault: Fault.steal() }] }),
  driver: (context: DriverContext) =>
    Effect.forever(
      Effect.gen(function* () {
        yield* Effect.sleep(Duration.millis(pick(context.random, scale.lease * 0.3, scale.lease * 3)))
        yield* context.operator.steal(context.leaseName).pipe(Effect.ignore)
      })
    )
})

/** 15% of cycles stall for 1.5–3 lease durations without checking the lease, then write. */
export const holderPause = (scale: Scale): Scenario => ({
  ...base(scale),
  name: "holder pause",
  blocking: { probability: 0.15, pauseMs: [scale.lease * 1.5, scale.lease * 3] }
})

/**
 * Partitions every 2–8 lease durations (by default), lasting 0.3–3 durations, failing fast or hanging: of the whole
 * store (every contender) 30% of the time, else of 1 to 4 contenders.
 */
export const partition = (
  scale: Scale,
  timing: { readonly every: readonly [number, number]; readonly length: readonly [number, number] } = {
    every: [2, 8],
    length: [0.3, 3]
  }
): Scenario => ({
  ...base(scale),
  name: "partition",
  driver: (context: DriverContext) =>
    Effect.forever(
      Effect.gen(function* () {
        const [everyLo, everyHi] = timing.every
        const [lengthLo, lengthHi] = timing.length
        yield* Effect.sleep(Duration.millis(pick(context.random, scale.lease * everyLo, scale.lease * everyHi)))
        const whole = context.random() < 0.3
        const count = whole ? context.contenders.length : pick(context.random, 1, 4)
        const start = pick(context.random, 0, context.contenders.length - 1)
        const mode = context.random() < 0.5 ? "fail" : "hang"
        const duration = Duration.millis(pick(context.random, scale.lease * lengthLo, scale.lease * lengthHi))
        for (let k = 0; k < count; k++) {
          const contender = context.contenders[(start + k) % context.contenders.length]
          if (contender !== undefined) yield* contender.chaos.partition(duration, { mode })
        }
      })
    )
})

export const all = (scale: Scale): ReadonlyArray<Scenario> => [
  latency(scale),
  errors(scale),
  renewalOutage(scale),
  theft(scale),
  holderPause(scale),
  partition(scale)
]

/** Short work, so that real time gives a few dozen cycles per scenario on a real store. */
export const shortWork = { steps: [1, 4], stepMs: [5, 120], thinkMs: [0, 20] } as const

/**
 * The mix every real store runs: latency on every call, store errors on acquire, renew and (unless `release` is
 * false, for stores whose long minimum lease would make a failed release slow to clear) release, and lease theft.
 */
export const latencyErrorsTheft = (scale: Scale, options: { readonly release?: boolean } = {}): Scenario => ({
  ...theft(scale),
  ...shortWork,
  name: "latency + errors + theft",
  rules: () => ({
    all: [{ fault: Fault.latency(Latency.uniform(0, 20)) }],
    acquire: [
      { when: FaultPolicy.probability(0.1), fault: Fault.unavailable() },
      { when: FaultPolicy.probability(0.05), fault: Fault.steal() }
    ],
    renew: [{ when: FaultPolicy.probability(0.2), fault: Fault.unavailable() }],
    ...(options.release === false
      ? {}
      : { release: [{ when: FaultPolicy.probability(0.2), fault: Fault.unavailable() }] })
  })
})
