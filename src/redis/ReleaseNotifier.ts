/**
 * Push wake-up for waiters: one shared subscriber connection per provider, fanned out to per-name registrations.
 *
 * Release and break publish the lease name on the prefix's release channel (`lease:released`). The provider keeps
 * a single `SUBSCRIBE` on that channel, whatever the number of names or waiters. `waitForRelease(name)` follows
 * the SPI: running it registers interest in `name` for the life of the caller's scope (no I/O: the subscription
 * already exists), and the effect it returns completes at the first release of `name` announced after the
 * registration, at once if one already came. The core registers *before* each acquire attempt, so a release that
 * lands between the "held" answer and the wait is not missed, even though the answer and the message travel on two
 * different connections with no ordering between them.
 *
 * A wake-up is only a hint: the core re-checks with `tryAcquire`, and when no message comes (an expiry, a lost
 * message) it still wakes at the holder's server-side expiry. While the subscriber is disconnected, messages are
 * lost; when it is ready again every registration counts as released (a spurious wake-up is cheap, a missed one
 * costs a whole lease duration).
 *
 * Pub/sub messages are not scoped to a database: providers with the same prefix on different databases of one
 * server wake each other spuriously, which costs one `tryAcquire` and nothing else.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import type { ProviderUnavailableError } from "../LeaseError.ts"
import { toProviderError } from "./errors.ts"
import type { RedisClient } from "./script.ts"

/**
 * The notifier of one provider.
 *
 * @since 0.1.0
 */
export interface ReleaseNotifier {
  /** The SPI's `waitForRelease`: register now (for the scope), wait later. */
  readonly waitForRelease: (name: string) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
  /** Number of live registrations (for tests and diagnostics). */
  readonly registrations: () => number
}

interface Registration {
  released: boolean
  resume: (() => void) | undefined
}

const fire = (registration: Registration) => {
  registration.released = true
  const resume = registration.resume
  registration.resume = undefined
  resume?.()
}

/**
 * Subscribes `subscriber` (a connection of its own, already connected) to `channel` and returns the notifier.
 * The subscription lives as long as the subscriber connection; registrations are released when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  subscriber: RedisClient,
  channel: string
): Effect.Effect<ReleaseNotifier, ProviderUnavailableError, Scope.Scope> =>
  Effect.gen(function* () {
    const byName = new Map<string, Set<Registration>>()
    const fireAll = () => {
      for (const set of byName.values()) for (const registration of set) fire(registration)
    }

    const onMessage = (from: string, name: string) => {
      if (from !== channel) return
      const set = byName.get(name)
      if (set !== undefined) for (const registration of set) fire(registration)
    }
    let subscribed = false
    // ioredis re-subscribes by itself after a reconnect; what was published meanwhile is lost.
    const onReady = () => {
      if (subscribed) fireAll()
    }

    subscriber.on("message", onMessage)
    subscriber.on("ready", onReady)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        subscriber.off("message", onMessage)
        subscriber.off("ready", onReady)
        // Nobody must wait forever on a provider that is gone; their next attempt reports the closed connection.
        fireAll()
      })
    )
    yield* Effect.tryPromise({
      try: () => subscriber.subscribe(channel),
      catch: (cause) => toProviderError(cause, { operation: "connect" })
    })
    subscribed = true

    const waitForRelease = (name: string): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
      Effect.gen(function* () {
        const registration: Registration = { released: false, resume: undefined }
        let set = byName.get(name)
        if (set === undefined) {
          set = new Set()
          byName.set(name, set)
        }
        set.add(registration)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            registration.resume = undefined
            const current = byName.get(name)
            current?.delete(registration)
            if (current?.size === 0) byName.delete(name)
          })
        )
        return Effect.callback<void>((resume) => {
          if (registration.released) {
            resume(Effect.void)
            return
          }
          registration.resume = () => resume(Effect.void)
          return Effect.sync(() => {
            registration.resume = undefined
          })
        })
      })

    return {
      waitForRelease,
      registrations: () => {
        let n = 0
        for (const set of byName.values()) n += set.size
        return n
      }
    }
  })
