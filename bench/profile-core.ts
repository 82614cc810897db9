/**
 * Profiling aid (not part of `npm run bench`): runs N sequential acquire + release cycles on the memory provider
 * (or Redis with `--redis=<url>`) so `node --cpu-prof` shows where the core spends its CPU.
 *
 *   npm exec -- node --conditions=leasing-source --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-core.ts
 */
import { Effect, References } from "effect"
import { manager, runOurs } from "./lib/ours.ts"

const cycles = Number(process.argv.find((a) => a.startsWith("--cycles="))?.slice(9) ?? 20000)
const url = process.argv.find((a) => a.startsWith("--redis="))?.slice(8)

const noTrace = process.argv.includes("--no-trace")
await runOurs(
  Effect.gen(function* () {
    const backend = url === undefined ? "memory" : ({ url } as unknown as Parameters<typeof manager>[0])
    const leases = yield* manager(backend, "prof", { pushWakeUp: !process.argv.includes("--no-push") })
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
