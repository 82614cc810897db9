/**
 * The clock model: expiry is judged with the Cosmos service's clock, never by comparing client clocks (a handoff
 * reservation's window, which protects no work, is refined by them within one second: see below).
 *
 * A lease document stores its `durationMs`; the service stamps `_ts` (epoch seconds, its own clock) on every
 * write. Every response carries a `Date` header (RFC 1123, whole seconds, the service's clock again). So the store
 * itself tells both when the grant was last written and what time it is now:
 *
 *   a grant written at _ts (true write time in [_ts, _ts + 1) s) with duration d is over for takers when
 *   serverNow ≥ (_ts + 1) s + d + clockSkewTolerance, with serverNow = the Date header, rounded down.
 *
 * Both roundings go the safe way: a taker sees the lease free at the earliest one second after the latest possible
 * true expiry, and it judges "now" by the earliest possible server time. A holder counts its own lease from the
 * moment it *sent* the request (see the core), which is no later than the write, so a taker can never take a
 * lease its holder still trusts. The cost is availability only: an abandoned lease is taken over 0 to 2 s after
 * it truly expired (plus the tolerance), never earlier.
 *
 * What `clockSkewTolerance` covers: `_ts` is stamped by the replica that wrote, `Date` by the node that answered;
 * inside one Azure region they are NTP-synchronised to well under a second, so the default of 1 s is a wide
 * margin. If a response has no usable `Date` header (a proxy stripped it), the client's clock stands in for the
 * server's, and the tolerance must then cover the client's skew from the service: this is the one case where a
 * client clock matters, and it is logged.
 *
 * Between requests, time is carried forward on the monotonic clock: the server time of a later moment is at
 * least `Date + (monotonic now − monotonic receipt of that response)`.
 *
 * **Handoff reservations** are judged differently, because nobody trusts a reservation: the old holder stopped at
 * the handoff and the successor trusts nothing before its claim commits, so the end of the claim window protects
 * no work and only decides *who may write next* (the successor's claim or a taker), each write still conditional
 * on the ETag. The window is therefore judged to its true end rather than safely late, without the tolerance: the
 * service's clock says it ended between `_ts·1000 + window` (the earliest possible true end) and
 * `(_ts + 1)·1000 + window` (the latest). Within that one second, whole-second stamps cannot tell, so the
 * reservation carries `reservedAt`, the handing-off client's clock when it sent the handoff, and a reader whose own
 * clock is past `reservedAt + window` treats the window as over once the service's clock has passed its earliest
 * possible end. A skewed client clock can thus move the end of a window by at most about one second, in either
 * direction; it never decides anything about a grant.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"

/**
 * A point of server time learnt from a response.
 *
 * @since 0.1.0
 */
export interface ServerInstant {
  /** A lower bound of the server's clock when the response was received, in epoch ms. */
  readonly serverMs: number
  /** Where `serverMs` came from. */
  readonly source: "date-header" | "client-clock"
  /** The local monotonic time at which the response was received, in ms. */
  readonly receivedAtMono: number
}

/** Local monotonic milliseconds, from Effect's `Clock` (so `TestClock` drives it). */
export const monotonicMillis: Effect.Effect<number> = Effect.map(Clock.monotonicTimeNanos, (n) => Number(n) / 1e6)

const headerValue = (headers: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const direct = headers[name]
  if (typeof direct === "string") return direct
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && typeof value === "string") return value
  }
  return undefined
}

/**
 * The server time of a response: its `Date` header, or the client's clock when it has none.
 *
 * @since 0.1.0
 */
export const fromHeaders = (headers: Readonly<Record<string, unknown>>): Effect.Effect<ServerInstant> =>
  Effect.gen(function* () {
    const receivedAtMono = yield* monotonicMillis
    const date = headerValue(headers, "date")
    const parsed = date === undefined ? Number.NaN : Date.parse(date)
    if (Number.isFinite(parsed)) return { serverMs: parsed, source: "date-header", receivedAtMono }
    yield* Effect.logDebug("azure-cosmos response without a usable Date header: judging expiry by the client clock")
    return { serverMs: yield* Clock.currentTimeMillis, source: "client-clock", receivedAtMono }
  })

/**
 * A lower bound of the server's clock now, carried forward from an earlier response on the monotonic clock.
 *
 * @since 0.1.0
 */
export const serverNow = (instant: ServerInstant): Effect.Effect<number> =>
  Effect.map(monotonicMillis, (now) => instant.serverMs + Math.max(0, now - instant.receivedAtMono))

/**
 * The fields of a lease document the judgement needs.
 *
 * @since 0.1.0
 */
export interface Stamped {
  readonly _ts: number
  readonly durationMs: number
  readonly holderId?: string | undefined
  /** A handoff reservation (holder = the successor, duration = the claim window). */
  readonly pending?: true | undefined
  /** For a reservation: the handing-off client's clock when it sent the handoff (ISO 8601). */
  readonly reservedAt?: string | undefined
}

/**
 * When takers may consider the grant over, in server epoch ms (the latest possible true expiry, plus the
 * tolerance).
 *
 * @since 0.1.0
 */
export const takeoverAt = (doc: Stamped, toleranceMs: number): number =>
  (doc._ts + 1) * 1000 + doc.durationMs + toleranceMs

/**
 * Whether the document holds a live grant (or a live reservation) at `serverMs`, and the time left on it.
 * `clientMs` (this client's wall clock) only matters for a reservation (see the module docs); without it, a
 * reservation is judged by the service's clock alone, to its latest possible end.
 *
 * @since 0.1.0
 */
export const judge = (
  doc: Stamped,
  serverMs: number,
  toleranceMs: number,
  clientMs?: number | undefined
): { readonly held: boolean; readonly remainingMs: number } => {
  if (doc.holderId === undefined) return { held: false, remainingMs: 0 }
  if (doc.pending === true) return judgeReservation(doc, serverMs, clientMs)
  const remainingMs = takeoverAt(doc, toleranceMs) - serverMs
  return remainingMs > 0 ? { held: true, remainingMs } : { held: false, remainingMs: 0 }
}

const over = { held: false, remainingMs: 0 } as const

/**
 * A reservation's window: over for certain once the service's clock passed its latest possible end; over by the
 * reader's clock (when the reservation recorded when it was made) once the service's clock passed its earliest
 * possible end too.
 *
 * @since 0.1.0
 */
export const judgeReservation = (
  doc: Stamped,
  serverMs: number,
  clientMs?: number | undefined
): { readonly held: boolean; readonly remainingMs: number } => {
  const earliestEnd = doc._ts * 1000 + doc.durationMs
  const latestEnd = earliestEnd + 1000
  if (serverMs >= latestEnd) return over
  const reservedAt = doc.reservedAt === undefined ? Number.NaN : Date.parse(doc.reservedAt)
  const byClient =
    clientMs === undefined || !Number.isFinite(reservedAt) ? undefined : reservedAt + doc.durationMs - clientMs
  if (byClient !== undefined && byClient <= 0 && serverMs >= earliestEnd) return over
  // Held: at least until the earliest possible end, at most until the latest; the client's estimate in between.
  const remainingMs = Math.max(earliestEnd - serverMs, Math.min(byClient ?? latestEnd - serverMs, latestEnd - serverMs))
  return { held: true, remainingMs }
}
