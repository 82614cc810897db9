/**
 * A checker that plays the resource a lease protects, and proves mutual exclusion *where it matters*: at the
 * resource.
 *
 * **The write rule (fencing).** A write carries the writer's holder id and the fencing token of its lease. It is
 * accepted when the token is higher than every token seen so far, or equal to the highest one *and* from the
 * holder that wrote with it (the same holder's repeated writes under one grant). Anything else is rejected and
 * recorded: `stale` (a lower token: a holder that lost the lease without knowing it, e.g. a paused process) or
 * `duplicate` (the highest token from another holder: two grants with one token, which only a store that lost its
 * fencing counter produces). Only writes raise the bar: a new holder that has not written yet does not protect the
 * resource from an old one, which is how fencing works with real resources too.
 *
 * **Holds.** Declare them with `hold` / `unhold` (or `track(lease)`, which holds at once and unholds when the lease
 * is lost or its scope closes). A hold is the time a holder *believes* it holds the lease. Holds by different
 * holders that overlap in `Clock` time are counted (`overlaps`, `overlapTime`): each one is a moment where only
 * fencing stood between the resource and a double write, so they measure how often fencing was needed. Time with
 * no hold is counted as `gaps`. A (holder, token) that writes without ever declaring a hold gets an implicit hold
 * from its first to its last write; once holds are declared, a write from a (holder, token) whose hold is not open
 * is counted as `writesOutsideHold` (a holder that kept working after its lease ended).
 *
 * **Report.** `staleAccepted` is an independent audit of the accepted writes (in arrival order, no accepted token
 * may be below an earlier accepted one, nor equal to one from another holder); it must be 0, and by construction
 * it is, unless the checker itself is broken. All times are `Clock` times, so under `TestClock` they are virtual.
 *
 * ```ts
 * const resource = yield* FencedResource.make()
 * const lease = yield* leases.acquire("orders")
 * yield* resource.track(lease)
 * yield* resource.write(lease.holderId, lease.fencingToken, { order: 42 })
 * const report = yield* resource.report // { staleAccepted: 0, overlaps, gaps, ... }
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Data, Effect, type Scope } from "effect"

/**
 * The fate of a write.
 *
 * @since 0.1.0
 */
export type WriteOutcome = "accepted" | "stale" | "duplicate"

/**
 * One recorded write.
 *
 * @since 0.1.0
 */
export interface FencedWrite {
  /** Arrival order, from 1. */
  readonly seq: number
  /** `Clock` time in milliseconds. */
  readonly at: number
  readonly holderId: string
  readonly token: bigint
  readonly payload: unknown
  readonly outcome: WriteOutcome
  readonly accepted: boolean
  /** The highest accepted token before this write (`undefined` for the first). */
  readonly highestBefore: bigint | undefined
  /** Holds were declared and this (holder, token) had none open when it wrote. */
  readonly outsideHold: boolean
}

/**
 * A time a holder believed it held the lease.
 *
 * @since 0.1.0
 */
export interface Hold {
  readonly holderId: string
  readonly token: bigint
  readonly from: number
  /** `undefined` while open. */
  readonly to: number | undefined
  /** Derived from the writes of a (holder, token) that never declared a hold. */
  readonly implicit: boolean
}

/**
 * What the checker saw.
 *
 * @since 0.1.0
 */
export interface FencedReport {
  readonly writes: number
  readonly accepted: number
  readonly rejected: number
  readonly rejectedStale: number
  readonly rejectedDuplicate: number
  /** Accepted writes that break the fencing order (audit). Must be 0. */
  readonly staleAccepted: number
  readonly highestToken: bigint | undefined
  readonly holds: number
  /** Pairs of holds by different holders that overlap in time. */
  readonly overlaps: number
  /** Milliseconds during which two or more different holders held at once. */
  readonly overlapTime: number
  readonly maxConcurrentHolders: number
  /** Writes by a (holder, token) with no open hold (only once holds are declared). */
  readonly writesOutsideHold: number
  readonly acceptedOutsideHold: number
  /** Stretches of time with no holder, between the first hold's start and the last hold's end. */
  readonly gaps: number
  readonly gapTime: number
  readonly longestGap: number
  /** The observed window: first hold start to last hold end (open holds end at report time). */
  readonly from: number | undefined
  readonly to: number | undefined
}

/**
 * A write that `writeOrFail` refused.
 *
 * @since 0.1.0
 */
