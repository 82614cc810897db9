/**
 * Push wake-up for waiters: one shared subscriber connection per provider, fanned out to per-name registrations,
 * one waiter per release.
 *
 * Release and break publish the lease name on the prefix's release channel (`lease:released`). The provider keeps
 * a single `SUBSCRIBE` on that channel, whatever the number of names or waiters, made by its first wait (a
 * provider that never waits never reads the releases of others). `waitForRelease(name)` follows the SPI: running it
 * registers interest in `name` for the life of the caller's scope (no I/O once subscribed), and the effect it
 * returns completes when a release of `name` announced after the registration is delivered to it, at once if one
 * already was. The core registers *before* each acquire attempt, so a release
 * that lands between the "held" answer and the wait is not missed, even though the answer and the message travel
 * on two different connections with no ordering between them.
 *
 * One release frees the lease for one holder, so it wakes one registration of this provider: the oldest of `name`
 * not woken yet (FIFO, so no waiter starves behind newer ones). Waking them all would send every waiter to the
 * store for a lease only one can win, and the losers straight back to sleep: with tens of waiters that herd is
 * slower than polling. (Every provider subscribed to the channel gets the message and wakes its own oldest waiter,
 * so the contenders per release are bounded by the number of providers, not of waiters.)
 *
 * The turn is never lost:
 * - a registration whose scope closes normally after its wake consumed it: its owner goes on to attempt, and if it
 *   wins, its own release wakes the next; if someone else won meanwhile (a spurious wake-up), that holder's release
 *   does;
 * - a registration whose scope closes by interruption or failure after its wake will not attempt, so the wake
 *   passes to the next registration of the name; if there is none, it is dropped, like a release nobody waits for
 *   (a later waiter makes its own attempt before it waits).
 *
 * A wake-up is only a hint: the core re-checks with `tryAcquire`, and when no message comes (an expiry, a lost
 * message) it still wakes at the holder's server-side expiry. While the subscriber is disconnected, messages are
 * lost and we cannot tell which names were released; so when it is ready again, and when the provider shuts
 * down, every registration is woken, not one per name: a spurious wake-up is cheap, a missed one costs a whole
 * lease duration.
 *
 * Pub/sub messages are not scoped to a database: providers with the same prefix on different databases of one
 * server wake each other spuriously, which costs one `tryAcquire` and nothing else (and the woken waiter, finding
 * the lease still held, sleeps again until the real release of its own database wakes the next).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, type Scope } from "effect"
import type { RedisClient } from "./script.ts"

/**
 * The notifier of one provider.
 *
 * @since 0.1.0
 */
export interface ReleaseNotifier {
  /** The SPI's `waitForRelease`: register now (for the scope), wait later. */
  readonly waitForRelease: (name: string) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
  /** Number of live registrations, woken or not (for tests and diagnostics). */
  readonly registrations: () => number
}

/** How long a first waiter waits for the SUBSCRIBE to be confirmed before it falls back to the holder's expiry. */
const subscribeTimeout = Duration.seconds(2)

interface Registration {
  /** A wake was delivered: awaiting completes at once, and the turn is this registration's until its scope ends. */
  woken: boolean
  resume: (() => void) | undefined
}

const fire = (registration: Registration) => {
  registration.woken = true
  const resume = registration.resume
  registration.resume = undefined
  resume?.()
}

/**
 * The notifier of `channel` on `subscriber` (a connection of its own, already connected). It subscribes on the
 * first wait; the subscription then lives as long as the subscriber connection; registrations are released when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (subscriber: RedisClient, channel: string): Effect.Effect<ReleaseNotifier, never, Scope.Scope> =>
  Effect.gen(function* () {
    // The registrations of each name not woken yet, oldest first (a `Set` iterates in insertion order). A woken
    // registration leaves its queue at once, so the next wake goes to the next one.
    const queues = new Map<string, Set<Registration>>()
    let live = 0

    const wakeOne = (name: string) => {
      const queue = queues.get(name)
      if (queue === undefined) return
      const oldest = queue.values().next()
      if (oldest.done === true) return
      queue.delete(oldest.value)
      if (queue.size === 0) queues.delete(name)
      fire(oldest.value)
    }
    const wakeAll = () => {
      const all = Array.from(queues.values())
      queues.clear()
      for (const queue of all) for (const registration of queue) fire(registration)
    }

    const onMessage = (from: string, name: string) => {
      if (from === channel) wakeOne(name)
    }
    let subscribed = false
    // ioredis re-subscribes by itself after a reconnect; what was published meanwhile is lost.
    const onReady = () => {
      if (subscribed) wakeAll()
    }

    subscriber.on("message", onMessage)
    subscriber.on("ready", onReady)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        subscriber.off("message", onMessage)
        subscriber.off("ready", onReady)
        // Nobody must wait forever on a provider that is gone; their next attempt reports the closed connection.
        wakeAll()
      })
    )
    // Subscribed on the first wait, not at start: every release of every holder is published, and a provider
    // that never waits (an uncontended worker) would otherwise read and parse a message per release of its own,
    // as much client CPU as the release itself. Once subscribed it stays subscribed.
    let subscribing: Promise<void> | undefined
    const subscribe: Effect.Effect<void> = Effect.suspend(() => {
      if (subscribed) return Effect.void
      subscribing ??= subscriber.subscribe(channel).then(
        () => {
          subscribed = true
        },
        () => {
          // Not subscribed (the connection is down): this waiter falls back to the holder's expiry, and the next
          // one tries again.
          subscribing = undefined
        }
      )
      const pending = subscribing
      // Bounded: a subscriber stuck offline must not hold a waiter's registration (and so its attempt) forever.
      return Effect.promise(() => pending).pipe(Effect.timeoutOption(subscribeTimeout), Effect.asVoid)
    })

    const register = (name: string): Registration => {
      const registration: Registration = { woken: false, resume: undefined }
      live++
      const queue = queues.get(name)
      if (queue === undefined) queues.set(name, new Set([registration]))
      else queue.add(registration)
      return registration
    }

    const unregister = (name: string, registration: Registration, exit: Exit.Exit<unknown, unknown>) => {
      live--
      registration.resume = undefined
      if (!registration.woken) {
        const queue = queues.get(name)
        queue?.delete(registration)
        if (queue?.size === 0) queues.delete(name)
      } else if (Exit.isFailure(exit)) {
        // Woken. Ending normally, the owner goes on to attempt: the turn is consumed. Interrupted or failed, it
        // will not attempt, so the turn passes to the next registration rather than being lost.
        wakeOne(name)
      }
    }

    const waitForRelease = (name: string): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
      Effect.map(
        Effect.andThen(
          subscribe,
          Effect.acquireRelease(
            Effect.sync(() => register(name)),
            (registration, exit) => Effect.sync(() => unregister(name, registration, exit))
          )
        ),
        (registration) =>
          Effect.callback<void>((resume) => {
            if (registration.woken) {
              resume(Effect.void)
              return
            }
            registration.resume = () => resume(Effect.void)
            return Effect.sync(() => {
              registration.resume = undefined
            })
          })
      )

    return { waitForRelease, registrations: () => live }
  })
