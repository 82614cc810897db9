/**
 * Taking a lease: single attempts, and the wait between them (design §3.3).
 *
 * - Each attempt is bounded by `attemptTimeout` and is **not** cut short by an interruption of the caller: a
 *   request already sent finishes, and if it won, the lease is registered on the caller's scope (and so
 *   released) before the interruption takes effect. An attempt cut short by its own timeout may still have won in
 *   the store; since the core chose its lease id, a release of that id is sent right away to undo it.
 * - Between attempts the wait is interruptible. While the lease is held elsewhere we sleep until the holder's
 *   known expiry, capped by an exponential backoff with jitter, and wake at once on the provider's push signal
 *   (`waitForRelease`). There is no fixed poll.
 * - A store that keeps failing is retried with backoff (honouring `retryAfter`); `maxConsecutiveFailures`
 *   failures in a row turn a dead store into a clear error instead of a silent hang. Non-retryable errors fail
 *   at once.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import { Clock, Duration, Effect, Option, Random } from "effect"
import {
  InvalidLeaseOptionsError,
  LeaseAcquisitionTimeoutError,
  type LeaseConflictError,
  LeaseTransferError,
  ProviderUnavailableError
} from "../LeaseError.ts"
import type { ResolvedLeaseOptions } from "../LeaseOptions.ts"
import type { AcquireResult, LeaseProviderShape } from "../LeaseProvider.ts"
import { type Grant, monotonicMillis, reached } from "./leaseRuntime.ts"
import * as Telemetry from "./telemetry.ts"
import * as Timer from "./timer.ts"

/** @internal */
export interface AcquireArgs {
  readonly provider: LeaseProviderShape
  readonly name: string
  readonly holderId: string
  readonly options: ResolvedLeaseOptions
  /** The acquirers of this manager waiting for each name, for `waitForGrant`'s courtesy yield. */
  readonly waiting?: Waiting | undefined
}

/**
 * How many acquirers of one manager are waiting for each name. A new acquire of a name others of the same
 * manager already wait for yields once before its first attempt: their wake-up (the release message, read by the
 * event loop's poll phase) then reaches the store first. Without it, a worker that releases and re-acquires in a
 * loop wins every time against its own process's waiters (one worker of 64 got nearly every turn in the
 * throughput benchmark), because its new attempt runs in the same turn as the release's reply.
 *
 * @internal
 */
