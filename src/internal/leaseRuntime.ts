/**
 * The life of one held lease: its local deadlines, renewal, loss detection and release.
 *
 * Time model (design §3.2). All times are read from Effect's `Clock` (so `TestClock` drives them): the monotonic
 * clock for deadlines, the wall clock only for the `Date`s shown to users. A grant confirmed for `ttl` by a request
 * *sent* at `s` is trusted locally until
 *
 *   validUntil     = s + ttl − drift
 *   safetyDeadline = s + min(safetyThreshold × ttl, ttl − drift)
 *
 * Counting from the send time (not the reply) is what makes the bound safe: the store started its own countdown
 * no earlier than that. The lease is declared lost when `safetyDeadline` passes without a newer confirmation,
 * *even if a renewal is still in flight*: the watchdog does not wait for the store. The next renewal is due at
 * `s + renewInterval`, anchored on the last confirmed grant (the original anchored on the acquisition).
 *
 * No fiber and no timer per lease: the leases of a manager share one `RenewalScheduler` (one min-heap, one timer),
 * which visits a lease when its renewal is due or its safety deadline comes. A renewal attempt runs in a fiber of
 * its own, started from the acquirer's context, for as long as the attempt lasts.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  type Fiber,
  Option,
  PubSub,
  Scope,
  Semaphore,
  Stream,
  Tracer
} from "effect"
import {
  InvalidLeaseOptionsError,
  LeaseLostError,
  type LeaseLostReason,
  LeaseRenewalError,
  ProviderUnavailableError as ProviderUnavailable,
  type ProviderUnavailableError
} from "../LeaseError.ts"
import { LeaseEvent } from "../LeaseEvent.ts"
import type { ResolvedLeaseOptions } from "../LeaseOptions.ts"
import type { LeaseProviderShape } from "../LeaseProvider.ts"
import { monotonicMillis, reached } from "./clock.ts"
import * as Scheduler from "./renewalScheduler.ts"
import * as Telemetry from "./telemetry.ts"
import * as Timer from "./timer.ts"

export { monotonicMillis, reached }

/**
 * The state of a lease: `held` until it is `lost` or `released`. Both ends are final.
 *
 * @since 0.1.0
 */
export type LeaseState = "held" | "lost" | "released"

/** @internal */
export interface Grant {
  readonly leaseId: string
  readonly fencingToken: bigint
  readonly ttl: Duration.Duration
  /** Monotonic time at which the acquire request was sent. */
  readonly sentAt: number
  /** Wall-clock time at which the acquire request was sent. */
  readonly sentAtWall: number
}

/**
 * Mutable per-lease state. Only this module writes it; fibers of one lease never run truly concurrently (one JS
 * thread), and every transition is a synchronous check-and-set, so no lock is needed for the state itself. The
 * semaphore only serialises renewals (automatic and manual) so two never race on the store.
 *
 * @internal
 */
export interface LeaseRuntime extends Scheduler.Schedulable {
  readonly name: string
  readonly holderId: string
  readonly leaseId: string
  readonly fencingToken: bigint
  /** Wall-clock time the acquire request was sent (a number: a `Date` per lease is memory nobody may read). */
  readonly acquiredAtWall: number
  readonly provider: LeaseProviderShape
  readonly options: ResolvedLeaseOptions
  readonly scope: Scope.Closeable
  readonly lost: Deferred.Deferred<LeaseLostError>
  /** Made by the first renewal (see `permitOf`). */
  permit: Semaphore.Semaphore | undefined
  readonly scheduler: LeaseScheduler
  /** The acquire span: renewal and release spans (roots: they outlive it) link to it. */
  readonly acquireSpan: Tracer.AnySpan | undefined
  /** Monotonic time of the grant, for the hold-time metric. */
  readonly startedAt: number
  state: LeaseState
  lostError: LeaseLostError | undefined
  /**
   * The latest event, and the event hub, made on the first subscription: most leases are never observed, and a
   * hub per lease was a tenth of an acquire. The hub replays one event, so a late subscriber sees this one first.
   */
  lastEvent: LeaseEvent | undefined
  pubsub: PubSub.PubSub<LeaseEvent> | undefined
  /** The ttl of the grant, for the `Acquired` event. */
  readonly ttl: Duration.Duration
  /** Monotonic send time of the last confirmed grant or renewal. */
  anchor: number
  validUntil: number
  safetyDeadline: number
  expiresAtWall: number
  lastRenewedAtWall: number
  renewalCount: number
  consecutiveFailures: number
  /** A renewal was attempted and not confirmed since the last confirmation. */
  unconfirmed: boolean
  lastSlack: Duration.Duration | undefined
  /** The anchor the current renewal cycle counts from; a manual renewal that moves `anchor` starts a new one. */
  cycle: number
  /** Automatic attempts made in the current cycle. */
  attempt: number
  /** When the next retry is due, after a failed attempt (`undefined`: the cycle's first renewal is next). */
  nextAttemptAt: number | undefined
  /** The automatic renewal attempt in flight. */
  attemptFiber: Fiber.Fiber<void> | undefined
}

