/**
 * The fluent builder: `leasing.lease("name").duration("5 minutes").autoRenew().timeout("30 seconds").acquire()`.
 *
 * One method per lease option, each documented, so an editor lists every option after `.`; then one of the three
 * ways to take the lease: `acquire()`, `tryAcquire()` or `run(fn)`. A builder is immutable: every method returns
 * a new builder, so a configured base can be shared:
 *
 * ```ts
 * const job = leasing.lease("nightly-report").duration("5 minutes")
 * const lease = await job.timeout("30 seconds").acquire()
 * const maybe = await job.tryAcquire()
 * ```
 *
 * @since 0.1.0
 */
import type { Lease } from "./Lease.ts"
import type { AcquireOptions, DurationInput } from "./options.ts"

/**
 * What a builder takes the lease from (the `LeasingClient`).
 *
 * @internal
 */
export interface LeaseBuilderTarget {
  acquire(name: string, options?: AcquireOptions): Promise<Lease>
  tryAcquire(name: string, options?: AcquireOptions): Promise<Lease | null>
  withLease<A>(name: string, fn: (lease: Lease) => A | PromiseLike<A>, options?: AcquireOptions): Promise<A>
}

/**
 * Options for one lease, set one call at a time. Made by `leasing.lease(name)`.
 *
 * @since 0.1.0
 */
export class LeaseBuilder {
  readonly #target: LeaseBuilderTarget
  readonly #name: string
  readonly #options: AcquireOptions

  /** @internal Builders are made by `leasing.lease(name)`. */
  constructor(target: LeaseBuilderTarget, name: string, options: AcquireOptions = {}) {
    this.#target = target
    this.#name = name
    this.#options = options
  }

  /** The lease name. */
  get name(): string {
    return this.#name
  }

  /** The options set so far. */
  get options(): AcquireOptions {
    return { ...this.#options }
  }

  #with(patch: AcquireOptions): LeaseBuilder {
    return new LeaseBuilder(this.#target, this.#name, { ...this.#options, ...patch })
  }

  /** How long a grant lasts without renewal: milliseconds or a string such as `"5 minutes"`. Default 60 s. */
  duration(duration: DurationInput): LeaseBuilder {
    return this.#with({ duration })
  }

  /** Renew automatically in the background (`true`, the default) or not (`false`). */
  autoRenew(enabled = true): LeaseBuilder {
    return this.#with({ autoRenew: enabled })
  }

  /** Time from a confirmed grant to the next renewal. Default 2/3 of the duration. */
  renewInterval(interval: DurationInput): LeaseBuilder {
    return this.#with({ renewInterval: interval })
  }

  /** First delay between renewal retries; it doubles on each retry. Default: derived so the retries fit. */
  retryInterval(interval: DurationInput): LeaseBuilder {
    return this.#with({ retryInterval: interval })
  }

  /** Renewal retries after a failed renewal attempt. Default 3. */
  maxRetries(retries: number): LeaseBuilder {
    return this.#with({ maxRetries: retries })
  }

  /** Fraction of the duration after which an unconfirmed lease is declared lost. Default 0.9 (0.5–0.95). */
  safetyThreshold(fraction: number): LeaseBuilder {
    return this.#with({ safetyThreshold: fraction })
  }

  /** How long `acquire()` waits while the lease is held elsewhere. Default: forever; `0` means one attempt. */
  timeout(timeout: DurationInput): LeaseBuilder {
    return this.#with({ timeout })
  }

  /** First backoff between acquire attempts when the holder's expiry is unknown. Default 100 ms. */
  acquireRetryInterval(interval: DurationInput): LeaseBuilder {
    return this.#with({ acquireRetryInterval: interval })
  }

  /** Longest backoff between acquire attempts. Default 5 s (or the duration if shorter). */
  maxAcquireRetryInterval(interval: DurationInput): LeaseBuilder {
    return this.#with({ maxAcquireRetryInterval: interval })
  }

  /** Consecutive store failures tolerated while waiting before `acquire()` gives up. Default 10. */
  maxConsecutiveFailures(failures: number): LeaseBuilder {
    return this.#with({ maxConsecutiveFailures: failures })
  }

  /** Bound on one store call (acquire, renew or release). Default 10% of the duration, from 50 ms to 10 s. */
  attemptTimeout(timeout: DurationInput): LeaseBuilder {
    return this.#with({ attemptTimeout: timeout })
  }

  /** Key/value pairs stored with the lease (merged with those set before). */
  metadata(entries: Readonly<Record<string, string>>): LeaseBuilder {
    return this.#with({ metadata: { ...this.#options.metadata, ...entries } })
  }

  /** Who holds the lease. Default: the client's holder id. */
  holderId(holderId: string): LeaseBuilder {
    return this.#with({ holderId })
  }

  /** Cancels the wait (and, in `run`, the lease) when aborted; the call rejects with `signal.reason`. */
  signal(signal: AbortSignal): LeaseBuilder {
    return this.#with({ signal })
  }

  /** Acquires the lease, waiting while it is held elsewhere (up to `timeout`). */
  acquire(): Promise<Lease> {
    return this.#target.acquire(this.#name, this.#options)
  }

  /** Exactly one attempt: the lease, or `null` if it is held elsewhere. */
  tryAcquire(): Promise<Lease | null> {
    return this.#target.tryAcquire(this.#name, this.#options)
  }

  /** Acquires the lease, runs `fn` while holding it and releases it: `leasing.withLease` with these options. */
  run<A>(fn: (lease: Lease) => A | PromiseLike<A>): Promise<A> {
    return this.#target.withLease(this.#name, fn, this.#options)
  }
}
