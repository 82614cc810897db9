/**
 * The clock model (`serverClock.ts`), under `TestClock` wherever the client's clock is involved.
 *
 * - The judgement: a grant stamped `_ts` with duration `d` is over for takers at `(_ts + 1) s + d + tolerance`, by
 *   the server time of the `Date` header (rounded down). Property: a taker never sees a grant over before its true
 *   end.
 * - With the `Date` header, the client's clock does not matter at all: a client an hour ahead or behind judges
 *   exactly as the service does.
 * - Without it (a proxy strips it), the client's clock stands in: a skew within `clockSkewTolerance` is absorbed,
 *   a larger one is not (the stated limit).
 * - A handoff reservation's window is judged to its true end: the service's clock bounds it to one second, the
 *   clients' clocks decide within that second, so a skewed client moves the end by at most about a second.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import { fromHeaders, judge, judgeReservation, serverNow, takeoverAt } from "../../src/azure/cosmos/serverClock.ts"
import type { AcquireRequest } from "../../src/index.ts"
import { startFaultProxy } from "./faultProxy.ts"
import { leaseName, options, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const request = (name: string, holderId: string, duration: Duration.Input): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.fromInputUnsafe(duration)
})

const make = (overrides: Parameters<typeof options>[1] = {}) =>
  CosmosLeaseProvider.make(options(server(), { containerName: "clock", ...overrides }))

/** Real time passing, whatever the test clock says. */
const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