/**
 * The scheduler a manager keeps for its leases.
 *
 * @internal
 */
export type LeaseScheduler = Scheduler.RenewalScheduler<LeaseRuntime>

const deadlines = (options: ResolvedLeaseOptions, sentAt: number, ttl: Duration.Duration) => {
  const ttlMs = Duration.toMillis(ttl)
  const driftMs = Duration.toMillis(options.drift)
  return {
    validUntil: sentAt + ttlMs - driftMs,
    safetyDeadline: sentAt + Math.min(options.safetyThreshold * ttlMs, ttlMs - driftMs)
  }
}

/**
 * Creates the runtime of a freshly granted lease, registers its release on `scope` and hands it to the manager's
 * scheduler. Must run uninterruptibly right after the grant, so a grant is never left without a finalizer.
 *
 * @internal
 */
export const start = (args: {
  readonly name: string
  readonly holderId: string
  readonly provider: LeaseProviderShape
  readonly options: ResolvedLeaseOptions
  readonly grant: Grant
  readonly parent: Scope.Scope
  readonly scheduler: LeaseScheduler
  readonly onEnd: (runtime: LeaseRuntime) => void
}): Effect.Effect<LeaseRuntime> =>
  Effect.gen(function* () {
    const { grant, options, onEnd } = args
    const scope = yield* Scope.fork(args.parent)
    const { validUntil, safetyDeadline } = deadlines(options, grant.sentAt, grant.ttl)
    const runtime: LeaseRuntime = {
      name: args.name,
      holderId: args.holderId,
      leaseId: grant.leaseId,
      fencingToken: grant.fencingToken,
      acquiredAtWall: grant.sentAtWall,
      provider: args.provider,
      options,
      scope,
      lost: Deferred.makeUnsafe<LeaseLostError>(),
      permit: undefined,
      scheduler: args.scheduler,
      // Renewals run in fibers started from this context: the acquirer's Clock, logger, tracer and metric registry.
      context: yield* Effect.context<never>(),
      // `serviceOption`, not `currentSpan`: with no span the latter fails with an error, stack trace and all.
      acquireSpan: Option.getOrUndefined(yield* Effect.serviceOption(Tracer.ParentSpan)),
      startedAt: grant.sentAt,
      state: "held",
      lostError: undefined,
      // `Acquired` is made only if someone subscribes before the next event (see `latestEvent`).
      lastEvent: undefined,
      ttl: grant.ttl,
      pubsub: undefined,
      anchor: grant.sentAt,
      validUntil,
      safetyDeadline,
      expiresAtWall: grant.sentAtWall + Duration.toMillis(grant.ttl),
      lastRenewedAtWall: grant.sentAtWall,
      renewalCount: 0,
      consecutiveFailures: 0,
      unconfirmed: false,
      lastSlack: undefined,
      cycle: grant.sentAt,
      attempt: 0,
      nextAttemptAt: undefined,
      attemptFiber: undefined,
      wakeAt: 0,
      heapIndex: -1
    }
    yield* Telemetry.leaseStarted(args.provider.name)
    yield* Scope.addFinalizer(
      scope,
      // Built when it runs: a prebuilt effect tree per held lease is memory for nothing.
      Effect.suspend(() =>
        Effect.ensuring(
          releaseNow(runtime),
          Effect.sync(() => onEnd(runtime))
        )
      )
    )
    plan(runtime, grant.sentAt)
    if (yield* Telemetry.debugEnabled) yield* Effect.logDebug("lease acquired").pipe(annotate(runtime))
    return runtime
  })