export class StaleWriteError extends Data.TaggedError("StaleWriteError")<{
  readonly holderId: string
  readonly token: bigint
  readonly highest: bigint | undefined
  readonly outcome: Exclude<WriteOutcome, "accepted">
  readonly message: string
}> {
  constructor(write: FencedWrite & { readonly outcome: Exclude<WriteOutcome, "accepted"> }) {
    super({
      holderId: write.holderId,
      token: write.token,
      highest: write.highestBefore,
      outcome: write.outcome,
      message:
        `write by "${write.holderId}" with fencing token ${write.token} rejected (${write.outcome}): ` +
        `the resource has seen token ${write.highestBefore}`
    })
  }
}

/**
 * What `track` needs of a lease (a `Lease` fits).
 *
 * @since 0.1.0
 */
export interface Trackable {
  readonly holderId: string
  readonly fencingToken: bigint
  readonly lost: Effect.Effect<unknown>
}

/**
 * The checker.
 *
 * @since 0.1.0
 */
export interface FencedResourceShape {
  /** Writes with the fencing rule; the record says whether it was accepted. Never fails. */
  readonly write: (holderId: string, token: bigint, payload?: unknown) => Effect.Effect<FencedWrite>
  /** `write`, failing with `StaleWriteError` when rejected, as a real resource would. */
  readonly writeOrFail: (
    holderId: string,
    token: bigint,
    payload?: unknown
  ) => Effect.Effect<FencedWrite, StaleWriteError>
  /** `holderId` believes it holds the lease with `token` from now on (idempotent). */
  readonly hold: (holderId: string, token: bigint) => Effect.Effect<void>
  /** ... and no longer (idempotent). */
  readonly unhold: (holderId: string, token: bigint) => Effect.Effect<void>
  /** Holds for `lease` now; unholds when it is lost or when the current scope closes, whichever comes first. */
  readonly track: (lease: Trackable) => Effect.Effect<void, never, Scope.Scope>
  readonly writes: Effect.Effect<ReadonlyArray<FencedWrite>>
  readonly holds: Effect.Effect<ReadonlyArray<Hold>>
  /** The highest accepted token. */
  readonly highest: Effect.Effect<bigint | undefined>
  readonly report: Effect.Effect<FencedReport>
}

interface MutableHold {
  readonly holderId: string
  readonly token: bigint
  readonly from: number
  to: number | undefined
}

const keyOf = (holderId: string, token: bigint): string => `${token}\u0000${holderId}`

/**
 * Builds a checker. Its clock is Effect's `Clock` at each call.
 *
 * @since 0.1.0
 */
export const make = (): Effect.Effect<FencedResourceShape> =>
  Effect.sync(() => {
    const writes: Array<FencedWrite> = []
    const holds: Array<MutableHold> = []
    const open = new Map<string, MutableHold>()
    const declared = new Set<string>()
    let highest: bigint | undefined
    let highestHolder: string | undefined

    const write = (holderId: string, token: bigint, payload?: unknown): Effect.Effect<FencedWrite> =>
      Effect.map(Clock.currentTimeMillis, (at) => {
        const outcome: WriteOutcome =
          highest === undefined || token > highest
            ? "accepted"
            : token === highest && holderId === highestHolder
              ? "accepted"
              : token === highest
                ? "duplicate"
                : "stale"
        const record: FencedWrite = {
          seq: writes.length + 1,
          at,
          holderId,
          token,
          payload,
          outcome,
          accepted: outcome === "accepted",
          highestBefore: highest,
          outsideHold: declared.size > 0 && !open.has(keyOf(holderId, token))
        }
        writes.push(record)
        if (record.accepted) {
          highest = token
          highestHolder = holderId
        }
        return record
      })

    const hold = (holderId: string, token: bigint): Effect.Effect<void> =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const key = keyOf(holderId, token)
        declared.add(key)
        if (open.has(key)) return
        const entry: MutableHold = { holderId, token, from: now, to: undefined }
        holds.push(entry)
        open.set(key, entry)
      })

    const unhold = (holderId: string, token: bigint): Effect.Effect<void> =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const key = keyOf(holderId, token)
        const entry = open.get(key)
        if (entry === undefined) return
        entry.to = now
        open.delete(key)
      })

    const track = (lease: Trackable): Effect.Effect<void, never, Scope.Scope> =>
      Effect.gen(function* () {
        const end = unhold(lease.holderId, lease.fencingToken)
        yield* hold(lease.holderId, lease.fencingToken)
        yield* Effect.addFinalizer(() => end)
        yield* Effect.forkScoped(Effect.andThen(lease.lost, end), { startImmediately: true })
      })

    const snapshotHolds = (): ReadonlyArray<Hold> => {
      const out: Array<Hold> = holds.map((h) => ({ ...h, implicit: false }))
      // Implicit holds for the writers that never declared one: first to last write.
      const spans = new Map<string, { holderId: string; token: bigint; from: number; to: number }>()
      for (const w of writes) {
        const key = keyOf(w.holderId, w.token)
        if (declared.has(key)) continue
        const span = spans.get(key)
        if (span === undefined) spans.set(key, { holderId: w.holderId, token: w.token, from: w.at, to: w.at })
        else span.to = w.at
      }
      for (const span of spans.values()) out.push({ ...span, implicit: true })
      return out
    }

    const report: Effect.Effect<FencedReport> = Effect.map(Clock.currentTimeMillis, (now) =>
      analyse(writes, snapshotHolds(), now, highest)
    )

    const shape: FencedResourceShape = {
      write,
      writeOrFail: (holderId, token, payload) =>
        Effect.flatMap(write(holderId, token, payload), (record) =>
          record.outcome === "accepted"
            ? Effect.succeed(record)
            : Effect.fail(new StaleWriteError({ ...record, outcome: record.outcome }))
        ),
      hold,
      unhold,
      track,
      writes: Effect.sync(() => writes.slice()),
      holds: Effect.sync(snapshotHolds),
      highest: Effect.sync(() => highest),
      report
    }
    return shape
  })