export class Waiting {
  readonly #byName = new Map<string, number>()
  has(name: string): boolean {
    return this.#byName.has(name)
  }
  enter(name: string): void {
    this.#byName.set(name, (this.#byName.get(name) ?? 0) + 1)
  }
  leave(name: string): void {
    const n = (this.#byName.get(name) ?? 1) - 1
    if (n <= 0) this.#byName.delete(name)
    else this.#byName.set(name, n)
  }
}

type AttemptOutcome =
  | { readonly _tag: "Granted"; readonly grant: Grant }
  | {
      readonly _tag: "Held"
      readonly holderId?: string | undefined
      readonly remaining?: Duration.Duration | undefined
    }

type AttemptError = ProviderUnavailableError | InvalidLeaseOptionsError

/**
 * One attempt. Uninterruptible from the outside, bounded by its own timeout.
 *
 * @internal
 */
export const attemptOnce = (args: AcquireArgs): Effect.Effect<AttemptOutcome, AttemptError> =>
  sendOnce(args, "acquire", (leaseId) =>
    args.provider
      .tryAcquire({
        name: args.name,
        holderId: args.holderId,
        leaseId,
        duration: args.options.duration,
        metadata: args.options.metadata
      })
      .pipe(Effect.catchTag("LeaseConflictError", (error) => Effect.succeed(error)))
  )

/**
 * One claim of a handed-off lease: the same guarantees as an acquire attempt.
 *
 * @internal
 */
export const claimOnce = (
  args: AcquireArgs,
  transferToken: string
): Effect.Effect<Grant, AttemptError | LeaseTransferError> =>
  Effect.flatMap(
    sendOnce(args, "claim", (leaseId): Effect.Effect<AcquireResult, AttemptError | LeaseTransferError> => {
      const claim = args.provider.claim
      return claim === undefined
        ? Effect.fail(
            new InvalidLeaseOptionsError({
              leaseName: args.name,
              provider: args.provider.name,
              field: "handoff",
              detail: `the ${args.provider.name} provider does not support handoff`
            })
          )
        : claim({
            name: args.name,
            transferToken,
            holderId: args.holderId,
            leaseId,
            duration: args.options.duration,
            metadata: args.options.metadata
          })
    }),
    (outcome) =>
      outcome._tag === "Granted"
        ? Effect.succeed(outcome.grant)
        : Effect.fail(
            new LeaseTransferError({ leaseName: args.name, reason: "invalid-token", provider: args.provider.name })
          )
  )

/**
 * Sends one grant request (acquire or claim) with a lease id chosen here. Uninterruptible from the outside,
 * bounded by its own timeout; a request cut short by that timeout, or answered too late to be usable, is undone by
 * releasing the chosen id.
 */
const sendOnce = <E>(
  args: AcquireArgs,
  operation: "acquire" | "claim",
  send: (leaseId: string) => Effect.Effect<AcquireResult | LeaseConflictError, E>
): Effect.Effect<AttemptOutcome, E | ProviderUnavailableError> =>
  Effect.gen(function* () {
    const { provider, name, options } = args
    const leaseId = randomUUID()
    const sentAt = yield* monotonicMillis
    const sentAtWall = yield* Clock.currentTimeMillis
    const timeoutMs = Duration.toMillis(options.attemptTimeout)
    let timedOut = false
    const result = yield* send(leaseId).pipe(
      Effect.interruptible,
      (self) =>
        Timer.timeoutOrElse(self, {
          duration: options.attemptTimeout,
          orElse: () =>
            Effect.suspend(() => {
              timedOut = true
              return Telemetry.providerError(provider.name, operation, "timeout").pipe(
                Effect.andThen(
                  Effect.fail(
                    new ProviderUnavailableError({
                      provider: provider.name,
                      operation,
                      isRetryable: true,
                      leaseName: name,
                      leaseId,
                      isTimeout: true,
                      detail: `no answer within ${timeoutMs} ms`
                    })
                  )
                )
              )
            })
        }),
      // No answer, or a store failure that may have come after the request landed (a dropped connection): release
      // the id we chose, which is always safe (ownership-checked) and spares us waiting out our own orphaned grant.
      // A throttling answer (with `retryAfter`) says the request was refused, so there is nothing to undo, and
      // sending more to a throttled store would only add to its load.
      Effect.tapError((error) =>
        timedOut || (error instanceof ProviderUnavailableError && error.isRetryable && error.retryAfter === undefined)
          ? undo(args, leaseId)
          : Effect.void
      ),
      Effect.uninterruptible
    )
    if (result._tag === "LeaseConflictError") return { _tag: "Held", holderId: result.holderId }
    if (result._tag === "Held") return { _tag: "Held", holderId: result.holderId, remaining: result.remaining }
    const confirmedAt = yield* monotonicMillis
    const ttlMs = Duration.toMillis(result.ttl)
    if (confirmedAt - sentAt >= ttlMs * options.safetyThreshold) {
      // The answer came so late that the grant is already past its safety deadline: unusable. Give it back.
      yield* undo(args, result.leaseId)
      return yield* new ProviderUnavailableError({
        provider: provider.name,
        operation,
        isRetryable: true,
        leaseName: name,
        leaseId: result.leaseId,
        detail: `the grant arrived after ${Math.round(confirmedAt - sentAt)} ms, past its safety deadline`
      })
    }
    const grant: Grant = {
      leaseId: result.leaseId,
      fencingToken: result.fencingToken,
      ttl: result.ttl,
      sentAt,
      sentAtWall
    }
    return { _tag: "Granted", grant } satisfies AttemptOutcome
  })

/** Best-effort, background release of a grant we will not use. Ownership-checked by the store, so always safe. */
const undo = (args: AcquireArgs, leaseId: string): Effect.Effect<void> =>
  args.provider
    .release({ name: args.name, leaseId })
    .pipe(Effect.timeout(args.options.attemptTimeout), Effect.ignore, Effect.forkDetach, Effect.asVoid)

/**
 * Waits for the lease and returns the grant, registering nothing: the caller turns the grant into a lease
 * inside the same uninterruptible region (see `LeaseManager`). `restore` makes the waits interruptible.
 *
 * `once`: exactly one attempt (tryAcquire, or acquire with timeout 0): `None` when held.
 *
 * @internal
 */
export const waitForGrant = (
  args: AcquireArgs,
  once: boolean,
  restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): Effect.Effect<Option.Option<Grant>, AttemptError | LeaseAcquisitionTimeoutError> =>
  Effect.gen(function* () {
    const { provider, name, options } = args
    const started = yield* monotonicMillis
    const timeoutMs = Duration.toMillis(options.timeout)
    const deadline = started + timeoutMs
    const baseBackoff = Duration.toMillis(options.acquireRetryInterval)
    const maxBackoff = Duration.toMillis(options.maxAcquireRetryInterval)
    let backoff = baseBackoff
    let failureBackoff = baseBackoff
    let failures = 0
    let attempts = 0
    let lastHolder: string | undefined
    // One iteration: register for the push signal, attempt, then wait. Scoped, so each registration ends with
    // its iteration. Registering before the attempt means a release right after our "held" answer is not missed.
    const step = Effect.gen(function* () {
      const released = provider.waitForRelease === undefined ? undefined : yield* provider.waitForRelease(name)
      attempts++
      const outcome = yield* Effect.result(attemptOnce(args))
      let delay: number
      if (outcome._tag === "Success") {
        const value = outcome.success
        if (value._tag === "Granted") return Option.some(value.grant)
        if (once) return Option.none()
        failures = 0
        failureBackoff = baseBackoff
        lastHolder = value.holderId
        const capped = released === undefined ? Math.min(backoff, maxBackoff) : Number.POSITIVE_INFINITY
        backoff = Math.min(backoff * 2, maxBackoff)
        if (value.remaining !== undefined) {
          // Wake just after the holder's grant runs out; a little jitter spreads the waiters.
          const remaining = Duration.toMillis(value.remaining)
          const untilExpiry = remaining + 1 + (yield* Random.next) * Math.min(50, remaining * 0.05)
          delay = Math.min(untilExpiry, capped)
        } else {
          delay = Number.isFinite(capped) ? yield* jittered(capped) : yield* jittered(Math.min(backoff, maxBackoff))
        }
      } else {
        const error = outcome.failure
        if (error._tag === "InvalidLeaseOptionsError" || !error.isRetryable || once) return yield* error
        failures++
        if (failures >= options.maxConsecutiveFailures) {
          return yield* new ProviderUnavailableError({
            provider: provider.name,
            operation: "acquire",
            isRetryable: false,
            leaseName: name,
            detail: `gave up after ${failures} consecutive store failures; last: ${error.detail}`,
            cause: error
          })
        }
        yield* Effect.logWarning(`lease acquire attempt failed, retrying: ${error.message}`).pipe(
          Effect.annotateLogs({ "lease.name": name, "lease.provider": provider.name })
        )
        delay = error.retryAfter === undefined ? yield* jittered(failureBackoff) : Duration.toMillis(error.retryAfter)
        failureBackoff = Math.min(failureBackoff * 2, maxBackoff)
      }
      const now = yield* monotonicMillis
      if (reached(now, deadline)) {
        // A store that failed on the last attempt says more than "timed out".
        if (outcome._tag === "Failure") return yield* outcome.failure
        return yield* new LeaseAcquisitionTimeoutError({
          leaseName: name,
          timeout: options.timeout,
          attempts,
          holderId: lastHolder,
          provider: provider.name
        })
      }
      // Never sleep past the deadline: one last attempt is made at the deadline itself.
      const sleep = Effect.sleep(Duration.millis(Math.max(0, Math.min(delay, deadline - now))))
      yield* restore(released === undefined ? sleep : Effect.raceFirst(sleep, released))
      return undefined
    })
    // Fast path: a first attempt that registers nothing, so an uncontended acquire is one store call and no
    // subscription. If the lease is held we register and then try again at once (in `step`), so a release between
    // this answer and the registration is not missed.
    const waiting = args.waiting
    if (!once && waiting?.has(name) === true) yield* restore(Effect.yieldNow)
    attempts++
    const first = yield* Effect.result(attemptOnce(args))
    if (first._tag === "Success") {
      if (first.success._tag === "Granted") return Option.some(first.success.grant)
      if (once) return Option.none()
      lastHolder = first.success.holderId
    } else {
      const error = first.failure
      if (error._tag === "InvalidLeaseOptionsError" || !error.isRetryable || once) return yield* error
      failures++
    }
    if (reached(yield* monotonicMillis, deadline)) {
      if (first._tag === "Failure") return yield* first.failure
      return yield* new LeaseAcquisitionTimeoutError({
        leaseName: name,
        timeout: options.timeout,
        attempts,
        holderId: lastHolder,
        provider: provider.name
      })
    }
    if (first._tag === "Failure") {
      const retryAfter = first.failure._tag === "ProviderUnavailableError" ? first.failure.retryAfter : undefined
      const delay = retryAfter === undefined ? yield* jittered(failureBackoff) : Duration.toMillis(retryAfter)
      yield* restore(Effect.sleep(Duration.millis(Math.min(delay, deadline - started))))
      failureBackoff = Math.min(failureBackoff * 2, maxBackoff)
    }
    const loop = Effect.gen(function* () {
      while (true) {
        const done = yield* Effect.scoped(step)
        if (done !== undefined) return done
      }
    })
    if (waiting === undefined || once) return yield* loop
    waiting.enter(name)
    return yield* Effect.ensuring(
      loop,
      Effect.sync(() => waiting.leave(name))
    )
  })

/** Multiplies by a random factor in [0.8, 1.2), so contenders do not retry in lockstep. */
const jittered = (ms: number): Effect.Effect<number> => Effect.map(Random.next, (r) => ms * (0.8 + 0.4 * r))