/** Publishes `event` to the lease's subscribers, if any, and keeps it as the latest. */
const publish = (runtime: LeaseRuntime, event: LeaseEvent): void => {
  runtime.lastEvent = event
  if (runtime.pubsub !== undefined) PubSub.publishUnsafe(runtime.pubsub, event)
}

/**
 * The lease's events: the latest first, then every new one, ending after `Lost` or `Released`.
 *
 * @internal
 */
export const events = (runtime: LeaseRuntime): Stream.Stream<LeaseEvent> =>
  Stream.unwrap(
    Effect.flatMap(PubSub.unbounded<LeaseEvent>({ replay: 1 }), (fresh) =>
      Effect.sync(() => {
        // Checked and set in one synchronous step, so two first subscribers cannot make two hubs.
        if (runtime.pubsub === undefined) {
          PubSub.publishUnsafe(fresh, latestEvent(runtime))
          runtime.pubsub = fresh
        }
        return Stream.fromPubSub(runtime.pubsub)
      })
    )
  ).pipe(Stream.takeUntil((event) => event._tag === "Lost" || event._tag === "Released"))

/** The latest event: `Acquired` until another one is published. */
const latestEvent = (runtime: LeaseRuntime): LeaseEvent =>
  runtime.lastEvent ??
  LeaseEvent.Acquired({
    name: runtime.name,
    leaseId: runtime.leaseId,
    fencingToken: runtime.fencingToken,
    expiresAt: new Date(runtime.acquiredAtWall + Duration.toMillis(runtime.ttl)),
    ttl: runtime.ttl
  })

/** The lease's renewal lock, made on first use: most leases are released before their first renewal. */
const permitOf = (runtime: LeaseRuntime): Semaphore.Semaphore => {
  runtime.permit ??= Semaphore.makeUnsafe(1)
  return runtime.permit
}

/** Span links from a renewal or release span to the acquire span. */
const links = (runtime: LeaseRuntime): ReadonlyArray<Tracer.SpanLink> =>
  runtime.acquireSpan === undefined ? [] : [{ span: runtime.acquireSpan, attributes: { "lease.link": "acquire" } }]

/** Runs `effect` in a fiber of its own, from the lease's context (its Clock, logger, tracer, metrics). */
const runDetached = <A, E>(runtime: LeaseRuntime, effect: Effect.Effect<A, E>): Fiber.Fiber<A, E> =>
  Effect.runForkWith(runtime.context)(effect)

/**
 * The scheduler of one manager's leases: it visits a lease when its renewal is due or its safety deadline comes.
 *
 * @internal
 */
export const makeScheduler = (): LeaseScheduler => Scheduler.make<LeaseRuntime>(visit, coalesceMillis)

/**
 * Renewals due within this much of each other start together (the later ones that much early), so a provider that
 * batches what starts in one tick (Redis) renews many leases per round trip. Tiny against any renewal interval.
 */
const coalesceMillis = 10

/**
 * A visit at `now`: past the safety deadline without a newer confirmation, the lease is lost, even if a renewal is
 * still in flight (the watchdog never waits for the store; the attempt is interrupted and its late answer no longer
 * counts). Otherwise the schedule goes on.
 */
const visit = (runtime: LeaseRuntime, now: number, horizon: number): void => {
  if (runtime.state !== "held") return
  if (reached(now, runtime.safetyDeadline)) {
    const running = runtime.attemptFiber
    runtime.attemptFiber = undefined
    running?.interruptUnsafe()
    const reason: LeaseLostReason = runtime.unconfirmed ? "unconfirmed" : "expired"
    const detail = runtime.unconfirmed
      ? "no renewal was confirmed before the safety deadline"
      : "the lease reached its safety deadline without renewal"
    runDetached(runtime, markLost(runtime, reason, detail))
    return
  }
  plan(runtime, horizon)
}

