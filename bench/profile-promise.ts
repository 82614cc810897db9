/**
 * Profiling aid (not part of `npm run bench`): runs N sequential acquire + release cycles through the Promise API
 * (`createLeasing`) on the memory provider (or, with `--redis`, on a private redis-server) so `node --cpu-prof` shows where the
 * Promise wrapper spends its CPU. The Effect-API counterpart is `bench/profile-core.ts`.
 *
 *   npm exec -- node --conditions=leasing-source --cpu-prof --cpu-prof-dir=/tmp/prof-promise bench/profile-promise.ts
 */
import { MemoryLeaseProvider } from "../src/memory/index.ts"
import { createLeasing } from "../src/promise/index.ts"
import { RedisLeaseProvider } from "../src/redis/index.ts"
import { startServer } from "./lib/redis.ts"

const cycles = Number(process.argv.find((a) => a.startsWith("--cycles="))?.slice(9) ?? 20000)
const server = process.argv.includes("--redis") ? await startServer() : undefined

const leasing = createLeasing({
  provider: server === undefined ? MemoryLeaseProvider.layer() : RedisLeaseProvider.layer({ url: server.url }),
  holderId: "prof",
  logLevel: "None"
})
await leasing.ready()
const cycle = async () => {
  const lease = await leasing.acquire("bench:profile", { duration: "10 seconds" })
  await lease.release()
}
for (let i = 0; i < 2000; i++) await cycle()
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < cycles; i++) await cycle()
const cpu = process.cpuUsage(cpu0)
console.log(
  `${cycles} cycles: ${(((performance.now() - t0) * 1000) / cycles).toFixed(1)} µs/cycle wall, ` +
    `${((cpu.user + cpu.system) / cycles).toFixed(1)} µs/cycle CPU`
)
await leasing.close()
await server?.close()
