/**
 * Shared by the memory and Redis "one waiter per release" tests: a provider that counts acquire attempts and live
 * release registrations, and eight waiters (two per manager, four managers) that take a lease in turn.
 */
import { Effect, type Fiber } from "effect"
import { LeaseManager, type LeaseOptions, LeaseProvider, type LeaseProviderShape } from "../../src/index.ts"

export interface WaiterStats {
  attempts: number
  registered: number
}

/** `real`, with its `tryAcquire` calls and live `waitForRelease` registrations counted. */
export const counting = (
  real: LeaseProviderShape
): { readonly provider: LeaseProviderShape; readonly stats: WaiterStats } => {
  const wait = real.waitForRelease
  if (wait === undefined) throw new Error(`${real.name} has no waitForRelease`)
  const stats: WaiterStats = { attempts: 0, registered: 0 }
  const provider: LeaseProviderShape = {
    ...real,
    tryAcquire: (request) =>
      Effect.suspend(() => {
        stats.attempts++
        return real.tryAcquire(request)
      }),
    waitForRelease: (name) =>
      Effect.tap(wait(name), () =>
        Effect.acquireRelease(
          Effect.sync(() => stats.registered++),
          () => Effect.sync(() => stats.registered--)
        )
      )
  }
  return { provider, stats }
}

/** What the waiters saw: who got the lease in which order, its tokens, and the most holders at once. */
export interface Turns {
  readonly fibers: ReadonlyArray<Fiber.Fiber<void, unknown>>
  readonly order: ReadonlyArray<number>
  readonly tokens: ReadonlyArray<bigint>
  readonly maxInside: () => number
}

export const waiters = 8

/**
 * Starts 8 waiters on `name` (two per manager, four managers on `provider`), each holding the lease for one scheduler
 * turn once it gets it. `firstToken` is the token of the current holder, so tokens can be checked to increase.
 */
export const takeTurns = (
  provider: LeaseProviderShape,
  name: string,
  options: LeaseOptions,
  firstToken: bigint
): Effect.Effect<Turns> =>
  Effect.gen(function* () {
    const managers: Array<LeaseManager["Service"]> = []
    for (let m = 0; m < 4; m++) {
      managers.push(
        yield* LeaseManager.make({ holderId: `m${m}` }).pipe(Effect.provideService(LeaseProvider, provider))
      )
    }
    let inside = 0
    let maxInside = 0
    const order: Array<number> = []
    const tokens: Array<bigint> = [firstToken]
    const fibers = yield* Effect.forEach(
      managers.flatMap((manager) => [manager, manager]),
      (manager, i) =>
        Effect.forkChild(
          Effect.scoped(
            Effect.gen(function* () {
              const lease = yield* manager.acquire(name, options)
              inside++
              maxInside = Math.max(maxInside, inside)
              order.push(i)
              tokens.push(lease.fencingToken)
              yield* Effect.yieldNow
              inside--
            })
          ),
          { startImmediately: true }
        )
    )
    return { fibers, order, tokens, maxInside: () => maxInside }
  })

/** Whether `tokens` strictly increase. */
export const increasing = (tokens: ReadonlyArray<bigint>): boolean =>
  tokens.every((token, i) => i === 0 || token > (tokens[i - 1] ?? token))