/**
 * Renews at `anchor + renewInterval`, then retries at `+r`, `+2r`, `+4r`, … while they fall before the safety
 * deadline. Starts the attempt that is due, or schedules the next visit: the next attempt or the deadline,
 * whichever comes first (while an attempt is in flight, the deadline). An attempt due by `horizon` (now, or a
 * few milliseconds later when the scheduler coalesces) starts now.
 */
const plan = (runtime: LeaseRuntime, horizon: number): void => {
  const { scheduler } = runtime
  if (runtime.state !== "held") {
    scheduler.unschedule(runtime)
    return
  }
  if (runtime.anchor !== runtime.cycle) {
    // Confirmed meanwhile (by a manual renewal): a new cycle starts from the new anchor.
    runtime.cycle = runtime.anchor
    runtime.attempt = 0
    runtime.nextAttemptAt = undefined
  }
  if (runtime.attemptFiber !== undefined) {
    scheduler.schedule(runtime, runtime.safetyDeadline)
    return
  }
  const due = runtime.options.autoRenew
    ? (runtime.nextAttemptAt ?? runtime.anchor + Duration.toMillis(runtime.options.renewInterval))
    : Number.POSITIVE_INFINITY
  if (!reached(horizon, due)) {
    scheduler.schedule(runtime, Math.min(due, runtime.safetyDeadline))
    return
  }
  const attempt = ++runtime.attempt
  scheduler.schedule(runtime, runtime.safetyDeadline)
  const fiber = runDetached(runtime, renewAutomatically(runtime, attempt))
  // An attempt on a synchronous store has already finished (and planned the next one) by now.
  if (fiber.pollUnsafe() === undefined) runtime.attemptFiber = fiber
}

/** One automatic attempt and what follows it: the next renewal, or a retry, or nothing (lost). */
const renewAutomatically = (runtime: LeaseRuntime, attempt: number): Effect.Effect<void> =>
  Effect.matchEffect(renewOnce(runtime, attempt, true), {
    onSuccess: () => attemptDone(runtime),
    onFailure: (error) =>
      error._tag === "LeaseLostError" ? attemptDone(runtime) : renewalFailed(runtime, attempt, error)
  })

const attemptDone = (runtime: LeaseRuntime): Effect.Effect<void> =>
  Effect.map(monotonicMillis, (now) => {
    runtime.attemptFiber = undefined
    plan(runtime, now)
  })

const renewalFailed = (runtime: LeaseRuntime, attempt: number, error: LeaseRenewalError): Effect.Effect<void> =>
  Effect.gen(function* () {
    runtime.consecutiveFailures++
    const delay = Duration.toMillis(runtime.options.retryInterval) * 2 ** (attempt - 1)
    const after = yield* monotonicMillis
    const cause = error.cause
    const retryable = !(cause instanceof ProviderUnavailable) || cause.isRetryable
    const willRetry = retryable && attempt <= runtime.options.maxRetries && after + delay < runtime.safetyDeadline
    // With no retry left, keep trusting the lease until its safety deadline: it is still valid until then.
    runtime.nextAttemptAt = willRetry ? after + delay : Number.POSITIVE_INFINITY
    publish(
      runtime,
      LeaseEvent.RenewalFailed({ name: runtime.name, leaseId: runtime.leaseId, attempt, willRetry, error })
    )
    yield* Effect.logWarning(
      `lease renewal failed (attempt ${attempt}, ${willRetry ? "will retry" : "no retry left"}): ${error.message}`
    ).pipe(annotate(runtime))
    yield* attemptDone(runtime)
  })

const annotate = (runtime: LeaseRuntime) =>
  Effect.annotateLogs({
    "lease.name": runtime.name,
    "lease.id": runtime.leaseId,
    "lease.provider": runtime.provider.name,
    "lease.fencing_token": runtime.fencingToken.toString()
  })

