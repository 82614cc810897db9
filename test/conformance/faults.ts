/**
 * A provider decorator for the conformance suite: counts calls, fails chosen operations, and holds acquire
 * attempts at a gate. It fails on the client side, so the store itself stays healthy: exactly what a network
 * outage looks like to a holder, and something we can switch on and off in any provider's test.
 */
import { Deferred, Effect } from "effect"
import { type LeaseProviderShape, ProviderUnavailableError } from "../../src/index.ts"

export interface Faults {
  readonly provider: LeaseProviderShape
  readonly calls: { acquire: number; renew: number; release: number; inspect: number; break: number }
  /** While true, renewals fail with a retryable `ProviderUnavailableError`. */
  failRenew: boolean
  /** While true, acquire attempts fail with a retryable `ProviderUnavailableError`. */
  failAcquire: boolean
  /** When set, acquire attempts wait for this gate before reaching the store. */
  acquireGate: Deferred.Deferred<void> | undefined
}

const outage = (provider: string, operation: "acquire" | "renew", leaseName: string) =>
  new ProviderUnavailableError({
    provider,
    operation,
    isRetryable: true,
    leaseName,
    detail: "injected outage"
  })

export const withFaults = (real: LeaseProviderShape): Faults => {
  const faults: Faults = {
    provider: real,
    calls: { acquire: 0, renew: 0, release: 0, inspect: 0, break: 0 },
    failRenew: false,
    failAcquire: false,
    acquireGate: undefined
  }
  const provider: LeaseProviderShape = {
    ...real,
    tryAcquire: (request) =>
      Effect.suspend(() => {
        faults.calls.acquire++
        if (faults.failAcquire) return Effect.fail(outage(real.name, "acquire", request.name))
        const gate = faults.acquireGate
        return gate === undefined
          ? real.tryAcquire(request)
          : Deferred.await(gate).pipe(Effect.andThen(real.tryAcquire(request)))
      }),
    renew: (request) =>
      Effect.suspend(() => {
        faults.calls.renew++
        return faults.failRenew ? Effect.fail(outage(real.name, "renew", request.name)) : real.renew(request)
      }),
    release: (request) =>
      Effect.suspend(() => {
        faults.calls.release++
        return real.release(request)
      }),
    inspect: (name) =>
      Effect.suspend(() => {
        faults.calls.inspect++
        return real.inspect(name)
      }),
    breakLease: (name) =>
      Effect.suspend(() => {
        faults.calls.break++
        return real.breakLease(name)
      })
  }
  return Object.assign(faults, { provider })
}
