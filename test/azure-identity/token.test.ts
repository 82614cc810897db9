import type { TokenCredential } from "@azure/core-auth"
import { AuthenticationError } from "@azure/identity"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Redacted } from "effect"
import { TestClock } from "effect/testing"
import {
  AzureCredentials,
  fromTokenCredential,
  getToken,
  requireTokenCredential,
  toConnectionString
} from "../../src/azure/identity/index.ts"
import { fakeCredential } from "./fakes.ts"

const key = "a2V5LWZvci10ZXN0cw=="

describe("getToken", () => {
  it.effect("returns the token of a working credential", () =>
    Effect.gen(function* () {
      const token = yield* getToken(fakeCredential("fake", "token"), ["https://redis.azure.com/.default"])
      expect(token.token).toBe("token-from-fake")
    })
  )

  it.effect("an unavailable credential is a non-retryable ProviderUnavailableError on connect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(getToken(fakeCredential("fake", "unavailable"), "scope", { provider: "redis" }))
      expect(error).toMatchObject({
        _tag: "ProviderUnavailableError",
        provider: "redis",
        operation: "connect",
        isRetryable: false
      })
      expect(error.message).toContain("fake is not available here")
    })
  )

  it.effect("throttling and server errors are retryable, a rejected credential is not", () =>
    Effect.gen(function* () {
      const failing = (status: number): TokenCredential => ({
        getToken: async () => {
          throw new AuthenticationError(status, { error: "x", error_description: `status ${status}` })
        }
      })
      expect((yield* Effect.flip(getToken(failing(503), "s"))).isRetryable).toBe(true)
      expect((yield* Effect.flip(getToken(failing(429), "s"))).isRetryable).toBe(true)
      expect((yield* Effect.flip(getToken(failing(401), "s"))).isRetryable).toBe(false)
      expect((yield* Effect.flip(getToken(fakeCredential("f", "rejected"), "s"))).isRetryable).toBe(false)
    })
  )

  it.effect("a network failure is retryable", () =>
    Effect.gen(function* () {
      const offline: TokenCredential = {
        getToken: async () => {
          throw new TypeError("fetch failed")
        }
      }
      expect((yield* Effect.flip(getToken(offline, "s"))).isRetryable).toBe(true)
    })
  )

  it.effect("a credential that returns null is an error", () =>
    Effect.gen(function* () {
      const empty: TokenCredential = { getToken: async () => null }
      const error = yield* Effect.flip(getToken(empty, "s"))
      expect(error.detail).toBe("the credential returned no token")
    })
  )

  it.effect("interrupting the Effect aborts the token request", () =>
    Effect.gen(function* () {
      let aborted = false
      const hanging: TokenCredential = {
        getToken: (_scopes, options) =>
          new Promise((_, reject) => {
            options?.abortSignal?.addEventListener("abort", () => {
              aborted = true
              reject(new Error("aborted"))
            })
          })
      }
      const fiber = yield* Effect.forkChild(getToken(hanging, "s"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      expect(aborted).toBe(true)
    })
  )
})

describe("credential forms", () => {
  it.effect("a TokenCredential of your own (here a fake) provided as the service", () =>
    Effect.gen(function* () {
      const credentials = yield* AzureCredentials
      const credential = yield* requireTokenCredential(credentials, "Redis")
      expect((yield* getToken(credential, "s")).token).toBe("token-from-mine")
      expect(String(credential)).toBe("AzureTokenCredential(custom)")
    }).pipe(Effect.provide(AzureCredentials.layerCredential(fakeCredential("mine", "token"))))
  )

  it.effect("requireTokenCredential refuses the shared-key forms, naming the service", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        requireTokenCredential({ _tag: "AccountKey", accountName: "a", accountKey: Redacted.make(key) }, "Redis")
      )
      expect(error.field).toBe("mode")
      expect(error.message).toContain("Redis needs a token credential")
    })
  )

  it("fromTokenCredential keeps a description given to it", () => {
    const form = fromTokenCredential(fakeCredential("x", "token"), { description: "from the app" })
    expect(form).toMatchObject({ _tag: "TokenCredential", mode: "Custom", description: "from the app" })
    expect(`${form.credential}`).toBe("AzureTokenCredential(from the app)")
  })

  it.effect("toConnectionString: from an account key with an endpoint, or the public cloud without one", () =>
    Effect.gen(function* () {
      const local = yield* toConnectionString({
        _tag: "AccountKey",
        accountName: "devstoreaccount1",
        accountKey: Redacted.make(key),
        endpoint: "http://127.0.0.1:10000/devstoreaccount1"
      })
      expect(Redacted.value(local)).toBe(
        `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`
      )
      const cloud = yield* toConnectionString({
        _tag: "AccountKey",
        accountName: "acct",
        accountKey: Redacted.make(key)
      })
      expect(Redacted.value(cloud)).toContain("DefaultEndpointsProtocol=https;AccountName=acct;")
      expect(Redacted.value(cloud)).toContain("EndpointSuffix=core.windows.net")
      expect(String(cloud)).toBe("<redacted>")
    })
  )

  it.effect("toConnectionString: a SAS needs an endpoint; a token credential has none", () =>
    Effect.gen(function* () {
      const sas = yield* toConnectionString({
        _tag: "Sas",
        sasToken: Redacted.make("sv=1&sig=x"),
        endpoint: "https://a.blob.core.windows.net"
      })
      expect(Redacted.value(sas)).toBe("BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=1&sig=x")
      expect((yield* Effect.flip(toConnectionString({ _tag: "Sas", sasToken: Redacted.make("sig=x") }))).field).toBe(
        "endpoint"
      )
      expect((yield* Effect.flip(toConnectionString(fromTokenCredential(fakeCredential("x", "token"))))).field).toBe(
        "mode"
      )
    })
  )
})