/**
 * Declares the lease lost (once). Completes `lost`, publishes `Lost`, logs a warning.
 *
 * @internal
 */
export const markLost = (runtime: LeaseRuntime, reason: LeaseLostReason, detail?: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (runtime.state !== "held") return Effect.void
    runtime.state = "lost"
    runtime.scheduler.unschedule(runtime)
    const error = new LeaseLostError({
      leaseName: runtime.name,
      reason,
      leaseId: runtime.leaseId,
      provider: runtime.provider.name,
      detail
    })
    runtime.lostError = error
    publish(runtime, LeaseEvent.Lost({ name: runtime.name, leaseId: runtime.leaseId, reason, error }))
    // Log and metrics first, `lost` last, and all of it uninterruptible: completing `lost` wakes the work under the
    // lease (withLease), which then closes the lease's scope.
    return Effect.logWarning(`lease lost: ${error.message}`).pipe(
      annotate(runtime),
      Effect.andThen(
        Effect.flatMap(monotonicMillis, (now) =>
          Telemetry.leaseEnded(runtime.provider.name, now - runtime.startedAt, reason)
        )
      ),
      Effect.andThen(Deferred.succeed(runtime.lost, error)),
      Effect.uninterruptible
    )
  })

/** The error to fail with when an operation needs a held lease and this one is not. */
const notHeld = (runtime: LeaseRuntime): LeaseLostError =>
  runtime.lostError ??
  new LeaseLostError({
    leaseName: runtime.name,
    reason: "released",
    leaseId: runtime.leaseId,
    provider: runtime.provider.name,
    detail: "the lease was already released"
  })

const timeoutError = (runtime: LeaseRuntime, operation: "renew" | "release" | "handoff", after: number) =>
  new ProviderUnavailable({
    provider: runtime.provider.name,
    operation,
    isRetryable: true,
    leaseName: runtime.name,
    leaseId: runtime.leaseId,
    isTimeout: true,
    detail: `no answer within ${after} ms`
  })

/**
 * One renewal attempt, bounded by `attemptTimeout` and by the time left before the safety deadline. Serialised
 * with every other renewal of this lease. A proof of loss from the store marks the lease lost.
 *
 * Traced as `lease.renew`: automatic renewals are root spans linked to the acquire span (they outlive it by
 * hours), manual ones are children of the caller's span.
 *
 * @internal
 */
