/**
 * TLS: the test server's bundled certificate expired in 2021. The tests trust it through an `https.Agent` given to
 * the one `CosmosClient` that needs it, never by disabling verification for the process; a client without that
 * agent is refused, with a clear non-retryable error.
 */
import { get, globalAgent } from "node:https"
import type { AccessToken, TokenCredential } from "@azure/core-auth"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import type { ProviderUnavailableError } from "../../src/index.ts"
import { leaseName, options, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer({ tls: true })

describe("azure-cosmos over TLS", () => {
  it.live("a client given the trusting agent works against the HTTPS server", () =>
    Effect.gen(function* () {
      expect(server().endpoint.startsWith("https://")).toBe(true)
      const provider = yield* CosmosLeaseProvider.make(options(server()))
      const name = leaseName("tls")
      const outcome = yield* provider.tryAcquire({
        name,
        holderId: "a",
        leaseId: "tls-lease",
        duration: Duration.seconds(5)
      })
      expect(outcome._tag).toBe("Acquired")
      expect((yield* provider.inspect(name)).holderId).toBe("a")
    })
  )

  it.live("an Entra ID credential (any TokenCredential) authenticates the requests", () =>
    Effect.gen(function* () {
      const scopes: Array<string> = []
      const credential: TokenCredential = {
        getToken: async (scope): Promise<AccessToken> => {
          scopes.push(...(Array.isArray(scope) ? scope : [scope]))
          return { token: "test-token", expiresOnTimestamp: Date.now() + 3_600_000 }
        }
      }
      const provider = yield* CosmosLeaseProvider.make({
        endpoint: server().endpoint,
        credential,
        clientOptions: server().clientOptions,
        createIfMissing: true
      })
      const name = leaseName("entra")
      expect(
        (yield* provider.tryAcquire({ name, holderId: "a", leaseId: "entra-lease", duration: Duration.seconds(5) }))
          ._tag
      ).toBe("Acquired")
      // The SDK asked the credential for a Cosmos DB token (the test server does not check it).
      expect(scopes.length).toBeGreaterThan(0)
      expect(scopes.every((scope) => scope.endsWith("/.default"))).toBe(true)
    })
  )

  it.live("a client without it is refused (expired certificate), with a non-retryable error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(
          CosmosLeaseProvider.layer(
            options(server(), { clientOptions: { connectionPolicy: { enableEndpointDiscovery: false } } })
          )
        )
      )
      assert.strictEqual(error._tag, "ProviderUnavailableError")
      const unavailable = error as ProviderUnavailableError
      expect(unavailable.isRetryable).toBe(false)
      expect(unavailable.detail).toContain("CERT_HAS_EXPIRED")
    })
  )

  it.live("the process itself still verifies certificates", () =>
    Effect.gen(function* () {
      expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined()
      expect(globalAgent.options.rejectUnauthorized).not.toBe(false)
      const code = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const req = get(`${server().endpoint}/`, (res) => {
              res.resume()
              resolve(`answered ${res.statusCode}`)
            })
            req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
          })
      )
      expect(code).toBe("CERT_HAS_EXPIRED")
    })
  )
})
