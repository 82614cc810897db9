/**
 * `createLeasingFromEnv()`: the Promise client built from `LEASING_*` variables, connected before it resolves;
 * a bad setting rejects with a `ConfigError` naming the variable. Provider modules load only when chosen.
 */
import { spawnSync } from "node:child_process"
import { pathToFileURL } from "node:url"
import { Config } from "effect"
import { describe, expect, it } from "vitest"
import { ConfigError, createLeasingFromEnv } from "../../src/promise/index.ts"
import { guardUnhandledRejections } from "../promise/helpers.ts"

guardUnhandledRejections()

describe("createLeasingFromEnv", () => {
  it("builds a ready client from the variables", async () => {
    await using leasing = await createLeasingFromEnv({
      env: {
        LEASING_PROVIDER: "memory",
        LEASING_HOLDER_ID: "env-holder",
        LEASING_DURATION: "7 seconds",
        UNSET: undefined
      },
      logLevel: "None"
    })
    const lease = await leasing.acquire("from-env")
    expect(lease.holderId).toBe("env-holder")
    expect(lease.provider).toBe("memory")
    expect(lease.expiresAt.getTime() - lease.acquiredAt.getTime()).toBe(7_000)
  })

  it("takes code defaults under the variables", async () => {
    await using leasing = await createLeasingFromEnv({
      env: { LEASING_PROVIDER: "memory" },
      holderId: "code-holder",
      defaults: { duration: "9 seconds" },
      logLevel: "None"
    })
    const lease = await leasing.acquire("code")
    expect(lease.holderId).toBe("code-holder")
    expect(lease.expiresAt.getTime() - lease.acquiredAt.getTime()).toBe(9_000)
  })

  it("rejects with the ConfigError (re-exported from the Promise entry) that names the variable", async () => {
    expect(ConfigError).toBe(Config.ConfigError)
    const missing = createLeasingFromEnv({ env: {}, logLevel: "None" })
    await expect(missing).rejects.toBeInstanceOf(ConfigError)
    await expect(missing).rejects.toMatchObject({
      _tag: "ConfigError",
      message: expect.stringContaining("LEASING_PROVIDER")
    })
    const badPort = createLeasingFromEnv({
      env: { LEASING_PROVIDER: "redis", LEASING_REDIS_HOST: "localhost", LEASING_REDIS_PORT: "99999" },
      logLevel: "None"
    })
    await expect(badPort).rejects.toMatchObject({ message: expect.stringContaining('["LEASING_REDIS_PORT"]') })
  })

  it("rejects with ProviderUnavailableError when the configured store cannot be reached", async () => {
    const unreachable = createLeasingFromEnv({
      env: {
        LEASING_PROVIDER: "redis",
        LEASING_REDIS_URL: "redis://127.0.0.1:1",
        LEASING_REDIS_CONNECT_TIMEOUT: "2 seconds"
      },
      logLevel: "None"
    })
    await expect(unreachable).rejects.toMatchObject({ _tag: "ProviderUnavailableError", provider: "redis" })
  })
})

describe("provider modules", () => {
  // A separate Node process records every module it resolves, so this sees what an application would load.
  const run = (
    provider: string
  ): { readonly sdk: Array<string>; readonly redisModule: boolean; readonly outcome: string } => {
    const promiseEntry = pathToFileURL(`${process.cwd()}/src/promise/index.ts`).href
    const script = `
      import { registerHooks } from "node:module"
      const loaded = []
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); loaded.push(result.url); return result } })
      const { createLeasingFromEnv } = await import(${JSON.stringify(promiseEntry)})
      let outcome = "ready"
      try {
        const leasing = await createLeasingFromEnv({
          env: { LEASING_PROVIDER: ${JSON.stringify(provider)}, LEASING_REDIS_URL: "redis://127.0.0.1:1", LEASING_REDIS_CONNECT_TIMEOUT: "1 second" },
          logLevel: "None"
        })
        await leasing.close()
      } catch (error) {
        outcome = error._tag
      }
      console.log(JSON.stringify({
        sdk: loaded.filter((url) => /ioredis|@azure/.test(url)),
        redisModule: loaded.some((url) => url.includes("/src/redis/")),
        outcome
      }))
    `
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000
    })
    expect(child.status, child.stderr).toBe(0)
    return JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}")
  }

  it("choosing memory loads no SDK (ioredis, @azure/*) and not the Redis provider", () => {
    expect(run("memory")).toEqual({ sdk: [], redisModule: false, outcome: "ready" })
  })

  it("choosing redis loads the Redis provider and ioredis, on demand", () => {
    const result = run("redis")
    expect(result.redisModule).toBe(true)
    expect(result.sdk.some((url) => url.includes("ioredis"))).toBe(true)
    expect(result.outcome).toBe("ProviderUnavailableError")
  })
})
