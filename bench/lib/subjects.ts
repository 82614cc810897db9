/**
 * The libraries under test, behind one Promise-level shape: acquire (waiting with the library's own default retry
 * settings), renew, release. Each `make*` call opens its own connection(s), so a holder and its waiters can be
 * separate clients, as separate processes would be.
 *
 * Every library holds leases for the same 10 s (redis-semaphore's default `lockTimeout`), with its own defaults
 * for everything else:
 * - ours: push wake-up, no acquire timeout, renewal at 2/3 of the duration;
 * - redis-semaphore `Mutex`: `SET NX PX` polled every 10 ms for up to 10 s, refresh by `setInterval` at 80 %;
 * - `@sesamecare-oss/redlock` and `redlock`: 10 retries 200 ms ± 100 ms apart, then `ExecutionError`. Their
 *   READMEs ask for an `error` listener (failed attempts are emitted as `error` events), so one is added.
 */
import { Redlock as SesameRedlock } from "@sesamecare-oss/redlock"
import type { Redis } from "ioredis"
import { Mutex, TimeoutError } from "redis-semaphore"
import NodeRedlock from "redlock"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { createLeasing, LeaseAcquisitionTimeoutError } from "../../src/promise/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { connect, type RedisServer } from "./redis.ts"

/** The lease length every library uses, in milliseconds. */
export const leaseMillis = 10_000

export interface Held {
  readonly release: () => Promise<void>
  /** One manual renewal (extend / refresh) for the same duration. */
  readonly renew: () => Promise<void>
}

export interface Subject {
  /** Row label. */
  readonly label: string
  /** Acquire, waiting with the library's defaults. `null` when the library gave up (its retry budget ran out). */
  readonly acquire: (name: string, signal?: AbortSignal) => Promise<Held | null>
  /** The connection commands go through, for counting (undefined for the memory provider). */
  readonly client: Redis | undefined
  readonly close: () => Promise<void>
}

export type PeerId = "redis-semaphore" | "sesame-redlock" | "redlock"

export const peerLabels: Record<PeerId, string> = {
  "redis-semaphore": "redis-semaphore 5.8 Mutex",
  "sesame-redlock": "@sesamecare-oss/redlock 1.4",
  redlock: "redlock 5.0.0-beta.2"
}

export const peerIds: ReadonlyArray<PeerId> = ["redis-semaphore", "sesame-redlock", "redlock"]

/** `Mutex` with its protected refresh reachable, to count the commands of one refresh. */
class BenchMutex extends Mutex {
  refreshNow(): Promise<boolean> {
    return this._refresh()
  }
}

const isAbort = (error: unknown) => error instanceof Error && error.name === "AbortError"

const makeRedisSemaphore = async (server: RedisServer, role: string): Promise<Subject> => {
  const client = await connect(server, `bench:redis-semaphore:${role}`)
  return {
    label: peerLabels["redis-semaphore"],
    client,
    acquire: async (name, signal) => {
      const mutex = new BenchMutex(client, name)
      try {
        await mutex.acquire(signal)
      } catch (error) {
        if (error instanceof TimeoutError || isAbort(error) || signal?.aborted === true) return null
        throw error
      }
      return {
        release: () => mutex.release(),
        renew: async () => {
          if (!(await mutex.refreshNow())) throw new Error("redis-semaphore refresh failed")
        }
      }
    },
    close: async () => {
      await client.quit()
    }
  }
}

/** The part of the two Redlock classes the benchmark uses (their `Lock` types differ only in private details). */
interface RedlockLike {
  acquire(resources: string[], duration: number): Promise<RedlockLock>
  on(event: "error", listener: (error: Error) => void): unknown
}
interface RedlockLock {
  release(): Promise<unknown>
  extend(duration: number): Promise<RedlockLock>
}

const makeRedlock = async (server: RedisServer, role: string, which: "sesame-redlock" | "redlock") => {
  const client = await connect(server, `bench:${which}:${role}`)
  const redlock: RedlockLike = which === "redlock" ? new NodeRedlock([client]) : new SesameRedlock([client])
  // Both READMEs: failed attempts are emitted as `error` events; ignore them (the acquire reports the outcome).
  redlock.on("error", () => {})
  const subject: Subject = {
    label: peerLabels[which],
    client,
    acquire: async (name) => {
      let lock: RedlockLock
      try {
        lock = await redlock.acquire([name], leaseMillis)
      } catch (error) {
        // ExecutionError: the retry budget ran out while the resource stayed locked.
        if (error instanceof Error && error.name === "ExecutionError") return null
        if (error instanceof Error && /quorum/.test(error.message)) return null
        throw error
      }
      return {
        release: async () => {
          await lock.release()
        },
        renew: async () => {
          lock = await lock.extend(leaseMillis)
        }
      }
    },
    close: async () => {
      await client.quit()
    }
  }
  return subject
}

export const makePeer = (id: PeerId, server: RedisServer, role: string): Promise<Subject> =>
  id === "redis-semaphore" ? makeRedisSemaphore(server, role) : makeRedlock(server, role, id)

/**
 * Our Promise API on Redis (`{ url }`, the documented way: the provider opens its own connection and subscriber)
 * or, with `client`, on a connection the caller built (so its commands can be counted).
 */
export const makeOursPromise = async (
  server: RedisServer | "memory",
  role: string,
  options: { readonly client?: Redis | undefined; readonly pushWakeUp?: boolean | undefined } = {}
): Promise<Subject> => {
  const provider =
    server === "memory"
      ? MemoryLeaseProvider.layer()
      : options.client !== undefined
        ? RedisLeaseProvider.layer({ client: options.client, pushWakeUp: options.pushWakeUp })
        : RedisLeaseProvider.layer({ url: server.url, pushWakeUp: options.pushWakeUp })
  const leasing = createLeasing({ provider, holderId: `bench-${role}`, logLevel: "None" })
  await leasing.ready()
  return {
    label: "ours, Promise API",
    client: options.client,
    acquire: async (name, signal) => {
      try {
        const lease = await leasing.acquire(name, {
          duration: leaseMillis,
          ...(signal === undefined ? {} : { signal })
        })
        return { release: () => lease.release(), renew: () => lease.renew() }
      } catch (error) {
        if (error instanceof LeaseAcquisitionTimeoutError || signal?.aborted === true) return null
        throw error
      }
    },
    close: () => leasing.close()
  }
}
