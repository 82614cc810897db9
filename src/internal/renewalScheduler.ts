/**
 * One timer for all the leases of a manager.
 *
 * A held lease needs to be looked at only at two kinds of instants: when its next renewal (or retry) is due, and
 * at its safety deadline. Giving every lease a fiber sleeping until then cost a fiber, a timer and their
 * interruption per lease (a fifth of an uncontended acquire + release, and most of the memory of 10,000 held
 * leases). Instead, every lease of a manager sits in one min-heap ordered by the next instant it must be looked
 * at, and a single fiber sleeps until the earliest of them. When it wakes it hands each due lease to `visit`,
 * which starts a renewal, declares a loss, or puts the lease back with its next instant; then it sleeps again.
 *
 * The timer runs on the Clock of the context it was armed from (`Timer.schedule`: a plain `setTimeout` on the real
 * clock, a sleeping fiber under any other), so `TestClock` drives it like any other sleep. The timer is re-armed only when the earliest instant moves earlier; when the heap empties it is
 * cancelled at once, so a process that has released every lease is not kept alive by a timer nobody needs.
 *
 * Single-threaded by construction: every method is synchronous and runs to completion, so no lock is needed.
 *
 * @internal
 */
import { Clock, Context, Effect } from "effect"
import { monotonicMillis, monotonicMillisOf, reached } from "./clock.ts"
import * as Timer from "./timer.ts"

/** Monotonic milliseconds on the clock of `context`, read synchronously. */
const nowIn = (context: Context.Context<never>): number => monotonicMillisOf(Context.get(context, Clock.Clock))

/** What the scheduler needs from an entry: its slot in the heap and the context to arm a timer from. @internal */
export interface Schedulable {
  /** Monotonic time at which the entry must be visited; meaningful while `heapIndex >= 0`. */
  wakeAt: number
  /** Position in the heap, −1 when not scheduled. */
  heapIndex: number
  /** The context (Clock, logger, tracer, metrics registry) of the fiber that created the entry. */
  readonly context: Context.Context<never>
}

/** @internal */
export interface RenewalScheduler<A extends Schedulable> {
  /** Puts `entry` in the heap (or moves it) to be visited at `at`. */
  readonly schedule: (entry: A, at: number) => void
  /** Takes `entry` out of the heap. Idempotent. */
  readonly unschedule: (entry: A) => void
  /** Entries scheduled now (diagnostics and tests). */
  readonly size: () => number
}

/**
 * Makes a scheduler that calls `visit(entry, now, horizon)` once `entry`'s instant is reached. Entries whose instant
 * falls within `coalesceMillis` after the one that woke the timer (up to `horizon`) are visited in the same tick,
 * early: their work can then share a round trip (a provider may batch what is started in one tick). `visit` must
 * not act early on what cannot be early (a deadline); it can put the entry back. `visit` runs synchronously inside
 * the timer's fiber; whatever it must do with effects, it forks. An entry visited is out of the heap until `visit`
 * (or anything else) schedules it again.
 *
 * @internal
 */
export const make = <A extends Schedulable>(
  visit: (entry: A, now: number, horizon: number) => void,
  coalesceMillis = 0
): RenewalScheduler<A> => {
  const heap: Array<A> = []
  let timer: (() => void) | undefined
  let timerAt = Number.POSITIVE_INFINITY

  const swap = (i: number, j: number) => {
    const a = heap[i] as A
    const b = heap[j] as A
    heap[i] = b
    heap[j] = a
    b.heapIndex = i
    a.heapIndex = j
  }
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as A).wakeAt <= (heap[i] as A).wakeAt) return
      swap(i, parent)
      i = parent
    }
  }
  const down = (i: number) => {
    const n = heap.length
    while (true) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < n && (heap[left] as A).wakeAt < (heap[smallest] as A).wakeAt) smallest = left
      if (right < n && (heap[right] as A).wakeAt < (heap[smallest] as A).wakeAt) smallest = right
      if (smallest === i) return
      swap(i, smallest)
      i = smallest
    }
  }
  const removeAt = (i: number): A => {
    const entry = heap[i] as A
    const last = heap.pop() as A
    entry.heapIndex = -1
    if (last !== entry) {
      heap[i] = last
      last.heapIndex = i
      up(i)
      down(last.heapIndex)
    }
    return entry
  }

  const cancel = () => {
    const stop = timer
    timer = undefined
    timerAt = Number.POSITIVE_INFINITY
    stop?.()
  }

  const tick: Effect.Effect<void> = Effect.flatMap(monotonicMillis, (now) =>
    Effect.sync(() => {
      timer = undefined
      timerAt = Number.POSITIVE_INFINITY
      // Take every due entry out first, then visit: a visit that schedules its entry again (even for `now`) is
      // seen by the next tick, never by this loop, so a tick always ends.
      const due: Array<A> = []
      const horizon = now + coalesceMillis
      while (heap.length > 0 && reached(horizon, (heap[0] as A).wakeAt)) due.push(removeAt(0))
      for (const entry of due) visit(entry, now, horizon)
      arm()
    })
  )

  /** Makes sure a timer is set for the earliest entry (or none is, when the heap is empty). */
  const arm = () => {
    const top = heap[0]
    if (top === undefined) return cancel()
    if (timer !== undefined && timerAt <= top.wakeAt) return
    cancel()
    const at = top.wakeAt
    timerAt = at
    timer = Timer.schedule(top.context, at - nowIn(top.context), tick)
  }

  return {
    schedule: (entry, at) => {
      entry.wakeAt = at
      if (entry.heapIndex < 0) {
        entry.heapIndex = heap.length
        heap.push(entry)
        up(entry.heapIndex)
      } else {
        up(entry.heapIndex)
        down(entry.heapIndex)
      }
      arm()
    },
    unschedule: (entry) => {
      if (entry.heapIndex < 0) return
      removeAt(entry.heapIndex)
      if (heap.length === 0) cancel()
    },
    size: () => heap.length
  }
}