/** Everything in the report that needs the whole history. Runs once per `report`: O(n log n) in holds and writes. */
const analyse = (
  writes: ReadonlyArray<FencedWrite>,
  holds: ReadonlyArray<Hold>,
  now: number,
  highestToken: bigint | undefined
): FencedReport => {
  let accepted = 0
  let rejectedStale = 0
  let rejectedDuplicate = 0
  let writesOutsideHold = 0
  let acceptedOutsideHold = 0
  // The audit recomputes the fencing order from the log alone, independently of the rule in `write`.
  let staleAccepted = 0
  let maxAccepted: bigint | undefined
  let maxHolder: string | undefined
  for (const w of writes) {
    if (w.outsideHold) writesOutsideHold++
    if (w.outcome === "stale") rejectedStale++
    if (w.outcome === "duplicate") rejectedDuplicate++
    if (!w.accepted) continue
    accepted++
    if (w.outsideHold) acceptedOutsideHold++
    if (maxAccepted !== undefined && (w.token < maxAccepted || (w.token === maxAccepted && w.holderId !== maxHolder))) {
      staleAccepted++
    }
    if (maxAccepted === undefined || w.token > maxAccepted) {
      maxAccepted = w.token
      maxHolder = w.holderId
    }
  }

  const intervals = holds
    .map((h) => ({ holderId: h.holderId, from: h.from, to: h.to ?? now }))
    .filter((h) => h.to > h.from)
    .sort((a, b) => a.from - b.from || a.to - b.to)

  // Pairs of overlapping holds by different holders. Holds are mostly sequential, so the inner loop is short.
  let overlaps = 0
  for (let i = 0; i < intervals.length; i++) {
    const a = intervals[i]
    if (a === undefined) continue
    for (let j = i + 1; j < intervals.length; j++) {
      const b = intervals[j]
      if (b === undefined || b.from >= a.to) break
      if (b.holderId !== a.holderId) overlaps++
    }
  }

  // Sweep: distinct holders over time. Ends sort before starts at the same instant (touching holds do not overlap).
  type Edge = { readonly at: number; readonly delta: 1 | -1; readonly holderId: string }
  const edges: Array<Edge> = []
  for (const h of intervals) {
    edges.push({ at: h.from, delta: 1, holderId: h.holderId })
    edges.push({ at: h.to, delta: -1, holderId: h.holderId })
  }
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta)
  const active = new Map<string, number>()
  let overlapTime = 0
  let gaps = 0
  let gapTime = 0
  let longestGap = 0
  let maxConcurrentHolders = 0
  let previous: number | undefined
  for (const edge of edges) {
    if (previous !== undefined && edge.at > previous) {
      const span = edge.at - previous
      if (active.size >= 2) overlapTime += span
      if (active.size === 0) {
        gaps++
        gapTime += span
        longestGap = Math.max(longestGap, span)
      }
    }
    const count = (active.get(edge.holderId) ?? 0) + edge.delta
    if (count <= 0) active.delete(edge.holderId)
    else active.set(edge.holderId, count)
    maxConcurrentHolders = Math.max(maxConcurrentHolders, active.size)
    previous = edge.at
  }

  const first = intervals[0]
  return {
    writes: writes.length,
    accepted,
    rejected: writes.length - accepted,
    rejectedStale,
    rejectedDuplicate,
    staleAccepted,
    highestToken,
    holds: holds.length,
    overlaps,
    overlapTime,
    maxConcurrentHolders,
    writesOutsideHold,
    acceptedOutsideHold,
    gaps,
    gapTime,
    longestGap,
    from: first?.from,
    to: intervals.reduce<number | undefined>((max, h) => (max === undefined || h.to > max ? h.to : max), undefined)
  }
}