export const renewOnce = (
  runtime: LeaseRuntime,
  attempt: number,
  automatic: boolean
): Effect.Effect<void, LeaseRenewalError | LeaseLostError> =>
  permitOf(runtime)
    .withPermits(1)(
      Effect.gen(function* () {
        if (runtime.state !== "held") return yield* notHeld(runtime)
        const provider = runtime.provider.name
        const sentAt = yield* monotonicMillis
        const sentAtWall = yield* Clock.currentTimeMillis
        const renewalError = (cause: unknown) =>
          new LeaseRenewalError({ leaseName: runtime.name, leaseId: runtime.leaseId, attempt, provider, cause })
        const budget = Math.min(Duration.toMillis(runtime.options.attemptTimeout), runtime.safetyDeadline - sentAt)
        if (budget < 0.001) {
          return yield* renewalError(timeoutError(runtime, "renew", 0))
        }
        runtime.unconfirmed = true
        const renewed = yield* runtime.provider
          .renew({ name: runtime.name, leaseId: runtime.leaseId, duration: runtime.options.duration })
          .pipe(
            (self) =>
              Timer.timeoutOrElse(self, {
                duration: Duration.millis(budget),
                orElse: () =>
                  Telemetry.providerError(provider, "renew", "timeout").pipe(
                    Effect.andThen(Effect.fail(timeoutError(runtime, "renew", budget)))
                  )
              }),
            Effect.tapError(() =>
              Effect.flatMap(monotonicMillis, (now) => Telemetry.renewal(provider, "failure", now - sentAt))
            ),
            Effect.catchTag("LeaseLostError", (error) =>
              markLost(runtime, error.reason, error.detail).pipe(
                Effect.andThen(Effect.suspend(() => Effect.fail(notHeld(runtime))))
              )
            ),
            Effect.mapError((error) => (error._tag === "LeaseLostError" ? error : renewalError(error)))
          )
        const confirmedAt = yield* monotonicMillis
        yield* Telemetry.renewal(provider, "success", confirmedAt - sentAt)
        if (runtime.state !== "held") return yield* notHeld(runtime)
        if (reached(confirmedAt, runtime.safetyDeadline)) {
          // Too late to count: the watchdog is about to (or did) declare the lease lost.
          return yield* renewalError(timeoutError(runtime, "renew", confirmedAt - sentAt))
        }
        const slackMs = Math.max(0, runtime.validUntil - confirmedAt)
        const slack = Duration.millis(slackMs)
        const next = deadlines(runtime.options, sentAt, renewed.ttl)
        runtime.anchor = sentAt
        runtime.validUntil = next.validUntil
        runtime.safetyDeadline = next.safetyDeadline
        runtime.expiresAtWall = sentAtWall + Duration.toMillis(renewed.ttl)
        runtime.lastRenewedAtWall = sentAtWall
        runtime.renewalCount++
        runtime.consecutiveFailures = 0
        runtime.unconfirmed = false
        runtime.lastSlack = slack
        yield* Telemetry.slack(provider, slackMs)
        yield* Effect.annotateCurrentSpan({ "lease.outcome": "renewed", "lease.slack_ms": slackMs })
        publish(
          runtime,
          LeaseEvent.Renewed({
            name: runtime.name,
            leaseId: runtime.leaseId,
            expiresAt: new Date(runtime.expiresAtWall),
            ttl: renewed.ttl,
            slack
          })
        )
        if (yield* Telemetry.debugEnabled) yield* Effect.logDebug("lease renewed").pipe(annotate(runtime))
      })
    )
    .pipe(
      Effect.tapError((error) =>
        Effect.annotateCurrentSpan("lease.outcome", error._tag === "LeaseLostError" ? "lost" : "failed")
      ),
      Telemetry.span("lease.renew", {
        root: automatic,
        links: links(runtime),
        attributes: { ...spanAttributes(runtime), "lease.renew.attempt": attempt, "lease.renew.automatic": automatic }
      })
    )

/** The attributes every span of a lease carries. @internal */
export const spanAttributes = (runtime: LeaseRuntime): Record<string, unknown> => ({
  "lease.name": runtime.name,
  "lease.provider": runtime.provider.name,
  "lease.holder_id": runtime.holderId,
  "lease.id": runtime.leaseId,
  "lease.fencing_token": runtime.fencingToken.toString()
})

/**
 * Releases the lease in the store (ownership-checked there), at most once. Runs as the lease scope's finalizer.
 * A lease lost as `unconfirmed` may still be ours in the store (the store was only unreachable), so it is
 * released too: waiters then need not wait for it to expire.
 */
