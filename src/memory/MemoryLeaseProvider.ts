/**
 * The in-memory provider: the reference semantics of the SPI, and the deterministic test double.
 *
 * Leases live in a `Map` in this process, with expiry judged by Effect's `Clock`, so the whole library runs under
 * `TestClock` on it: a test of a 60 s lease takes milliseconds. Use it for single-process apps (several fibers or
 * workers competing for jobs) and for tests of code that uses leases; it does not coordinate separate processes.
 *
 * Semantics every provider copies:
 * - acquire grants only a free or expired lease and increments the name's fencing counter in the same step; the
 *   counter survives release, expiry and break;
 * - renew and release are checked against the lease id; renew resets the remaining time to `duration` exactly;
 * - a renew after a break reports `broken`, after a takeover `stolen`, after expiry `expired`;
 * - release (and break) wakes a waiter at once (`waitForRelease`): one per release, the oldest registration of
 *   the name not woken yet. One release frees the lease for one holder; waking every waiter would send them all to
 *   a grant only one can win (a thundering herd). A woken registration keeps the turn if its scope ends normally
 *   (its owner goes on to attempt, and its release, or a winner's, wakes the next); if it ends by interruption or
 *   failure its owner will not attempt, so the wake passes to the next registration, and a turn is never lost.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Exit, Layer, Option } from "effect"
import { LeaseLostError, LeaseTransferError } from "../LeaseError.ts"
import {
  type Acquired,
  type AcquireRequest,
  acquired,
  type ClaimRequest,
  free,
  type HandoffRequest,
  held,
  type LeaseInfo,
  LeaseProvider,
  type LeaseProviderShape
} from "../LeaseProvider.ts"

/**
 * Options of the memory provider.
 *
 * @since 0.1.0
 */
export interface MemoryLeaseProviderOptions {
  /** Store per-lease metadata and return it from `inspect`. Default `true`. */
  readonly metadata?: boolean | undefined
  /** The provider name used in errors and logs. Default `"memory"`. */
  readonly name?: string | undefined
}

interface Entry {
  /** The grant's lease id, or the transfer token while the lease is reserved for a successor. */
  readonly leaseId: string
  /** Reserved by a handoff, waiting for the successor's claim. */
  readonly pending: boolean
  readonly holderId: string
  readonly fencingToken: bigint
  readonly acquiredAt: number
  expiresAt: number
  readonly metadata: Readonly<Record<string, string>> | undefined
}

/**
 * Builds a memory provider. Each call makes an independent store; share one layer (or value) between the
 * managers that must see each other.
 *
 * @since 0.1.0
 */
