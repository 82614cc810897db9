/**
 * Leader election on one lease: campaign, resign (handing off to a successor where the store supports it), watch
 * who leads, and run work only while leading.
 *
 * ```ts
 * const election = yield* LeaderElection.make("scheduler", { duration: "15 seconds" })
 * yield* election.runWhileLeader(runScheduler) // interrupted on loss of leadership, then campaigns again
 * ```
 *
 * Everyone (leaders and followers) can watch `leader`, a stream of the current leader's holder id, refreshed every
 * `observeInterval` (default: half the renew interval, so a change is seen within one renew interval).
 *
 * Failover: when a leader dies without resigning, its lease runs out in the store after at most one `duration`
 * from its last renewal, and a campaigning replica takes over then (waiters sleep until the holder's known expiry,
 * or wake at once on a release). Takeover therefore happens within `duration` after the death, which is within
 * the lease duration plus one renew interval of the leader's last sign of life.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, type Fiber, Option, Schedule, Scope, Stream, SubscriptionRef } from "effect"
import * as Telemetry from "./internal/telemetry.ts"
import type { Lease } from "./Lease.ts"
import type { InvalidLeaseOptionsError, LeaseLostError, ProviderUnavailableError } from "./LeaseError.ts"
import { type AcquireError, LeaseManager } from "./LeaseManager.ts"
import * as LeaseOptions from "./LeaseOptions.ts"

/**
 * Options: lease options plus how often to observe the leader.
 *
 * @since 0.1.0
 */
export interface LeaderElectionOptions extends LeaseOptions.LeaseOptions {
  /** How often `leader` re-reads the store. Default: half of the renew interval. */
  readonly observeInterval?: Duration.Input | undefined
}

/**
 * An election for one lease name.
 *
 * @since 0.1.0
 */
export interface LeaderElection {
  readonly name: string
  /** This replica's holder id. */
  readonly holderId: string
  /** Waits until this replica leads, then returns its lease (at once if it already leads). */
  readonly campaign: Effect.Effect<Lease, AcquireError>
  /**
   * Stops leading. With a `successorHolderId` (and a store that supports handoff) the leadership is handed over
   * atomically and the transfer token returned, for the successor's `LeaseManager.claim`; otherwise the lease is
   * released. `None` when not leading (or when released).
   */
  readonly resign: (
    successorHolderId?: string
  ) => Effect.Effect<Option.Option<string>, LeaseLostError | ProviderUnavailableError | InvalidLeaseOptionsError>
  /** Whether this replica leads now; changes as it wins and loses. */
  readonly isLeader: SubscriptionRef.SubscriptionRef<boolean>
  /** The current leader's holder id (`None` while nobody leads), for leaders and followers alike. */
  readonly leader: Stream.Stream<Option.Option<string>, ProviderUnavailableError | InvalidLeaseOptionsError>
  /** This replica's lease while it leads. */
  readonly lease: Effect.Effect<Option.Option<Lease>>
  /**
   * Campaigns, runs `effect` while leading and interrupts it when leadership is lost, then campaigns again.
   * Returns the effect's result once it completes while leading (leadership is then released).
   */
  readonly runWhileLeader: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | AcquireError, R>
}

/**
 * Creates an election for `name` on the `LeaseManager` in context. Leadership lives in the current `Scope`: closing
 * it resigns.
 *
 * @since 0.1.0
 */
export const make = (
  name: string,
  options: LeaderElectionOptions = {}
): Effect.Effect<LeaderElection, InvalidLeaseOptionsError, LeaseManager | Scope.Scope> =>
  Effect.gen(function* () {
    const manager = yield* LeaseManager
    const scope = yield* Effect.scope
    const { observeInterval, ...leaseOptions } = options
    const resolved = yield* LeaseOptions.resolve(leaseOptions, name)
    const observeEvery = Duration.fromInputUnsafe(
      observeInterval ?? Duration.millis(Duration.toMillis(resolved.renewInterval) / 2)
    )
    const holderId = resolved.holderId ?? manager.holderId
    const isLeader = yield* SubscriptionRef.make(false)
    // The current term: the lease, the scope it lives in and the fiber that notices its loss.
    let term:
      | { readonly lease: Lease; readonly scope: Scope.Closeable; readonly watcher: Fiber.Fiber<void> }
      | undefined

    const endTerm = Effect.suspend(() => {
      const current = term
      term = undefined
      if (current === undefined) return Effect.void
      return SubscriptionRef.set(isLeader, false).pipe(Effect.andThen(Scope.close(current.scope, Exit.void)))
    })

    const campaign: Effect.Effect<Lease, AcquireError> = Effect.suspend(() => {
      if (term?.lease.isHeld) return Effect.succeed(term.lease)
      // Only the wait is interruptible: once granted, the lease is recorded as the term before anything else.
      return Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          yield* endTerm
          const termScope = yield* Scope.fork(scope)
          const lease = yield* restore(manager.acquire(name, leaseOptions)).pipe(
            Scope.provide(termScope),
            Effect.onError(() => Scope.close(termScope, Exit.void))
          )
          // The watcher lives in the election's scope, not the term's: closing the term must not interrupt the
          // fiber that is closing it.
          const watcher = yield* Effect.forkIn(
            Effect.andThen(lease.lost, () => Effect.suspend(() => (term?.lease === lease ? endTerm : Effect.void))),
            scope
          )
          term = { lease, scope: termScope, watcher }
          yield* SubscriptionRef.set(isLeader, true)
          return lease
        })
      )
    }).pipe(
      Telemetry.span("lease.election.campaign", {
        attributes: { "lease.name": name, "lease.holder_id": holderId }
      })
    )

    const resign = (successorHolderId?: string) =>
      Effect.suspend(() => {
        const current = term
        if (current === undefined || !current.lease.isHeld) return Effect.as(endTerm, Option.none<string>())
        const handOff =
          successorHolderId !== undefined && manager.provider.capabilities.handoff
            ? Effect.map(current.lease.handoff(successorHolderId), Option.some)
            : Effect.succeed(Option.none<string>())
        return handOff.pipe(Effect.ensuring(endTerm))
      })

    const leader = Stream.fromEffectSchedule(manager.inspect(name), Schedule.spaced(observeEvery)).pipe(
      Stream.map((info) => (info.held ? Option.fromUndefinedOr(info.holderId) : Option.none<string>())),
      Stream.changes
    )

    const runWhileLeader = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | AcquireError, R> =>
      Effect.gen(function* () {
        while (true) {
          const lease = yield* campaign
          const result = yield* Effect.raceFirst(
            Effect.map(effect, (value) => Option.some(value)),
            Effect.as(lease.lost, Option.none<A>())
          )
          if (Option.isSome(result)) {
            yield* endTerm
            return result.value
          }
          // Leadership lost: the work was interrupted; campaign again.
          yield* endTerm
        }
      })

    yield* Effect.addFinalizer(() => endTerm)

    const election: LeaderElection = {
      name,
      holderId,
      campaign,
      resign,
      isLeader,
      leader,
      lease: Effect.sync(() => (term?.lease.isHeld ? Option.some(term.lease) : Option.none())),
      runWhileLeader
    }
    return election
  })

/**
 * The module as a namespace-like object, so `LeaderElection.make(...)` reads naturally.
 *
 * @since 0.1.0
 */
export const LeaderElection = { make }