const releaseNow = (runtime: LeaseRuntime): Effect.Effect<void> =>
  Effect.gen(function* () {
    const wasHeld = runtime.state === "held"
    const mayStillHold = wasHeld || runtime.lostError?.reason === "unconfirmed"
    // Renewal stops first: out of the schedule, and an attempt in flight is interrupted (its answer no longer
    // counts; the store checks ownership, so a renewal landing after the release finds nothing to renew).
    runtime.scheduler.unschedule(runtime)
    const running = runtime.attemptFiber
    runtime.attemptFiber = undefined
    running?.interruptUnsafe()
    if (wasHeld) {
      runtime.state = "released"
      const now = yield* monotonicMillis
      yield* Telemetry.leaseEnded(runtime.provider.name, now - runtime.startedAt)
    }
    if (!mayStillHold) return
    const timeoutMs = Duration.toMillis(runtime.options.attemptTimeout)
    const attempt = runtime.provider.release({ name: runtime.name, leaseId: runtime.leaseId }).pipe((self) =>
      Timer.timeoutOrElse(self, {
        duration: runtime.options.attemptTimeout,
        orElse: () => Effect.fail(timeoutError(runtime, "release", timeoutMs))
      })
    )
    // One retry on a retryable failure: a release that does not reach the store costs waiters a full expiry.
    const confirmed = yield* attempt.pipe(
      Effect.catchIf(
        (error: ProviderUnavailableError) => error.isRetryable,
        () => attempt
      ),
      Effect.tapError((error) =>
        Effect.logWarning(`lease release failed, it will expire in the store: ${error.message}`).pipe(annotate(runtime))
      ),
      Effect.map(() => true),
      Effect.orElseSucceed(() => false)
    )
    if (wasHeld) {
      publish(runtime, LeaseEvent.Released({ name: runtime.name, leaseId: runtime.leaseId, confirmed }))
      if (yield* Telemetry.debugEnabled) yield* Effect.logDebug("lease released").pipe(annotate(runtime))
    }
    yield* Effect.annotateCurrentSpan("lease.outcome", confirmed ? "released" : "unconfirmed")
  }).pipe(
    Telemetry.span("lease.release", {
      links: links(runtime),
      attributes: spanAttributes(runtime)
    })
  )

/**
 * Releases the lease now (closing its scope: renewal stops, the store is told). Idempotent.
 *
 * @internal
 */
export const release = (runtime: LeaseRuntime): Effect.Effect<void> => Scope.close(runtime.scope, Exit.void)

/**
 * Time left before the safety deadline (zero once it passed or the lease ended).
 *
 * @internal
 */
export const timeLeft = (runtime: LeaseRuntime): Effect.Effect<Duration.Duration> =>
  Effect.map(monotonicMillis, (now) =>
    Duration.millis(runtime.state === "held" ? Math.max(0, runtime.safetyDeadline - now) : 0)
  )

/**
 * Where a held lease stands in its renewal cycle, for health checks.
 *
 * @since 0.1.0
 */
export interface LeaseStatus {
  readonly state: LeaseState
  readonly autoRenew: boolean
  /** Time since the send time of the last confirmed grant or renewal. */
  readonly sinceLastRenewal: Duration.Duration
  /** How late the next renewal is (zero when it is not yet due). */
  readonly renewalOverdue: Duration.Duration
  /** Time left before the safety deadline (zero once passed or ended). */
  readonly untilSafetyDeadline: Duration.Duration
  /** Fraction of the retry window (from the due renewal to the safety deadline) already used, 0–1. */
  readonly retryWindowUsed: number
  readonly consecutiveFailures: number
  readonly lastSlack: Duration.Duration | undefined
}

/** @internal */
export const status = (runtime: LeaseRuntime): Effect.Effect<LeaseStatus> =>
  Effect.map(monotonicMillis, (now) => {
    const due = runtime.anchor + Duration.toMillis(runtime.options.renewInterval)
    const window = Math.max(1, runtime.safetyDeadline - due)
    const held = runtime.state === "held"
    return {
      state: runtime.state,
      autoRenew: runtime.options.autoRenew,
      sinceLastRenewal: Duration.millis(Math.max(0, now - runtime.anchor)),
      renewalOverdue: Duration.millis(held ? Math.max(0, now - due) : 0),
      untilSafetyDeadline: Duration.millis(held ? Math.max(0, runtime.safetyDeadline - now) : 0),
      retryWindowUsed: held ? Math.min(1, Math.max(0, (now - due) / window)) : 1,
      consecutiveFailures: runtime.consecutiveFailures,
      lastSlack: runtime.lastSlack
    }
  })

/**
 * Hands the lease to `successorHolderId`: one store step moves ownership from this grant to a reservation under a
 * fresh transfer token, so the lease is never free in between. Serialised with renewals. Once committed, this
 * lease is finished: `lost` completes with reason `released` (so work under it stops) and `Released` is
 * published. Returns the transfer token the successor passes to `claim`.
 *
 * @internal
 */
