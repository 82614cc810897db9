/**
 * Leader election for Promise callers: `leasing.election(name)`.
 *
 * ```ts
 * const election = await leasing.election("scheduler", { duration: "15 seconds" })
 * election.on("leadershipChanged", (leading) => console.log(leading ? "leading" : "following"))
 * await election.runWhileLeader(async (signal) => runScheduler({ signal })) // signal aborts on loss
 * ```
 *
 * A thin skin over the Effect `LeaderElection`: one election lives in a child scope of the client, and `close()`
 * (of the election or of the client) resigns.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Option, Scope, Stream, SubscriptionRef } from "effect"
import type { LeaderElection as CoreElection, LeaderElectionOptions as CoreOptions } from "../LeaderElection.ts"
import { make as makeElection } from "../LeaderElection.ts"
import { CallbackFailure, type Runner } from "./runner.ts"

/**
 * Events of an election.
 *
 * @since 0.1.0
 */
export interface ElectionEventMap {
  /** This replica started or stopped leading. */
  readonly leadershipChanged: boolean
  /** The observed leader changed (`null`: nobody leads). */
  readonly leaderChanged: string | null
}

/**
 * An election for one lease name.
 *
 * @since 0.1.0
 */
export class LeaderElectionClient implements AsyncDisposable {
  readonly #core: CoreElection
  readonly #scope: Scope.Closeable
  readonly #runner: Runner
  readonly #listeners = new Map<keyof ElectionEventMap, Set<(value: never) => void>>()
  #isLeader = false
  #leader: string | null = null

  /** @internal Made by `leasing.election(name)`. */
  constructor(core: CoreElection, scope: Scope.Closeable, runner: Runner) {
    this.#core = core
    this.#scope = scope
    this.#runner = runner
  }

  /** The lease name. */
  get name(): string {
    return this.#core.name
  }

  /** This replica's holder id. */
  get holderId(): string {
    return this.#core.holderId
  }

  /** Whether this replica leads now. */
  get isLeader(): boolean {
    return this.#isLeader
  }

  /** The leader last observed in the store (refreshed every half renew interval), or `null`. */
  get leader(): string | null {
    return this.#leader
  }

  /** Calls `listener` on each change; returns a function that removes it. A throwing listener is ignored. */
  on<K extends keyof ElectionEventMap>(event: K, listener: (value: ElectionEventMap[K]) => void): () => void {
    const set = this.#listeners.get(event) ?? new Set()
    this.#listeners.set(event, set)
    const entry = listener as (value: never) => void
    set.add(entry)
    return () => {
      set.delete(entry)
    }
  }

  /** Waits until this replica leads. Resolves with the fencing token of its lease. */
  campaign(options?: { readonly signal?: AbortSignal | undefined }): Promise<bigint> {
    return this.#runner.run(
      Effect.map(this.#core.campaign, (lease) => lease.fencingToken),
      { operation: "campaign", signal: options?.signal }
    )
  }

  /**
   * Stops leading. With a `successorHolderId` (and a store that supports handoff) leadership is handed over with no
   * gap and the transfer token returned, for the successor's `leasing.claim(name, token)`; otherwise the lease is
   * released and `null` returned.
   */
  async resign(successorHolderId?: string): Promise<string | null> {
    const token = await this.#runner.run(this.#core.resign(successorHolderId), { operation: "resign" })
    return Option.getOrNull(token)
  }

  /**
   * Campaigns, runs `fn` while leading and aborts its `signal` when leadership is lost (then campaigns again and
   * calls `fn` anew). Resolves with `fn`'s result once it completes while leading (leadership is then released).
   */
  runWhileLeader<A>(fn: (signal: AbortSignal) => Promise<A>, options?: { readonly signal?: AbortSignal }): Promise<A> {
    const work = Effect.tryPromise({
      // The signal aborts when the work's fiber is interrupted, i.e. when leadership is lost.
      try: (signal) => fn(signal),
      catch: (error) => new CallbackFailure({ error })
    })
    return this.#runner.run(this.#core.runWhileLeader(work), { operation: "runWhileLeader", signal: options?.signal })
  }

  /** Resigns (releasing the lease) and stops observing. Idempotent. */
  close(): Promise<void> {
    return this.#runner.run(Scope.close(this.#scope, Exit.void), { operation: "close", interruptOnClose: false })
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** @internal */
  emit<K extends keyof ElectionEventMap>(event: K, value: ElectionEventMap[K]): void {
    if (event === "leadershipChanged") this.#isLeader = value as boolean
    else this.#leader = value as string | null
    for (const listener of Array.from(this.#listeners.get(event) ?? [])) {
      try {
        ;(listener as (value: ElectionEventMap[K]) => void)(value)
      } catch (error) {
        this.#runner.logWarning(`a "${event}" listener of election "${this.name}" threw; the error was ignored`, error)
      }
    }
  }
}

/**
 * Creates an election in a child scope of the client and starts observing it.
 *
 * @internal
 */
export const make = (runner: Runner & { readonly scope: Scope.Scope }, name: string, options: CoreOptions) =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(runner.scope, "sequential")
    const core = yield* makeElection(name, options).pipe(
      Scope.provide(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    const client = new LeaderElectionClient(core, scope, runner)
    yield* SubscriptionRef.changes(core.isLeader).pipe(
      Stream.runForEach((leading) => Effect.sync(() => client.emit("leadershipChanged", leading))),
      Effect.forkIn(scope, { startImmediately: true })
    )
    // Observing the leader is best effort: a store error ends this stream, not the election.
    yield* core.leader.pipe(
      Stream.runForEach((leader) => Effect.sync(() => client.emit("leaderChanged", Option.getOrNull(leader)))),
      Effect.ignore({ log: "Warn" }),
      Effect.forkIn(scope, { startImmediately: true })
    )
    return client
  })
