/**
 * The package's shape: every export entry points at real sources, importing the core (or any entry point) loads no
 * SDK it does not need, and the `src/` code follows the house rules that a compiler cannot check.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: Record<string, string | Record<string, string>>
  peerDependencies: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  engines: { node: string }
}

/** Bare module specifiers reachable from `entry` through relative static imports. */
const reachableModules = (entry: string): Set<string> => {
  const seen = new Set<string>()
  const bare = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const source = readFileSync(file, "utf8")
    // Static imports and re-exports only: `import type` is erased, dynamic `import()` is lazy on purpose.
    for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)[^"']*?from\s+["']([^"']+)["']/gm)) {
      const specifier = match[1] as string
      if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier))
      else bare.add(specifier)
    }
  }
  visit(entry)
  return bare
}

const sourceEntries = Object.entries(pkg.exports).flatMap(([subpath, target]) =>
  typeof target === "object" && target["leasing-source"] !== undefined
    ? [[subpath, join(root, target["leasing-source"])] as const]
    : []
)

describe("package", () => {
  it("declares engines >= 22.19 and effect 4 as a peer", () => {
    expect(pkg.engines.node).toBe(">=22.19")
    expect(pkg.peerDependencies.effect).toMatch(/^\^4\./)
  })

  it("every export entry has sources, types and a build target", () => {
    expect(sourceEntries.length).toBeGreaterThanOrEqual(2)
    for (const [subpath, file] of sourceEntries) {
      expect(statSync(file).isFile(), `${subpath} → ${file}`).toBe(true)
      const target = pkg.exports[subpath] as Record<string, string>
      expect(target.types).toMatch(/^\.\/dist\/.*\.d\.ts$/)
      expect(target.default).toMatch(/^\.\/dist\/.*\.js$/)
    }
  })

  it("importing the core or the memory provider loads no SDK", () => {
    for (const subpath of [".", "./memory"]) {
      const entry = sourceEntries.find(([s]) => s === subpath)?.[1]
      expect(entry).toBeDefined()
      const modules = [...reachableModules(entry as string)]
      const sdks = modules.filter((m) => m === "ioredis" || m.startsWith("@azure/") || m.startsWith("@opentelemetry/"))
      expect(sdks, `${subpath} imports ${sdks.join(", ")}`).toEqual([])
    }
  })

  it("every SDK an entry point imports is an optional peer dependency", () => {
    for (const [subpath, entry] of sourceEntries) {
      for (const module of reachableModules(entry)) {
        if (module.startsWith("node:") || module === "effect" || module.startsWith("effect/")) continue
        const name = module.startsWith("@") ? module.split("/").slice(0, 2).join("/") : (module.split("/")[0] as string)
        expect(pkg.peerDependencies[name], `${subpath} imports ${name}, which is not a peer dependency`).toBeDefined()
        expect(pkg.peerDependenciesMeta?.[name]?.optional, `${name} must be an optional peer`).toBe(true)
      }
    }
  })

  it("src/ has no console output, no Date.now and no timers outside the Effect Clock", () => {
    // One exception, by design: `internal/timer.ts` calls `setTimeout` itself only after checking that the fiber's
    // Clock is Effect's default clock (whose `sleep` is that same `setTimeout`), to spare a fiber per timer on the
    // hot path; under any other clock it uses the Clock. Its tests (test/core/scheduling.test.ts) cover both paths.
    const allowed = new Set(["src/internal/timer.ts"])
    const offenders: Array<string> = []
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name)
        if (statSync(path).isDirectory()) walk(path)
        else if (path.endsWith(".ts")) {
          if (allowed.has(path.slice(root.length + 1))) continue
          const lines = readFileSync(path, "utf8").split("\n")
          lines.forEach((line, i) => {
            const code = line.replace(/\/\/.*$/, "")
            if (/\bconsole\.|\bDate\.now\(|\bsetTimeout\(|\bsetInterval\(/.test(code) && !code.trim().startsWith("*")) {
              offenders.push(`${path.slice(root.length + 1)}:${i + 1}: ${line.trim()}`)
            }
          })
        }
      }
    }
    walk(join(root, "src"))
    expect(offenders).toEqual([])
  })
})