describe("azure-cosmos clock model", () => {
  it("judges with whole-second stamps, rounding both ways in the taker's disfavour", () => {
    const doc = { _ts: 100, durationMs: 1_500, holderId: "a" }
    expect(takeoverAt(doc, 0)).toBe(102_500)
    expect(judge(doc, 102_499, 0)).toEqual({ held: true, remainingMs: 1 })
    expect(judge(doc, 102_500, 0)).toEqual({ held: false, remainingMs: 0 })
    expect(judge(doc, 102_500, 250)).toEqual({ held: true, remainingMs: 250 })
    expect(judge({ _ts: 100, durationMs: 1_500 }, 0, 0).held).toBe(false)
  })

  it("property: a taker never sees a grant over before its true end", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 0, max: 300_000 }),
        (writtenAtMs, durationMs, elapsedMs) => {
          // The service writes at `writtenAtMs` (stamps whole seconds) and answers a taker `elapsedMs` later
          // (its `Date` header is whole seconds too).
          const doc = { _ts: Math.floor(writtenAtMs / 1000), durationMs, holderId: "a" }
          const nowMs = writtenAtMs + elapsedMs
          const dateHeaderMs = Math.floor(nowMs / 1000) * 1000
          const { held } = judge(doc, dateHeaderMs, 0)
          return held || nowMs >= writtenAtMs + durationMs
        }
      )
    )
  })

  it("a reservation: the service's clock bounds its end to [_ts s + w, that + 1 s); the client decides within", () => {
    const reservedAt = new Date(100_400).toISOString()
    const doc = { _ts: 100, durationMs: 1_000, holderId: "b", pending: true as const, reservedAt }
    const hour = 3_600_000
    // Before the earliest possible end: held whatever the client's clock says, for at least what is surely left.
    expect(judge(doc, 100_000, 0, 100_500)).toEqual({ held: true, remainingMs: 1_000 })
    expect(judge(doc, 100_999, 0, 100_999 + hour).held).toBe(true)
    // Within the open second: the client's clock decides.
    expect(judge(doc, 101_000, 0, 101_300)).toEqual({ held: true, remainingMs: 100 })
    expect(judge(doc, 101_000, 0, 101_400)).toEqual({ held: false, remainingMs: 0 })
    expect(judge(doc, 101_000, 0, 101_000 + hour).held).toBe(false)
    expect(judge(doc, 101_999, 0, 101_999 - hour)).toEqual({ held: true, remainingMs: 1 })
    // Past the latest possible end: over whatever the client's clock says.
    expect(judge(doc, 102_000, 0, 102_000 - hour).held).toBe(false)
    // Without a client clock or a recorded time, the service's clock alone: held to the latest possible end.
    expect(judge(doc, 101_500, 0)).toEqual({ held: true, remainingMs: 500 })
    const { reservedAt: _, ...unrecorded } = doc
    expect(judge(unrecorded, 101_500, 0, 101_999 + hour)).toEqual({ held: true, remainingMs: 500 })
    // The tolerance is for grants only: nobody trusts a reservation, so its end is not pushed back.
    expect(judge(doc, 102_000, 5_000, 102_000).held).toBe(false)
    expect(judgeReservation(doc, 102_000)).toEqual({ held: false, remainingMs: 0 })
  })

  it("property: a reservation is never over more than 1 s early or held more than 2 s late, whatever the skew", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: -600_000, max: 600_000 }),
        fc.integer({ min: -600_000, max: 600_000 }),
        (writtenAtMs, latencyMs, windowMs, elapsedMs, writerSkew, readerSkew) => {
          const doc = {
            _ts: Math.floor(writtenAtMs / 1000),
            durationMs: windowMs,
            holderId: "b",
            pending: true as const,
            reservedAt: new Date(writtenAtMs - latencyMs + writerSkew).toISOString()
          }
          const nowMs = writtenAtMs + elapsedMs
          const { held } = judge(doc, Math.floor(nowMs / 1000) * 1000, 1_000, nowMs + readerSkew)
          const end = writtenAtMs + windowMs
          return (held || nowMs >= end - 1_000) && (!held || nowMs < end + 2_000)
        }
      )
    )
  })

  it("property: with clocks in step, a reservation is held to its end and over within a second after", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 0, max: 120_000 }),
        (writtenAtMs, windowMs, elapsedMs) => {
          const doc = {
            _ts: Math.floor(writtenAtMs / 1000),
            durationMs: windowMs,
            holderId: "b",
            pending: true as const,
            reservedAt: new Date(writtenAtMs).toISOString()
          }
          const nowMs = writtenAtMs + elapsedMs
          const { held } = judge(doc, Math.floor(nowMs / 1000) * 1000, 1_000, nowMs)
          const end = writtenAtMs + windowMs
          return nowMs < end ? held : nowMs >= end + 1_000 ? !held : true
        }
      )
    )
  })

  it.effect("reads the server time from the Date header, else from the client clock; carries it on monotonically", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(5_000)
      const fromDate = yield* fromHeaders({ date: "Sat, 28 Nov 2026 06:08:38 GMT" })
      expect(fromDate.source).toBe("date-header")
      expect(fromDate.serverMs).toBe(Date.UTC(2026, 10, 28, 6, 8, 38))
      const fallback = yield* fromHeaders({})
      expect(fallback).toMatchObject({ source: "client-clock", serverMs: 5_000 })
      yield* TestClock.adjust("1500 millis")
      expect(yield* serverNow(fromDate)).toBe(Date.UTC(2026, 10, 28, 6, 8, 38) + 1_500)
    })
  )

  it.effect("with the Date header, a client clock an hour ahead or behind changes nothing", () =>
    Effect.gen(function* () {
      // The client is an hour ahead of the service (set before any observation is cached).
      yield* TestClock.setTime(Date.now() + 3_600_000)
      const a = yield* make({ clockSkewTolerance: 0 })
      const b = yield* make({ clockSkewTolerance: 0 })
      const name = leaseName("ahead")
      assert.strictEqual((yield* a.tryAcquire(request(name, "a", "2 seconds")))._tag, "Acquired")
      const early = yield* b.tryAcquire(request(name, "b", "2 seconds"))
      assert.strictEqual(early._tag, "Held")
      const remaining = early._tag === "Held" ? Duration.toMillis(early.remaining ?? Duration.zero) : 0
      expect(remaining).toBeGreaterThan(0)
      expect(remaining).toBeLessThanOrEqual(3_000)

      // Now an hour behind. The lease runs out by the service's clock, and is taken over, although this client
      // believes the grant is an hour in the future.
      yield* TestClock.setTime(Date.now() - 3_600_000)
      yield* realSleep(remaining + 50)
      const later = yield* b.tryAcquire(request(name, "b", "2 seconds"))
      expect(later._tag).toBe("Acquired")
    })
  )

  it.effect("without a Date header, the client clock stands in and clockSkewTolerance absorbs its skew", () =>
    Effect.gen(function* () {
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(() => startFaultProxy(server().port)),
        (p) => Effect.promise(() => p.close())
      )
      proxy.stripDate = true
      // The client is 5 s ahead of the service.
      yield* TestClock.setTime(Date.now() + 5_000)
      const holder = yield* make({ endpoint: proxy.endpoint })
      const name = leaseName("skew")
      assert.strictEqual((yield* holder.tryAcquire(request(name, "holder", "3 seconds")))._tag, "Acquired")

      // A tolerance larger than the skew: still held, as it is.
      const tolerant = yield* make({ endpoint: proxy.endpoint, clockSkewTolerance: "6 seconds" })
      const patient = yield* tolerant.tryAcquire(request(name, "tolerant", "3 seconds"))
      assert.strictEqual(patient._tag, "Held")
      // The service's own clock (Date header, no proxy) agrees the grant is running.
      const direct = yield* make({ clockSkewTolerance: 0 })
      expect((yield* direct.tryAcquire(request(name, "direct", "3 seconds")))._tag).toBe("Held")

      // The stated limit: with a tolerance smaller than the skew and no Date header, the grant looks over early.
      const naive = yield* make({ endpoint: proxy.endpoint, clockSkewTolerance: 0 })
      expect((yield* naive.tryAcquire(request(name, "naive", "3 seconds")))._tag).toBe("Acquired")
    })
  )
})
