/**
 * 3. Contended handoff latency. A holder holds the lease; N waiters (on one other connection) try to acquire it
 * with the library's default waiting; after a random settle time the holder releases. Measured: from the start of
 * the release to the moment the first waiter holds the lease. Then every waiter takes and releases it in turn so
 * the round ends, and the next round starts. Samples from all rounds are pooled for p50 / p99.
 *
 * The settle time is random over more than one retry period of the library (so a polling library is caught at
 * every phase of its poll), and long enough for every waiter's first attempt to have failed.
 */
import { Effect, Exit, Fiber, Scope } from "effect"
import type { Redis } from "ioredis"
import { manager as ourManager, runOurs } from "../lib/ours.ts"
import type { Plan } from "../lib/plan.ts"
import { type CommandCounter, connect, countCommands, type RedisServer } from "../lib/redis.ts"
import { round, sleep, summarize, uniform } from "../lib/stats.ts"
import { makeOursPromise, makePeer, type PeerId, peerIds, peerLabels, type Subject } from "../lib/subjects.ts"

export interface HandoffCell {
  readonly waiters: number
  readonly rounds: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Rounds in which no waiter got the lease (every one gave up). */
  readonly failedRounds: number
  /** Waiters that gave up (their library's retry budget ran out), over all rounds. */
  readonly gaveUp: number
  /**
   * Commands the waiters' connection sent per acquisition, while the N waiters took the lease in turn (every
   * attempt, the release, and for the first one the wait): the cost of the waiting strategy.
   */
  readonly waiterCommandsPerAcquisition: number
}

export interface HandoffRow {
  readonly label: string
  readonly settleMs: readonly [number, number]
  readonly cells: ReadonlyArray<HandoffCell>
}

export interface HandoffResult {
  readonly rows: ReadonlyArray<HandoffRow>
  /** Best peer's p50 ÷ ours (Effect API) p50, per number of waiters: ≥ 10 is the target. */
  readonly effectAdvantageOverBestPeer: Readonly<Record<string, number>>
  readonly promiseAdvantageOverBestPeer: Readonly<Record<string, number>>
}

/** Settle range per library: longer than one retry period, after every first attempt. */
const settleFor = (id: PeerId | "ours"): readonly [number, number] =>
  id === "redlock" || id === "sesame-redlock" ? [50, 350] : id === "redis-semaphore" ? [20, 40] : [10, 30]

interface RoundOutcome {
  readonly latencyMs: number | undefined
  readonly gaveUp: number
  /** Commands the waiters' connection sent during the round. */
  readonly commands: number
}

const promiseRound = async (
  holder: Subject,
  waiter: Subject,
  counter: CommandCounter,
  name: string,
  waiters: number,
  settle: readonly [number, number]
): Promise<RoundOutcome> => {
  const held = await holder.acquire(name)
  if (held === null) throw new Error(`${holder.label}: the holder could not acquire ${name}`)
  counter.reset()
  let first: number | undefined
  let gaveUp = 0
  const all = Array.from({ length: waiters }, async () => {
    const mine = await waiter.acquire(name)
    if (mine === null) {
      gaveUp++
      return
    }
    first ??= performance.now()
    await mine.release()
  })
  await sleep(uniform(settle[0], settle[1]))
  const releasedAt = performance.now()
  await held.release()
  await Promise.all(all)
  return { latencyMs: first === undefined ? undefined : first - releasedAt, gaveUp, commands: counter.count() }
}

const cell = (waiters: number, outcomes: ReadonlyArray<RoundOutcome>): HandoffCell => {
  const latencies = outcomes.flatMap((o) => (o.latencyMs === undefined ? [] : [o.latencyMs]))
  const s = summarize(latencies)
  return {
    waiters,
    rounds: outcomes.length,
    p50Ms: round(s.p50),
    p99Ms: round(s.p99),
    maxMs: round(s.max),
    failedRounds: outcomes.length - latencies.length,
    gaveUp: outcomes.reduce((a, o) => a + o.gaveUp, 0),
    waiterCommandsPerAcquisition: round(
      outcomes.reduce((a, o) => a + o.commands, 0) /
        Math.max(
          1,
          outcomes.reduce((a, o) => a + waiters - o.gaveUp, 0)
        ),
      1
    )
  }
}

