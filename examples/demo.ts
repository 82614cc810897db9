/**
 * `npm run demo`: four workers in one process compete for one lease on the memory provider.
 *
 * - The holder works and renews; when it is done it releases, and a waiter takes over at once (push wake-up).
 * - One worker loses its connection to the store mid-shift: it cannot renew, so it declares the lease lost at its
 *   safety deadline (before the store expires it), and another worker takes over when the store's grant runs out,
 *   with a higher fencing token.
 * - The cut-off worker's delayed write then reaches the protected resource with its old token and is rejected:
 *   that is what fencing tokens are for.
 *
 * Runs in real time (about 8 seconds) and exits by itself.
 */

import { type Lease, LeaseManager, LeaseProvider, type LeaseProviderShape } from "distributed-leasing"
import { MemoryLeaseProvider } from "distributed-leasing/memory"
import { Duration, Effect, Layer, References, Stream } from "effect"

const LEASE = "nightly-report"
const DURATION = Duration.millis(1500)
const TICK = Duration.millis(300)

// ── Presentation ─────────────────────────────────────────────────────────────────────────────────────────────────
const color = process.stdout.isTTY && process.env.NO_COLOR === undefined
const paint = (code: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
const workerColors: Record<string, (text: string) => string> = {
  alpha: paint(36),
  bravo: paint(35),
  charlie: paint(33),
  delta: paint(32)
}
const dim = paint(2)
const bold = paint(1)
const red = paint(31)
const started = performance.now()
const say = (who: string, message: string) =>
  Effect.sync(() => {
    const at = `+${((performance.now() - started) / 1000).toFixed(2)}s`.padStart(7)
    const name = (workerColors[who] ?? bold)(who.padEnd(9))
    console.log(`${dim(at)}  ${name} ${message}`)
  })

// ── The protected resource: it accepts a write only with a token at least as high as any it has seen ────────────
const resource = {
  highest: 0n,
  accepted: 0,
  rejected: 0,
  write(token: bigint): boolean {
    if (token < this.highest) {
      this.rejected++
      return false
    }
    this.highest = token
    this.accepted++
    return true
  }
}

// ── A store connection that can be cut: calls then hang, as they do when a network drops packets ────────────────
const cuttable = (real: LeaseProviderShape) => {
  const state = { cut: false }
  const guard = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.suspend(() => (state.cut ? Effect.never : effect))
  const provider: LeaseProviderShape = {
    ...real,
    tryAcquire: (request) => guard(real.tryAcquire(request)),
    renew: (request) => guard(real.renew(request)),
    release: (request) => guard(real.release(request))
  }
  return { provider, state }
}

// ── One worker: wait for the lease, work a shift while holding it, release ──────────────────────────────────────
let shifts = 0
// Every lease any worker holds, to check (not just claim) that there is never more than one holder.
const holding = new Set<Lease>()
let mostHolders = 0
const observe = () =>
  Effect.sync(() => {
    for (const lease of holding) if (lease.state !== "held") holding.delete(lease)
    mostHolders = Math.max(mostHolders, holding.size)
  })

/** Every worker runs the same script; the second shift is the one whose connection gets cut. */
const worker = (name: string, ticks: number) =>
  Effect.gen(function* () {
    const { provider, state } = cuttable(yield* LeaseProvider)
    const leases = yield* LeaseManager.make({ holderId: name }).pipe(Effect.provideService(LeaseProvider, provider))
    yield* say(name, dim("waiting for the lease…"))
    yield* Effect.scoped(
      Effect.gen(function* () {
        const lease = yield* leases.acquire(LEASE, { duration: DURATION })
        holding.add(lease)
        yield* observe()
        const shift = ++shifts
        const cutAfter = shift === 2 ? 2 : undefined
        yield* say(name, `▶ acquired ${bold(`"${LEASE}"`)} with fencing token ${bold(String(lease.fencingToken))}`)
        yield* narrate(name, lease)
        for (let tick = 1; tick <= ticks; tick++) {
          if (lease.state !== "held") return
          if (cutAfter !== undefined && tick > cutAfter) {
            state.cut = true
            yield* say(name, red("💥 loses its connection to the store: renewals and release will time out"))
            yield* lease.lost
            // Its last write was sent before it noticed and arrives late, after someone else took over.
            yield* Effect.sleep(Duration.millis(1200))
            const ok = resource.write(lease.fencingToken)
            yield* say(
              name,
              ok
                ? red(`🧟 late write with token ${lease.fencingToken} was ACCEPTED (this must never happen)`)
                : `🧟 late write with token ${lease.fencingToken} ${red("rejected")} by the resource (it has seen ${resource.highest})`
            )
            return
          }
          yield* observe()
          resource.write(lease.fencingToken)
          yield* say(name, dim(`  working… step ${tick}/${ticks} written with token ${lease.fencingToken}`))
          yield* Effect.sleep(TICK)
        }
        yield* say(name, "■ shift done, releasing")
      })
    )
  })

/** Prints the lease's own events: renewals with the slack that was left, and the loss. */
const narrate = (name: string, lease: Lease) =>
  lease.events.pipe(
    Stream.runForEach((event) => {
      switch (event._tag) {
        case "Renewed":
          return say(name, dim(`  ↻ renewed, ${Duration.toMillis(event.slack).toFixed(0)} ms were left`))
        case "RenewalFailed":
          return say(name, dim(`  ✗ renewal attempt ${event.attempt} failed${event.willRetry ? ", retrying" : ""}`))
        case "Lost":
          return say(name, red(`✖ lease lost (${event.reason}): stops working before the store could expire it`))
        default:
          return Effect.void
      }
    }),
    Effect.forkScoped
  )

const program = Effect.gen(function* () {
  console.log(bold(`Four workers compete for "${LEASE}" (${Duration.format(DURATION)} leases, renewed at 2/3).\n`))
  yield* Effect.all(
    [
      worker("alpha", 4),
      Effect.delay(worker("bravo", 4), "50 millis"),
      Effect.delay(worker("charlie", 4), "100 millis"),
      Effect.delay(worker("delta", 4), "150 millis")
    ],
    { concurrency: "unbounded" }
  )
  console.log(
    `\n${bold("Summary:")} ${resource.accepted} writes accepted, ${resource.rejected} stale write rejected, ` +
      `highest token ${resource.highest}, at most ${mostHolders} holder at any time.`
  )
})

// The library logs a warning on every failed renewal and on loss; the demo narrates those itself.
const quiet = Layer.succeed(References.MinimumLogLevel, "Error")

Effect.runPromise(program.pipe(Effect.provide(Layer.merge(MemoryLeaseProvider.layer(), quiet)))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
