/**
 * Our Effect API as the benchmark drives it: managers on a Redis or memory provider built in a scope, and a way
 * to run Effect programs from the (Promise-based) harness. Logs are silenced: losses and failures are counted by
 * the benchmark, and printing thousands of warnings would measure the console.
 */
import { Context, Effect, Layer, References, type Scope } from "effect"
import type { Redis } from "ioredis"
import { LeaseManager, type LeaseManagerShape } from "../../src/LeaseManager.ts"
import { LeaseProvider, type LeaseProviderShape } from "../../src/LeaseProvider.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import type { RedisServer } from "./redis.ts"

export type { LeaseManagerShape }

export type Backend = RedisServer | "memory"

export interface ProviderOptions {
  readonly pushWakeUp?: boolean | undefined
  /** A connection built by the caller (to count its commands); the provider does not close it. */
  readonly client?: Redis | undefined
}

/** A provider layer: memory, or Redis by URL (the provider opens its own connection and subscriber). */
export const providerLayer = (backend: Backend, options: ProviderOptions = {}): Layer.Layer<LeaseProvider, unknown> =>
  backend === "memory"
    ? MemoryLeaseProvider.layer()
    : options.client !== undefined
      ? RedisLeaseProvider.layer({ client: options.client, pushWakeUp: options.pushWakeUp })
      : RedisLeaseProvider.layer({ url: backend.url, pushWakeUp: options.pushWakeUp })

/** A provider of its own, built in the current scope. */
export const provider = (
  backend: Backend,
  options: ProviderOptions = {}
): Effect.Effect<LeaseProviderShape, unknown, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.map(Layer.buildWithScope(providerLayer(backend, options), scope), (context) =>
      Context.get(context, LeaseProvider)
    )
  )

/** A manager on a provider of its own (its own connections), built in the current scope. */
export const manager = (
  backend: Backend,
  holderId: string,
  options: ProviderOptions = {}
): Effect.Effect<LeaseManagerShape, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* provider(backend, options)
    return yield* LeaseManager.make({ holderId }).pipe(Effect.provideService(LeaseProvider, store))
  })

/** Runs a scoped program with logs silenced; rejects with the failure. */
export const runOurs = <A, E>(program: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(program).pipe(Effect.provideService(References.MinimumLogLevel, "None")))

/** `performance.now()` as an effect. */
export const now: Effect.Effect<number> = Effect.sync(() => performance.now())