export const handoff = (
  runtime: LeaseRuntime,
  successorHolderId: string,
  claimWindow: Duration.Duration | undefined
): Effect.Effect<string, LeaseLostError | ProviderUnavailableError | InvalidLeaseOptionsError> =>
  permitOf(runtime)
    .withPermits(1)(
      Effect.gen(function* () {
        const send = runtime.provider.handoff
        const invalid = (field: string, detail: string) =>
          new InvalidLeaseOptionsError({ leaseName: runtime.name, provider: runtime.provider.name, field, detail })
        if (send === undefined) {
          return yield* invalid("handoff", `the ${runtime.provider.name} provider does not support handoff`)
        }
        if (successorHolderId.length === 0 || successorHolderId.length > 255) {
          return yield* invalid("successorHolderId", "must be a non-empty string of at most 255 characters")
        }
        const window = claimWindow ?? runtime.options.duration
        if (!Duration.isFinite(window) || Duration.toMillis(window) <= 0) {
          return yield* invalid("claimWindow", `must be a positive, finite duration, got ${Duration.format(window)}`)
        }
        if (
          runtime.provider.capabilities.fixedClaimWindow === true &&
          !Duration.equals(window, runtime.options.duration)
        ) {
          return yield* invalid(
            "claimWindow",
            `the ${runtime.provider.name} provider reserves a handed-off lease for the lease's own duration ` +
              `(${Duration.format(runtime.options.duration)}); leave claimWindow unset`
          )
        }
        if (runtime.state !== "held") return yield* notHeld(runtime)
        const sentAt = yield* monotonicMillis
        const budget = Math.min(Duration.toMillis(runtime.options.attemptTimeout), runtime.safetyDeadline - sentAt)
        if (budget < 0.001) return yield* timeoutError(runtime, "handoff", 0)
        const transferToken = randomUUID()
        yield* send({
          name: runtime.name,
          leaseId: runtime.leaseId,
          successorHolderId,
          transferToken,
          claimWindow: window
        }).pipe(
          (self) =>
            Timer.timeoutOrElse(self, {
              duration: Duration.millis(budget),
              orElse: () => Effect.fail(timeoutError(runtime, "handoff", budget))
            }),
          Effect.catchTag("LeaseLostError", (error) =>
            markLost(runtime, error.reason, error.detail).pipe(
              Effect.andThen(Effect.suspend(() => Effect.fail(notHeld(runtime))))
            )
          ),
          // No answer: the reservation may be in the store, possibly with a window shorter than our remaining time,
          // after which someone else could acquire. We can no longer vouch for the lease: stop trusting it now.
          Effect.tapError((error) =>
            error._tag === "ProviderUnavailableError"
              ? markLost(runtime, "unconfirmed", `the handoff to "${successorHolderId}" got no answer: ${error.detail}`)
              : Effect.void
          )
        )
        yield* finishByHandoff(runtime, successorHolderId)
        yield* Effect.annotateCurrentSpan({ "lease.outcome": "handed-off", "lease.successor_id": successorHolderId })
        return transferToken
      })
    )
    .pipe(
      Telemetry.span("lease.handoff", {
        links: links(runtime),
        attributes: spanAttributes(runtime)
      })
    )

const finishByHandoff = (runtime: LeaseRuntime, successorHolderId: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (runtime.state !== "held") return Effect.void
    runtime.state = "released"
    const error = new LeaseLostError({
      leaseName: runtime.name,
      reason: "released",
      leaseId: runtime.leaseId,
      provider: runtime.provider.name,
      detail: `handed off to "${successorHolderId}"`
    })
    runtime.lostError = error
    runtime.scheduler.unschedule(runtime)
    publish(runtime, LeaseEvent.Released({ name: runtime.name, leaseId: runtime.leaseId, confirmed: true }))
    return Effect.logInfo(`lease handed off to "${successorHolderId}"`).pipe(
      annotate(runtime),
      Effect.andThen(
        Effect.flatMap(monotonicMillis, (now) => Telemetry.leaseEnded(runtime.provider.name, now - runtime.startedAt))
      ),
      Effect.andThen(Deferred.succeed(runtime.lost, error)),
      Effect.uninterruptible
    )
  })
