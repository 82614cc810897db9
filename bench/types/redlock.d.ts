/**
 * Types of the part of `redlock@5.0.0-beta.2` the benchmark uses. The package ships `dist/index.d.ts`, but its
 * `exports` map has no `types` condition, so TypeScript's NodeNext resolution cannot find it. These mirror that
 * file (constructor, `acquire`, `Lock.release`, `Lock.extend`, the `error` event).
 */
declare module "redlock" {
  import { EventEmitter } from "node:events"
  import type { Cluster, Redis } from "ioredis"

  export interface Settings {
    readonly driftFactor: number
    readonly retryCount: number
    readonly retryDelay: number
    readonly retryJitter: number
    readonly automaticExtensionThreshold: number
  }

  export class Lock {
    readonly resources: string[]
    readonly value: string
    expiration: number
    release(): Promise<unknown>
    extend(duration: number): Promise<Lock>
  }

  export class ExecutionError extends Error {}
  export class ResourceLockedError extends Error {}

  export default class Redlock extends EventEmitter {
    constructor(clients: Iterable<Redis | Cluster>, settings?: Partial<Settings>)
    acquire(resources: string[], duration: number, settings?: Partial<Settings>): Promise<Lock>
    release(lock: Lock, settings?: Partial<Settings>): Promise<unknown>
    quit(): Promise<void>
  }
}
