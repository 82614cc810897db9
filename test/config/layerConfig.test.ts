/**
 * `Leasing.layerConfig`: the provider, holder id and default options come from `LEASING_*` settings, and a
 * missing or invalid setting fails the layer with a `ConfigError` that names the variable.
 */
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Context, Duration, Effect, Layer } from "effect"
import { Leasing } from "../../src/config/index.ts"
import { LeaseManager, LeaseProvider } from "../../src/index.ts"

const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env }))

/** Builds `layer` under `env` and returns its failure. */
const buildError = (
  env: Record<string, string>,
  layer: Layer.Layer<LeaseManager, Leasing.LayerConfigError> = Leasing.layerConfig
) => Effect.scoped(Layer.build(layer.pipe(Layer.provide(withEnv(env))))).pipe(Effect.flip)

/** Asserts `error` is a ConfigError about `variable`, and returns its message. */
const expectConfigError = (error: unknown, variable: string): string => {
  expect(error).toBeInstanceOf(Config.ConfigError)
  const message = (error as Config.ConfigError).message
  expect(message).toContain(`["${variable}"]`)
  return message
}

describe("Leasing.layerConfig", () => {
  it.effect("LEASING_PROVIDER=memory builds a working manager", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      const lease = yield* manager.acquire("configured")
      expect(lease.provider).toBe("memory")
      expect(lease.fencingToken).toBe(1n)
    }).pipe(Effect.provide(Leasing.layerConfig.pipe(Layer.provide(withEnv({ LEASING_PROVIDER: "memory" })))))
  )

  it.effect("reads the holder id and default lease options; ms numbers and duration strings both work", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      expect(manager.holderId).toBe("replica-7")
      const lease = yield* manager.acquire("defaults")
      expect(Duration.toMillis(lease.options.duration)).toBe(45_000)
      expect(Duration.toMillis(lease.options.timeout)).toBe(3_000)
      expect(lease.options.maxRetries).toBe(2)
      expect(lease.options.autoRenew).toBe(false)
      // Per-call options still win over configured defaults.
      const other = yield* manager.acquire("per-call", { duration: "10 seconds" })
      expect(Duration.toMillis(other.options.duration)).toBe(10_000)
    }).pipe(
      Effect.provide(
        Leasing.layerConfig.pipe(
          Layer.provide(
            withEnv({
              LEASING_PROVIDER: "memory",
              LEASING_HOLDER_ID: "replica-7",
              LEASING_DURATION: "45000",
              LEASING_TIMEOUT: "3 seconds",
              LEASING_MAX_RETRIES: "2",
              LEASING_AUTO_RENEW: "false"
            })
          )
        )
      )
    )
  )

  it.effect("settings in code are defaults that the variables override", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      expect(manager.holderId).toBe("from-code")
      const lease = yield* manager.acquire("layered")
      expect(Duration.toMillis(lease.options.duration)).toBe(20_000)
      expect(lease.options.metadata).toEqual({ app: "billing" })
    }).pipe(
      Effect.provide(
        Leasing.layerConfigWith({
          holderId: "from-code",
          defaults: { duration: "90 seconds", metadata: { app: "billing" } }
        }).pipe(Layer.provide(withEnv({ LEASING_PROVIDER: "memory", LEASING_DURATION: "20 seconds" })))
      )
    )
  )

  it.effect("works with ConfigProvider.fromUnknown too", () =>
    Effect.gen(function* () {
      const manager = yield* LeaseManager
      expect(manager.holderId).toBe("json")
    }).pipe(
      Effect.provide(
        Leasing.layerConfig.pipe(
          Layer.provide(
            ConfigProvider.layer(ConfigProvider.fromUnknown({ LEASING_PROVIDER: "memory", LEASING_HOLDER_ID: "json" }))
          )
        )
      )
    )
  )

  it.effect("a missing LEASING_PROVIDER is a ConfigError naming it and the choices", () =>
    Effect.gen(function* () {
      const message = expectConfigError(yield* buildError({}), "LEASING_PROVIDER")
      expect(message).toContain("Missing")
      expect(message).toContain("memory, redis, azure-blob, azure-cosmos")
    })
  )

  it.effect("an unknown LEASING_PROVIDER is a ConfigError naming it", () =>
    Effect.gen(function* () {
      const message = expectConfigError(yield* buildError({ LEASING_PROVIDER: "mysql" }), "LEASING_PROVIDER")
      expect(message).toContain('"mysql"')
    })
  )

  it.effect("azure-blob without a connection string or account URL is a ConfigError naming the variable", () =>
    Effect.gen(function* () {
      const message = expectConfigError(
        yield* buildError({ LEASING_PROVIDER: "azure-blob" }),
        "LEASING_AZURE_BLOB_CONNECTION_STRING"
      )
      expect(message).toContain("LEASING_AZURE_BLOB_ACCOUNT_URL")
    })
  )

  it.effect("azure-cosmos without an endpoint, or with one but no key, is a ConfigError naming the variable", () =>
    Effect.gen(function* () {
      expectConfigError(yield* buildError({ LEASING_PROVIDER: "azure-cosmos" }), "LEASING_AZURE_COSMOS_ENDPOINT")
      expectConfigError(
        yield* buildError({ LEASING_PROVIDER: "azure-cosmos", LEASING_AZURE_COSMOS_ENDPOINT: "https://x:443/" }),
        "LEASING_AZURE_COSMOS_KEY"
      )
    })
  )

  it.effect("redis without LEASING_REDIS_URL or LEASING_REDIS_HOST is a ConfigError naming LEASING_REDIS_URL", () =>
    Effect.gen(function* () {
      const message = expectConfigError(yield* buildError({ LEASING_PROVIDER: "redis" }), "LEASING_REDIS_URL")
      expect(message).toContain("LEASING_REDIS_HOST")
    })
  )

  it.effect("an invalid provider setting is a ConfigError naming its variable", () =>
    Effect.gen(function* () {
      const error = yield* buildError({ LEASING_PROVIDER: "redis", LEASING_REDIS_HOST: "h", LEASING_REDIS_PORT: "x" })
      expectConfigError(error, "LEASING_REDIS_PORT")
    })
  )

  it.effect("invalid option settings are ConfigErrors naming their variables", () =>
    Effect.gen(function* () {
      expectConfigError(
        yield* buildError({ LEASING_PROVIDER: "memory", LEASING_MAX_RETRIES: "many" }),
        "LEASING_MAX_RETRIES"
      )
      expectConfigError(
        yield* buildError({ LEASING_PROVIDER: "memory", LEASING_AUTO_RENEW: "perhaps" }),
        "LEASING_AUTO_RENEW"
      )
      const duration = expectConfigError(
        yield* buildError({ LEASING_PROVIDER: "memory", LEASING_DURATION: "soon" }),
        "LEASING_DURATION"
      )
      expect(duration).toContain('got "soon"')
      // Each value alone is fine; together they clash, and the error says which numbers.
      const clash = expectConfigError(
        yield* buildError({
          LEASING_PROVIDER: "memory",
          LEASING_DURATION: "1 second",
          LEASING_RENEW_INTERVAL: "2 seconds"
        }),
        "LEASING_RENEW_INTERVAL"
      )
      expect(clash).toContain("2000 ms")
    })
  )

  it.effect("layerProviderConfig builds only the provider", () =>
    Effect.gen(function* () {
      const error = yield* Effect.scoped(
        Layer.build(Leasing.layerProviderConfig.pipe(Layer.provide(withEnv({ LEASING_PROVIDER: "oracle" }))))
      ).pipe(Effect.flip)
      expectConfigError(error, "LEASING_PROVIDER")
      const context = yield* Effect.scoped(
        Layer.build(Leasing.layerProviderConfig.pipe(Layer.provide(withEnv({ LEASING_PROVIDER: "memory" }))))
      )
      expect(Context.get(context, LeaseProvider).name).toBe("memory")
    })
  )
})
