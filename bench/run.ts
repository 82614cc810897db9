/**
 * The benchmark against the peers (issue 9): one run, one private redis-server, every library side by side.
 *
 *   npm run bench                      full run (a few minutes on 2 cores), writes bench/results/latest.json
 *   npm run bench -- --quick           smoke run (seconds), writes bench/results/quick.tmp.json (git-ignored)
 *   npm run bench -- --only=uncontended,handoff --out=/tmp/x.json
 *
 * Sections: uncontended, commands, handoff, throughput, held, overhead (see each file in `sections/`).
 * Ratios are computed inside each run, then the median over runs is reported. Timings are never asserted.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { toJson } from "./lib/json.ts"
import { describeMachine, loadAverage } from "./lib/machine.ts"
import { fullPlan, type Plan, quickPlan } from "./lib/plan.ts"
import { connect, startServer } from "./lib/redis.ts"
import { num, table } from "./lib/report.ts"
import { type CommandsResult, runCommands } from "./sections/commands.ts"
import { type HandoffResult, runHandoff } from "./sections/handoff.ts"
import { type HeldResult, runHeld } from "./sections/held.ts"
import { type OverheadResult, runOverhead } from "./sections/overhead.ts"
import { runThroughput, type ThroughputResult } from "./sections/throughput.ts"
import { runUncontended, type UncontendedResult } from "./sections/uncontended.ts"

export const sectionNames = ["uncontended", "commands", "handoff", "throughput", "held", "overhead"] as const
type SectionName = (typeof sectionNames)[number]

interface Sections {
  uncontended?: UncontendedResult
  commands?: CommandsResult
  handoff?: HandoffResult
  throughput?: ThroughputResult
  held?: HeldResult
  overhead?: OverheadResult
}

export interface Target {
  readonly target: string
  readonly status: "hit" | "missed" | "not measured"
  readonly evidence: string
}

const here = dirname(fileURLToPath(import.meta.url))

const parseArgs = (argv: ReadonlyArray<string>) => {
  const quick = argv.includes("--quick")
  const only = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length)
  const out = argv.find((a) => a.startsWith("--out="))?.slice("--out=".length)
  const selected = only === undefined ? [...sectionNames] : only.split(",").map((s) => s.trim())
  for (const s of selected) {
    if (!(sectionNames as ReadonlyArray<string>).includes(s)) throw new Error(`unknown section "${s}"`)
  }
  return {
    plan: quick ? quickPlan : fullPlan,
    selected: selected as ReadonlyArray<SectionName>,
    out: out ?? join(here, "results", quick ? "quick.tmp.json" : "latest.json")
  }
}

const effectVersion = (): string => {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(here, "..", "node_modules", "effect", "package.json"), "utf8"))
    return typeof pkg === "object" && pkg !== null && "version" in pkg ? String(pkg.version) : "?"
  } catch {
    return "?"
  }
}

const targets = (s: Sections): ReadonlyArray<Target> => {
  const list: Array<Target> = []
  const u = s.uncontended
  if (u === undefined) {
    list.push({ target: "uncontended cycle ≥ fastest peer", status: "not measured", evidence: "" })
  } else {
    for (const label of ["ours, Effect API", "ours, Promise API"]) {
      const row = u.rows.find((r) => r.label === label)
      if (row === undefined) continue
      list.push({
        target: `uncontended cycle at least as fast as the fastest peer (${label})`,
        status: row.speedVsFastestPeer >= 1 ? "hit" : "missed",
        evidence: `${num(row.cyclesPerSecond)} cycles/s, ${row.speedVsFastestPeer}× the fastest peer (median of per-run ratios)`
      })
      list.push({
        target: `uncontended cycle within 1.3× of the two-PING floor (${label}, aim)`,
        status: row.p50VsFloor <= 1.3 ? "hit" : "missed",
        evidence: `p50 ${row.p50Ms} ms = ${row.p50VsFloor}× the floor's p50`
      })
    }
  }
  const c = s.commands?.rows.find((r) => r.label.startsWith("ours"))
  list.push(
    c === undefined
      ? { target: "one round trip per acquire, renew, release", status: "not measured", evidence: "" }
      : {
          target: "exactly one round trip per acquire, renew, release",
          status:
            c.acquire.roundTrips === 1 && c.renew.roundTrips === 1 && c.release.roundTrips === 1 ? "hit" : "missed",
          evidence: `round trips: acquire ${c.acquire.roundTrips}, renew ${c.renew.roundTrips}, release ${c.release.roundTrips}`
        }
  )
  const h = s.handoff
  if (h === undefined) {
    list.push({ target: "median handoff ≥ 10× better than the best peer", status: "not measured", evidence: "" })
  } else {
    for (const [n, ratio] of Object.entries(h.effectAdvantageOverBestPeer)) {
      list.push({
        target: `median handoff at least 10× better than the best peer's default (${n} waiter${n === "1" ? "" : "s"})`,
        status: ratio >= 10 ? "hit" : "missed",
        evidence: `best peer p50 ÷ ours (Effect API) p50 = ${ratio}× (Promise API: ${h.promiseAdvantageOverBestPeer[n]}×)`
      })
    }
  }
  const held = s.held?.rows.filter((r) => r.label.startsWith("ours") && r.leases >= 10_000) ?? []
  if (held.length === 0) {
    list.push({ target: "10,000 held auto-renewing leases", status: "not measured", evidence: "" })
  } else {
    for (const r of held) {
      list.push({
        target: `10,000 held auto-renewing leases, none lost (${r.store})`,
        status: r.lost === 0 ? "hit" : "missed",
        evidence:
          `heap ${num(r.heapPerLeaseBytes)} B/lease, event-loop p99 ${r.eventLoopDelayP99Ms} ms, ` +
          `${num(r.renewalsPerSecond)} of ${num(r.expectedRenewalsPerSecond)} expected renewals/s ` +
          `(${num(r.renewCommandsPerSecond)} commands/s), lost ${num(r.lost)}`
      })
    }
  }
  return list
}

const print = (s: Sections, list: ReadonlyArray<Target>) => {
  const out: Array<string> = []
  const u = s.uncontended
  if (u !== undefined) {
    out.push(
      table(
        `1. Uncontended acquire + release (${u.runs} runs × ${u.cyclesPerRun} cycles, medians; ratios per run)`,
        ["", "cycles/s", "p50 ms", "p99 ms", "client CPU µs", "p50 ÷ floor", "speed ÷ fastest peer"],
        u.rows.map((r) => [
          r.label,
          num(r.cyclesPerSecond),
          num(r.p50Ms, 3),
          num(r.p99Ms, 3),
          num(r.cpuUsPerCycle),
          num(r.p50VsFloor, 2),
          num(r.speedVsFastestPeer, 2)
        ])
      )
    )
  }
  const c = s.commands
  if (c !== undefined) {
    const fmt = (o: { readonly roundTrips: number; readonly redisCommands: number }) =>
      `${num(o.roundTrips, 2)} / ${num(o.redisCommands, 2)}`
    out.push(
      table(
        `2. Commands per operation (round trips / Redis commands incl. inside scripts; ${c.opsPerPhase} ops each)`,
        ["", "acquire", "renew", "release", "acquire sends"],
        c.rows.map((r) => [
          r.label,
          fmt(r.acquire),
          fmt(r.renew),
          fmt(r.release),
          Object.entries(r.acquire.sent)
            .map(([k, v]) => `${k}×${v}`)
            .join(" ")
        ])
      )
    )
  }
  const h = s.handoff
  if (h !== undefined) {
    const ns = h.rows[0]?.cells.map((x) => x.waiters) ?? []
    out.push(
      table(
        "3. Handoff latency: release → next holder (p50 / p99 ms; pooled rounds; waiter commands per acquisition)",
        ["", ...ns.map((n) => `${n} waiter${n === 1 ? "" : "s"}`), "gave up"],
        h.rows.map((r) => [
          r.label,
          ...r.cells.map(
            (x) => `${num(x.p50Ms, 2)} / ${num(x.p99Ms, 2)} (${num(x.waiterCommandsPerAcquisition, 1)} cmd)`
          ),
          num(r.cells.reduce((a, x) => a + x.gaveUp, 0))
        ])
      )
    )
    out.push(
      `   best peer p50 ÷ ours p50: Effect ${JSON.stringify(h.effectAdvantageOverBestPeer)}, ` +
        `Promise ${JSON.stringify(h.promiseAdvantageOverBestPeer)}`
    )
  }
  const t = s.throughput
  if (t !== undefined) {
    const cells = t.rows[0]?.cells ?? []
    out.push(
      table(
        `4. Throughput under contention (cycles/s, Jain fairness; ${t.runs} runs × ${t.windowMs} ms, medians)`,
        ["", ...cells.map((x) => `${x.workers}w × ${num(x.names)} name${x.names === 1 ? "" : "s"}`)],
        t.rows.map((r) => [
          r.label,
          ...r.cells.map(
            (x) =>
              `${num(x.cyclesPerSecond)} (J ${num(x.fairness.jain, 2)}${x.gaveUp > 0 ? `, ${x.gaveUp} gave up` : ""})`
          )
        ])
      )
    )
  }
  const held = s.held
  if (held !== undefined) {
    out.push(
      table(
        `5. Held leases with auto-renewal (lease ${s.held?.rows[0]?.durationMs ?? "?"} ms, renewal due every 2/3 of it)`,
        [
          "",
          "leases",
          "acquire s",
          "longest stall ms",
          "CPU µs/acq",
          "heap B/lease",
          "renewals/s (expected)",
          "commands/s",
          "CPU µs/renew",
          "loop p99 / max ms",
          "lost"
        ],
        held.rows.map((r) => [
          r.label,
          num(r.leases),
          num(r.acquireWallMs / 1000, 1),
          num(r.acquireLongestStallMs),
          num(r.acquireCpuUsPerLease),
          num(r.heapPerLeaseBytes),
          `${num(r.renewalsPerSecond)} (${num(r.expectedRenewalsPerSecond)})`,
          r.store === "memory" ? "–" : num(r.renewCommandsPerSecond),
          num(r.renewCpuUsPerRenewal),
          `${num(r.eventLoopDelayP99Ms, 1)} / ${num(r.eventLoopDelayMaxMs, 1)}`,
          num(r.lost)
        ])
      )
    )
  }
  const o = s.overhead
  if (o !== undefined) {
    out.push(
      table(
        `6. Effect overhead on the memory provider (${o.runs} runs × ${o.cyclesPerRun} cycles, medians)`,
        ["", "µs/cycle", "CPU µs/cycle", "× bare Map"],
        o.rows.map((r) => [r.label, num(r.usPerCycle, 2), num(r.cpuUsPerCycle, 2), num(r.vsBareMap, 1)])
      )
    )
  }
  out.push(
    table(
      "Targets",
      ["", "status", "evidence"],
      list.map((x) => [x.target, x.status, x.evidence])
    )
  )
  console.log(out.join("\n"))
}

const main = async () => {
  const { plan, selected, out } = parseArgs(process.argv.slice(2))
  const startedAt = new Date()
  const loadStart = loadAverage()
  const machine = describeMachine(effectVersion())
  const server = await startServer()
  const sections: Sections = {}
  const sectionLoad: Record<string, ReadonlyArray<number>> = {}
  const sectionSeconds: Record<string, number> = {}
  let redisVersion = "?"
  try {
    const probe = await connect(server, "bench:probe")
    redisVersion = /redis_version:(\S+)/.exec(await probe.info("server"))?.[1] ?? "?"
    await probe.quit()
    console.log(
      `distributed-leasing benchmark (${plan.mode}) — node ${machine.node}, redis-server ${redisVersion} on ` +
        `127.0.0.1:${server.port}, ${machine.nproc} CPUs, load average ${loadStart.join(" ")}`
    )
    const run = async <K extends SectionName>(name: K, f: (plan: Plan) => Promise<NonNullable<Sections[K]>>) => {
      if (!selected.includes(name)) return
      const t0 = performance.now()
      process.stdout.write(`  ${name}…`)
      sections[name] = await f(plan)
      sectionSeconds[name] = Math.round((performance.now() - t0) / 100) / 10
      sectionLoad[name] = loadAverage()
      process.stdout.write(` ${sectionSeconds[name]} s (load ${sectionLoad[name]?.join(" ")})\n`)
    }
    await run("uncontended", (p) => runUncontended(server, p))
    await run("commands", (p) => runCommands(server, p))
    await run("handoff", (p) => runHandoff(server, p))
    await run("throughput", (p) => runThroughput(server, p))
    await run("overhead", (p) => runOverhead(p))
    await run("held", (p) => runHeld(server, p))
  } finally {
    await server.close()
  }
  const list = targets(sections)
  print(sections, list)
  const finishedAt = new Date()
  const result = {
    benchmark: "distributed-leasing vs peers",
    version: 1,
    mode: plan.mode,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    machine: { ...machine, redisServer: redisVersion },
    loadAverage: { start: loadStart, end: loadAverage(), afterSection: sectionLoad },
    sectionSeconds,
    plan,
    sections,
    targets: list
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, toJson(result))
  console.log(
    `\nresults: ${out} (${result.durationSeconds} s, load average at the end ${result.loadAverage.end.join(" ")})`
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
