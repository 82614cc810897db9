/**
 * A description of the machine a run happened on, stored with its results.
 */
import { execFileSync } from "node:child_process"
import { availableParallelism, cpus, freemem, loadavg, totalmem } from "node:os"

export interface Machine {
  readonly node: string
  readonly v8: string
  readonly platform: string
  readonly cpuModel: string
  readonly nproc: number
  readonly totalMemGiB: number
  readonly freeMemGiB: number
  /** `free -h` as printed, when the command exists. */
  readonly freeH: string | undefined
  readonly redisServer: string | undefined
  readonly effect: string
  /** The commit measured, and whether `src/` had uncommitted changes (they are part of what was measured). */
  readonly commit: string | undefined
  readonly srcDirty: boolean | undefined
}

const run = (command: string, args: ReadonlyArray<string>): string | undefined => {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

const gib = (bytes: number) => Math.round((bytes / 2 ** 30) * 10) / 10

export const describeMachine = (effectVersion: string): Machine => ({
  node: process.version,
  v8: process.versions.v8,
  platform: `${process.platform} ${process.arch}`,
  cpuModel: cpus()[0]?.model ?? "unknown",
  nproc: availableParallelism(),
  totalMemGiB: gib(totalmem()),
  freeMemGiB: gib(freemem()),
  freeH: run("free", ["-h"]),
  redisServer: /v=(\S+)/.exec(run("redis-server", ["--version"]) ?? "")?.[1],
  effect: effectVersion,
  commit: run("git", ["rev-parse", "--short", "HEAD"]),
  srcDirty: ((status) => (status === undefined ? undefined : status.length > 0))(
    run("git", ["status", "--porcelain", "--", "src"])
  )
})

/** The 1, 5 and 15 minute load averages, rounded. */
export const loadAverage = (): ReadonlyArray<number> => loadavg().map((x) => Math.round(x * 100) / 100)
