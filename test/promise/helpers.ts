/**
 * Fixtures of the Promise-API tests: a memory provider that records what reaches the store (and can be made slow
 * or failing), and a guard that fails a test if any Promise rejected unhandled.
 */
import { type Duration, Effect, Layer } from "effect"
import { afterAll, afterEach, beforeAll, expect } from "vitest"
import { LeaseProvider, type LeaseProviderShape, ProviderUnavailableError } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"

/** What a recording provider saw, in order: `"tryAcquire a"`, `"release a"`, `"provider closed"`, ... */
export interface Recorder {
  readonly calls: Array<string>
  count(prefix: string): number
}

export const recorder = (): Recorder => {
  const calls: Array<string> = []
  return { calls, count: (prefix) => calls.filter((call) => call.startsWith(prefix)).length }
}

export interface RecordingOptions {
  /** Delay before each `tryAcquire` reaches the store (a slow network). */
  readonly acquireDelay?: Duration.Input | undefined
  /** While this returns true, `renew` fails with a retryable `ProviderUnavailableError`. */
  readonly renewFails?: (() => boolean) | undefined
  /** A store to wrap (to share one between clients); default a fresh memory store. */
  readonly store?: LeaseProviderShape | undefined
}

/** A memory provider that records every store call and, when the layer is torn down, `"provider closed"`. */
export const recordingProvider = (rec: Recorder, options: RecordingOptions = {}): Layer.Layer<LeaseProvider> =>
  Layer.effect(
    LeaseProvider,
    Effect.gen(function* () {
      const real = options.store ?? (yield* MemoryLeaseProvider.make())
      const note = (call: string) => Effect.sync(() => rec.calls.push(call))
      yield* Effect.addFinalizer(() => note("provider closed"))
      const provider: LeaseProviderShape = {
        ...real,
        tryAcquire: (request) =>
          note(`tryAcquire ${request.name}`).pipe(
            Effect.andThen(options.acquireDelay === undefined ? Effect.void : Effect.sleep(options.acquireDelay)),
            Effect.andThen(real.tryAcquire(request))
          ),
        renew: (request) =>
          note(`renew ${request.name}`).pipe(
            Effect.andThen(
              options.renewFails?.()
                ? Effect.fail(
                    new ProviderUnavailableError({
                      provider: real.name,
                      operation: "renew",
                      isRetryable: true,
                      leaseName: request.name,
                      detail: "test: the store is unreachable"
                    })
                  )
                : real.renew(request)
            )
          ),
        release: (request) => note(`release ${request.name}`).pipe(Effect.andThen(real.release(request)))
      }
      return provider
    })
  )

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export const eventually = async (predicate: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const start = Date.now()
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(10)
  }
}

/**
 * Fails the test during which a Promise rejected without a handler. Node reports an unhandled rejection after the
 * microtask queue drains, so each test waits one macrotask before the check.
 */
export const guardUnhandledRejections = (): void => {
  const seen: Array<unknown> = []
  const listener = (reason: unknown) => {
    seen.push(reason)
  }
  beforeAll(() => {
    process.on("unhandledRejection", listener)
  })
  afterEach(async () => {
    await new Promise((resolve) => setImmediate(resolve))
    const found = seen.splice(0)
    expect(found, "unhandled rejections").toEqual([])
  })
  afterAll(() => {
    process.off("unhandledRejection", listener)
  })
}
