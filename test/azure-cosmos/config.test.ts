/**
 * `layerConfig` (environment variables through Effect's `ConfigProvider`) and the validation of the options,
 * which fails the layer with `InvalidLeaseOptionsError` naming the field before anything is sent.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Duration, Effect, Layer } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import { LeaseProvider } from "../../src/index.ts"
import { leaseName, options, rawContainer, rawDocument, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const build = <E>(layer: Layer.Layer<LeaseProvider, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, LeaseProvider))

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const field = (error: { readonly _tag: string }) =>
  error._tag === "InvalidLeaseOptionsError" && "field" in error ? error.field : `wrong error: ${error._tag}`

describe("azure-cosmos configuration", () => {
  it.live("layerConfig reads the endpoint, the (redacted) key, names and settings from the environment", () =>
    Effect.gen(function* () {
      const provider = yield* build(
        CosmosLeaseProvider.layerConfig(undefined, { clientOptions: server().clientOptions })
      ).pipe(
        withEnv({
          COSMOS_ENDPOINT: server().endpoint,
          COSMOS_KEY: server().key,
          COSMOS_DATABASE: "configured-db",
          COSMOS_CONTAINER: "configured-leases",
          COSMOS_CREATE_IF_MISSING: "true",
          COSMOS_CLOCK_SKEW_TOLERANCE: "250 millis"
        })
      )
      const name = leaseName("config")
      const outcome = yield* provider.tryAcquire({
        name,
        holderId: "a",
        leaseId: randomUUID(),
        duration: Duration.seconds(5)
      })
      expect(outcome._tag).toBe("Acquired")
      const raw = yield* rawContainer(server(), "configured-db", "configured-leases")
      expect((yield* rawDocument(raw, CosmosLeaseProvider.documentId(name)))?.holderId).toBe("a")
    })
  )

  it.live("a connection string works too", () =>
    Effect.gen(function* () {
      const provider = yield* build(
        CosmosLeaseProvider.layerConfig(undefined, { clientOptions: server().clientOptions })
      ).pipe(
        withEnv({
          COSMOS_CONNECTION_STRING: `AccountEndpoint=${server().endpoint}/;AccountKey=${server().key};`,
          COSMOS_CREATE_IF_MISSING: "true"
        })
      )
      const name = leaseName("connection-string")
      expect((yield* provider.inspect(name)).held).toBe(false)
    })
  )

  it.live("missing or contradictory configuration is a typed error naming what to set, without the secret", () =>
    Effect.gen(function* () {
      const layer = CosmosLeaseProvider.layerConfig(undefined, { clientOptions: server().clientOptions })
      expect(field(yield* Effect.flip(build(layer)).pipe(withEnv({})))).toBe("endpoint")
      const noKey = yield* Effect.flip(build(layer)).pipe(withEnv({ COSMOS_ENDPOINT: server().endpoint }))
      expect(field(noKey)).toBe("key")
      const badFlag = yield* Effect.flip(build(layer)).pipe(
        withEnv({ COSMOS_ENDPOINT: server().endpoint, COSMOS_KEY: server().key, COSMOS_CREATE_IF_MISSING: "maybe" })
      )
      expect(badFlag._tag).toBe("ConfigError")
      const badEndpoint = yield* Effect.flip(build(layer)).pipe(
        withEnv({ COSMOS_ENDPOINT: "not a url", COSMOS_KEY: "c2VjcmV0LWtleS12YWx1ZQ==" })
      )
      expect(field(badEndpoint)).toBe("endpoint")
      expect(String(badEndpoint)).not.toContain("c2VjcmV0LWtleS12YWx1ZQ==")
    })
  )

  it.live("invalid options fail the layer with the offending field", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, Parameters<typeof options>[1]]> = [
        ["databaseName", { databaseName: "a/b" }],
        ["containerName", { containerName: "" }],
        ["containerName", { containerName: "trailing " }],
        ["partitionKeyPath", { partitionKeyPath: "/a/b" }],
        ["partitionKeyPath", { partitionKeyPath: "/fence" }],
        ["clockSkewTolerance", { clockSkewTolerance: -1 }],
        ["cleanupAfter", { cleanupAfter: "59 minutes" }],
        ["cacheSize", { cacheSize: 0 }],
        ["endpoint", { endpoint: "ftp://example.com" }]
      ]
      for (const [expected, overrides] of cases) {
        const error = yield* Effect.flip(build(CosmosLeaseProvider.layer(options(server(), overrides))))
        assert.strictEqual(field(error), expected, JSON.stringify(overrides))
      }
    })
  )
})