export const make = (options: MemoryLeaseProviderOptions = {}): Effect.Effect<LeaseProviderShape> =>
  Effect.sync(() => {
    const providerName = options.name ?? "memory"
    const keepMetadata = options.metadata ?? true
    const leases = new Map<string, Entry>()
    const fences = new Map<string, bigint>()
    // Why a lease id stopped being valid, so a late renewal can say "broken" or "stolen" rather than guess.
    const endings = new Map<string, { readonly leaseId: string; readonly reason: "broken" | "released" }>()
    // Per name, the `waitForRelease` registrations not woken yet, oldest first (a `Set` iterates in insertion
    // order). A woken registration (its latch done) leaves the queue at once, so the next wake goes to the next.
    const waiters = new Map<string, Set<Deferred.Deferred<void>>>()

    const current = (name: string, now: number): Entry | undefined => {
      const entry = leases.get(name)
      if (entry !== undefined && entry.expiresAt <= now) {
        leases.delete(name)
        return undefined
      }
      return entry
    }

    /** Wakes the oldest waiting registration of `name`, if any: one release, one turn. */
    const notify = (name: string): Effect.Effect<void> =>
      Effect.sync(() => {
        const queue = waiters.get(name)
        if (queue === undefined) return
        const oldest = queue.values().next()
        if (oldest.done === true) return
        queue.delete(oldest.value)
        if (queue.size === 0) waiters.delete(name)
        Deferred.doneUnsafe(oldest.value, Effect.void)
      })

    /** Why `leaseId` no longer holds `name`: taken by someone else, broken by an operator, or expired. */
    const lostError = (name: string, leaseId: string, entry: Entry | undefined) => {
      const ending = endings.get(name)
      const reason =
        entry !== undefined
          ? "stolen"
          : ending?.leaseId === leaseId && ending.reason === "broken"
            ? "broken"
            : "expired"
      return new LeaseLostError({
        leaseName: name,
        reason,
        leaseId,
        provider: providerName,
        detail:
          reason === "stolen"
            ? `the lease is now held by "${entry?.holderId}"`
            : reason === "broken"
              ? "the lease was broken by an operator"
              : "the lease expired in the store"
      })
    }

    const tryAcquire = (request: AcquireRequest) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = current(request.name, now)
        if (entry !== undefined) {
          return held({ holderId: entry.holderId, remaining: Duration.millis(entry.expiresAt - now) })
        }
        const fencingToken = (fences.get(request.name) ?? 0n) + 1n
        fences.set(request.name, fencingToken)
        const ttl = request.duration
        leases.set(request.name, {
          leaseId: request.leaseId,
          pending: false,
          holderId: request.holderId,
          fencingToken,
          acquiredAt: now,
          expiresAt: now + Duration.toMillis(ttl),
          metadata: keepMetadata && request.metadata !== undefined ? { ...request.metadata } : undefined
        })
        endings.delete(request.name)
        return acquired({ leaseId: request.leaseId, fencingToken, ttl })
      })

    const renew = (request: {
      readonly name: string
      readonly leaseId: string
      readonly duration: Duration.Duration
    }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = current(request.name, now)
        if (entry !== undefined && entry.leaseId === request.leaseId) {
          // Exactly `duration` from now: renewing never grows the remaining time (a defect of the original).
          entry.expiresAt = now + Duration.toMillis(request.duration)
          return Effect.succeed({ ttl: request.duration })
        }
        return Effect.fail(lostError(request.name, request.leaseId, entry))
      })

    const release = (request: { readonly name: string; readonly leaseId: string }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = current(request.name, now)
        if (entry === undefined || entry.leaseId !== request.leaseId) return Effect.succeed(false)
        leases.delete(request.name)
        endings.set(request.name, { leaseId: request.leaseId, reason: "released" })
        return Effect.as(notify(request.name), true)
      })

    const inspect = (name: string) =>
      Effect.map(Clock.currentTimeMillis, (now): LeaseInfo => {
        const entry = current(name, now)
        if (entry === undefined) return free(name, Option.fromUndefinedOr(fences.get(name)))
        return {
          name,
          held: true,
          holderId: entry.holderId,
          leaseId: entry.leaseId,
          fencingToken: entry.fencingToken,
          remaining: Duration.millis(entry.expiresAt - now),
          expiresAt: new Date(entry.expiresAt),
          acquiredAt: new Date(entry.acquiredAt),
          metadata: entry.metadata
        }
      })

    const breakLease = (name: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = current(name, now)
        if (entry === undefined) return Effect.succeed(false)
        leases.delete(name)
        endings.set(name, { leaseId: entry.leaseId, reason: "broken" })
        return Effect.as(notify(name), true)
      })

    const waitForRelease = (name: string) =>
      Effect.map(
        Effect.acquireRelease(
          Effect.sync(() => {
            const latch = Deferred.makeUnsafe<void>()
            const queue = waiters.get(name)
            if (queue === undefined) waiters.set(name, new Set([latch]))
            else queue.add(latch)
            return latch
          }),
          (latch, exit) =>
            Effect.suspend(() => {
              if (Deferred.isDoneUnsafe(latch)) {
                // Woken. Ending normally, the owner goes on to attempt: the turn is consumed. Interrupted or failed,
                // it will not attempt, so the turn passes to the next registration rather than being lost.
                return Exit.isFailure(exit) ? notify(name) : Effect.void
              }
              const queue = waiters.get(name)
              queue?.delete(latch)
              if (queue?.size === 0) waiters.delete(name)
              return Effect.void
            })
        ),
        (latch) => Deferred.await(latch)
      )

    const handoff = (request: HandoffRequest) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = current(request.name, now)
        if (entry === undefined || entry.leaseId !== request.leaseId || entry.pending) {
          return Effect.fail(lostError(request.name, request.leaseId, entry))
        }
        // One step: the lease goes from the holder to the reservation, never through "free".
        leases.set(request.name, {
          ...entry,
          leaseId: request.transferToken,
          pending: true,
          holderId: request.successorHolderId,
          expiresAt: now + Duration.toMillis(request.claimWindow)
        })
        return Effect.void
      })

    const claim = (request: ClaimRequest) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const entry = current(request.name, now)
        const refuse = (reason: "invalid-token" | "expired" | "not-successor", detail: string) =>
          Effect.fail(new LeaseTransferError({ leaseName: request.name, reason, provider: providerName, detail }))
        if (entry === undefined)
          return refuse("expired", "no handoff is pending: the reservation expired or was broken")
        if (!entry.pending || entry.leaseId !== request.transferToken) {
          return refuse("invalid-token", "no pending handoff has this transfer token")
        }
        if (entry.holderId !== request.holderId) {
          return refuse("not-successor", `the lease was handed to "${entry.holderId}"`)
        }
        const fencingToken = (fences.get(request.name) ?? 0n) + 1n
        fences.set(request.name, fencingToken)
        leases.set(request.name, {
          leaseId: request.leaseId,
          pending: false,
          holderId: request.holderId,
          fencingToken,
          acquiredAt: now,
          expiresAt: now + Duration.toMillis(request.duration),
          metadata: keepMetadata && request.metadata !== undefined ? { ...request.metadata } : entry.metadata
        })
        const result: Acquired = { _tag: "Acquired", leaseId: request.leaseId, fencingToken, ttl: request.duration }
        return Effect.succeed(result)
      })

    const provider: LeaseProviderShape = {
      name: providerName,
      capabilities: { waitForRelease: true, handoff: true, metadata: keepMetadata, clock: "client" },
      tryAcquire,
      renew,
      release,
      inspect,
      breakLease,
      waitForRelease,
      handoff,
      claim
    }
    return provider
  })

/**
 * A layer with a fresh in-memory store.
 *
 * @since 0.1.0
 */
export const layer = (options: MemoryLeaseProviderOptions = {}): Layer.Layer<LeaseProvider> =>
  Layer.effect(LeaseProvider, make(options))
