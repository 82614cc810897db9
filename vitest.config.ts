import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests and examples import the package by its public name; resolve it to the sources.
    alias: [
      { find: /^distributed-leasing$/, replacement: src("index.ts") },
      { find: /^distributed-leasing\/azure-(identity|blob|cosmos)$/, replacement: src("azure/$1/index.ts") },
      { find: /^distributed-leasing\/(.*)$/, replacement: src("$1/index.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/support/summaryReporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