const effectRounds = (server: RedisServer, waiters: number, rounds: number, settle: readonly [number, number]) =>
  runOurs(
    Effect.gen(function* () {
      const holder = yield* ourManager(server, "bench-handoff-holder")
      const client = yield* Effect.acquireRelease(
        Effect.promise(() => connect(server, "bench:handoff:effect-waiter")),
        (c) => Effect.promise(() => c.quit())
      )
      const counter = countCommands(client)
      const waiting = yield* ourManager(server, "bench-handoff-waiter", { client })
      const outcomes: Array<RoundOutcome> = []
      for (let r = 0; r < rounds + 1; r++) {
        const name = `bench:handoff:effect:${waiters}:${r}`
        const holderScope = yield* Scope.make()
        yield* holder.acquire(name, { duration: "10 seconds" }).pipe(Scope.provide(holderScope))
        counter.reset()
        let first: number | undefined
        const fibers = yield* Effect.forEach(Array.from({ length: waiters }), () =>
          Effect.forkChild(
            Effect.scoped(
              Effect.andThen(
                waiting.acquire(name, { duration: "10 seconds" }),
                Effect.sync(() => {
                  first ??= performance.now()
                })
              )
            ),
            { startImmediately: true }
          )
        )
        yield* Effect.sleep(uniform(settle[0], settle[1]))
        const releasedAt = performance.now()
        yield* Scope.close(holderScope, Exit.void)
        yield* Fiber.joinAll(fibers)
        // Round 0 is a warm-up.
        const commands = counter.count()
        if (r > 0)
          outcomes.push({ latencyMs: first === undefined ? undefined : first - releasedAt, gaveUp: 0, commands })
      }
      return outcomes
    })
  )

export const runHandoff = async (server: RedisServer, plan: Plan): Promise<HandoffResult> => {
  const rows: Array<HandoffRow> = []
  const oursSettle = settleFor("ours")
  {
    const cells: Array<HandoffCell> = []
    for (const n of plan.handoff.waiters) {
      cells.push(cell(n, await effectRounds(server, n, plan.handoff.rounds[n] ?? 1, oursSettle)))
    }
    rows.push({ label: "ours, Effect API (push wake-up)", settleMs: oursSettle, cells })
  }
  const promiseRow = async (
    label: string,
    make: (role: string) => Promise<Subject>,
    settle: readonly [number, number]
  ) => {
    const holder = await make("handoff-holder")
    const waiter = await make("handoff-waiter")
    if (waiter.client === undefined) throw new Error(`${label}: no client to count`)
    const counter = countCommands(waiter.client)
    const cells: Array<HandoffCell> = []
    try {
      for (const n of plan.handoff.waiters) {
        const outcomes: Array<RoundOutcome> = []
        const rounds = plan.handoff.rounds[n] ?? 1
        for (let r = 0; r < rounds + 1; r++) {
          const outcome = await promiseRound(holder, waiter, counter, `bench:handoff:${label}:${n}:${r}`, n, settle)
          if (r > 0) outcomes.push(outcome)
        }
        cells.push(cell(n, outcomes))
      }
    } finally {
      await holder.close()
      await waiter.close()
    }
    rows.push({ label, settleMs: settle, cells })
  }
  const ownClients: Array<Redis> = []
  await promiseRow(
    "ours, Promise API (push wake-up)",
    async (role) => {
      const client = await connect(server, `bench:${role}`)
      ownClients.push(client)
      return makeOursPromise(server, role, { client })
    },
    oursSettle
  )
  for (const client of ownClients) await client.quit()
  for (const id of peerIds) {
    await promiseRow(`${peerLabels[id]} (default retry)`, (role) => makePeer(id, server, role), settleFor(id))
  }
  const advantage = (label: string) =>
    Object.fromEntries(
      plan.handoff.waiters.map((n) => {
        const ours = rows.find((r) => r.label === label)?.cells.find((c) => c.waiters === n)?.p50Ms ?? Number.NaN
        const best = Math.min(
          ...rows
            .filter((r) => !r.label.startsWith("ours"))
            .map((r) => r.cells.find((c) => c.waiters === n)?.p50Ms ?? Number.POSITIVE_INFINITY)
        )
        return [String(n), round(best / ours, 1)]
      })
    )
  return {
    rows,
    effectAdvantageOverBestPeer: advantage("ours, Effect API (push wake-up)"),
    promiseAdvantageOverBestPeer: advantage("ours, Promise API (push wake-up)")
  }
}
