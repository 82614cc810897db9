/**
 * Profiling aid (not part of `npm run bench`): runs N sequential acquire + release cycles through the Effect API on
 * the memory provider (or, with `--redis`, on a private redis-server started for the run, never the system one) so
 * `node --cpu-prof` shows where the core spends its CPU. The Promise-API counterpart is `bench/profile-promise.ts`.
 *
 *   npm exec -- node --conditions=leasing-source --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-core.ts [--redis]
 *
 * Flags: `--cycles=N` (default 20000), `--no-push` (Redis without push wake-up), `--no-trace` (tracing disabled).
 */
import { Effect, References } from "effect"
import { manager, runOurs } from "./lib/ours.ts"
import { startServer } from "./lib/redis.ts"

const cycles = Number(process.argv.find((a) => a.startsWith("--cycles="))?.slice(9) ?? 20000)
const server = process.argv.includes("--redis") ? await startServer() : undefined
const noTrace = process.argv.includes("--no-trace")

try {
  await runOurs(
    Effect.gen(function* () {
      const leases = yield* manager(server ?? "memory", "prof", { pushWakeUp: !process.argv.includes("--no-push") })
      const cycle = Effect.scoped(leases.acquire("bench:profile", { duration: "10 seconds" }))
      for (let i = 0; i < 2000; i++) yield* cycle
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; i < cycles; i++) yield* cycle
      const cpu = process.cpuUsage(cpu0)
      console.log(
        `${cycles} cycles: ${(((performance.now() - t0) * 1000) / cycles).toFixed(1)} µs/cycle wall, ` +
          `${((cpu.user + cpu.system) / cycles).toFixed(1)} µs/cycle CPU`
      )
    }).pipe(Effect.provideService(References.TracerEnabled, !noTrace))
  )
} finally {
  await server?.close()
}
