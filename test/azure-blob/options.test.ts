/**
 * The ways to build the Blob provider (connection string, Azure credential forms, a `ContainerClient`,
 * `layerConfig` from the environment) and the options it rejects before sending anything.
 */
import { randomUUID } from "node:crypto"
import type { TokenCredential } from "@azure/core-auth"
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential
} from "@azure/storage-blob"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Redacted } from "effect"
import { BlobLeaseProvider } from "../../src/azure/blob/index.ts"
import { AzureCredentials } from "../../src/azure/identity/index.ts"
import { InvalidLeaseOptionsError } from "../../src/LeaseError.ts"
import { LeaseProvider, type LeaseProviderShape } from "../../src/LeaseProvider.ts"
import { type Azurite, startAzurite } from "../support/azurite.ts"
import { freshContainer, leaseName, proxyTo, request, sdkContainer } from "./helpers.ts"

let server: Azurite | undefined

beforeAll(async () => {
  server = await startAzurite()
})

afterAll(async () => {
  await server?.stop()
})

const azurite = (): Azurite => {
  if (server === undefined) throw new Error("Azurite is not running")
  return server
}

/** Takes and releases a lease through `p`: proof that the provider reaches the store. */
const roundTrip = (p: LeaseProviderShape) =>
  Effect.gen(function* () {
    const name = leaseName("form")
    const r = request(name, "holder")
    const result = yield* p.tryAcquire(r)
    expect(result._tag).toBe("Acquired")
    expect(yield* p.release({ name, leaseId: r.leaseId })).toBe(true)
  })

/** The field of the `InvalidLeaseOptionsError` that `effect` fails with. */
const invalidField = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.matchEffect(effect, {
    onSuccess: () => Effect.succeed("(no error)"),
    onFailure: (error) =>
      error instanceof InvalidLeaseOptionsError ? Effect.succeed(error.field) : Effect.succeed(`(${String(error)})`)
  })

const fromLayer = <E>(layer: Layer.Layer<LeaseProvider, E>) => LeaseProvider.pipe(Effect.provide(layer))

const env = (variables: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env: variables }))

const fakeToken = (): TokenCredential & { calls: number } => {
  const credential = {
    calls: 0,
    getToken: async () => {
      credential.calls++
      const error = new Error("no managed identity endpoint here")
      error.name = "CredentialUnavailableError"
      throw error
    }
  }
  return credential
}

describe.concurrent("azure-blob construction", () => {
  it.live("connection string", () =>
    Effect.gen(function* () {
      const p = yield* BlobLeaseProvider.make({
        containerName: freshContainer(),
        connectionString: Redacted.make(azurite().connectionString),
        createContainerIfNotExists: true
      })
      expect(p.capabilities).toMatchObject({ clock: "store", metadata: true, waitForRelease: false, handoff: true })
      expect(Duration.toSeconds(p.capabilities.minDuration ?? Duration.zero)).toBe(15)
      expect(Duration.toSeconds(p.capabilities.maxDuration ?? Duration.zero)).toBe(60)
      yield* roundTrip(p)
    })
  )

  it.live("account key and SAS forms of the credentials module", () =>
    Effect.gen(function* () {
      const { accountName, accountKey, blobEndpoint } = azurite()
      const accountKeyForm = yield* BlobLeaseProvider.make({
        containerName: freshContainer(),
        createContainerIfNotExists: true,
        credential: { _tag: "AccountKey", accountName, accountKey: Redacted.make(accountKey), endpoint: blobEndpoint }
      })
      yield* roundTrip(accountKeyForm)

      const sas = generateAccountSASQueryParameters(
        {
          permissions: AccountSASPermissions.parse("rwdlac"),
          resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
          services: AccountSASServices.parse("b").toString(),
          expiresOn: new Date(Date.now() + 3_600_000)
        },
        new StorageSharedKeyCredential(accountName, accountKey)
      ).toString()
      const sasForm = yield* BlobLeaseProvider.make({
        containerName: freshContainer(),
        createContainerIfNotExists: true,
        accountUrl: blobEndpoint,
        credential: { _tag: "Sas", sasToken: Redacted.make(sas) }
      })
      yield* roundTrip(sasForm)
    })
  )

  it.live("a ContainerClient of your own, used as given", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const containerName = freshContainer()
      const client = sdkContainer(proxy.connectionString, containerName)
      yield* Effect.promise(() => client.create())
      proxy.reset()
      const p = yield* BlobLeaseProvider.make({ containerClient: client })
      yield* roundTrip(p)
      expect(proxy.operations()).not.toContain("CreateContainer")
    })
  )

  it.live("a token credential: needs an account URL, and a credential failure is not retryable", () =>
    Effect.gen(function* () {
      const credential = fakeToken()
      expect(yield* invalidField(BlobLeaseProvider.make({ containerName: "leases", credential }))).toBe("accountUrl")
      const p = yield* BlobLeaseProvider.make({
        containerName: "leases",
        // https, so the SDK asks the credential for a token; nothing listens there.
        accountUrl: "https://127.0.0.1:9/devstoreaccount1",
        credential
      })
      const error = yield* Effect.flip(p.inspect(leaseName("token")))
      expect(error._tag).toBe("ProviderUnavailableError")
      expect(error.isRetryable).toBe(false)
      expect(credential.calls).toBeGreaterThan(0)
    })
  )

  it.live("layerConfig: from the environment with a connection string", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* fromLayer(
        BlobLeaseProvider.layerConfig().pipe(
          Layer.provide(
            env({
              AZURE_STORAGE_CONNECTION_STRING: azurite().connectionString,
              AZURE_BLOB_LEASE_CONTAINER: containerName,
              AZURE_BLOB_LEASE_CREATE_CONTAINER: "true",
              AZURE_BLOB_LEASE_PREFIX: "cfg-"
            })
          )
        )
      )
      const name = leaseName("config")
      const result = yield* p.tryAcquire(request(name, "holder"))
      expect(result._tag).toBe("Acquired")
      const properties = yield* Effect.promise(() =>
        sdkContainer(azurite().connectionString, containerName)
          .getBlobClient(BlobLeaseProvider.blobName("cfg-", name))
          .getProperties()
      )
      expect(properties.leaseState).toBe("leased")
    })
  )

  it.live(
    "layerConfig: the AzureCredentials service, or the AZURE_* variables, when there is no connection string",
    () =>
      Effect.gen(function* () {
        const { accountName, accountKey, blobEndpoint } = azurite()
        const fromService = yield* fromLayer(
          BlobLeaseProvider.layerConfig().pipe(
            Layer.provide(
              AzureCredentials.layerCredential({
                _tag: "AccountKey",
                accountName,
                accountKey: Redacted.make(accountKey)
              })
            ),
            Layer.provide(
              env({
                AZURE_STORAGE_ENDPOINT: blobEndpoint,
                AZURE_BLOB_LEASE_CONTAINER: freshContainer(),
                AZURE_BLOB_LEASE_CREATE_CONTAINER: "true"
              })
            )
          )
        )
        yield* roundTrip(fromService)

        const fromVariables = yield* fromLayer(
          BlobLeaseProvider.layerConfig().pipe(
            Layer.provide(
              env({
                AZURE_AUTH_MODE: "AccountKey",
                AZURE_STORAGE_ACCOUNT: accountName,
                AZURE_STORAGE_KEY: accountKey,
                AZURE_STORAGE_ENDPOINT: blobEndpoint,
                AZURE_BLOB_LEASE_CONTAINER: freshContainer(),
                AZURE_BLOB_LEASE_CREATE_CONTAINER: "true"
              })
            )
          )
        )
        yield* roundTrip(fromVariables)
      })
  )

  it.effect("invalid options are rejected when the layer is built, naming the field", () =>
    Effect.gen(function* () {
      const connectionString = Redacted.make(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
      )
      const base = { containerName: "leases", connectionString }
      expect(yield* invalidField(BlobLeaseProvider.make({ ...base, containerName: "Bad_Name" }))).toBe("containerName")
      expect(yield* invalidField(BlobLeaseProvider.make({ ...base, containerName: "ab" }))).toBe("containerName")
      for (const prefix of ["/leases", "a//b/", "./x", "back\\slash", "tab\t", "x".repeat(513)]) {
        expect(yield* invalidField(BlobLeaseProvider.make({ ...base, prefix }))).toBe("prefix")
      }
      const huge = { big: "x".repeat(5000) }
      expect(yield* invalidField(BlobLeaseProvider.make({ ...base, metadata: huge }))).toBe("metadata")
      const secret = `not a connection string ${randomUUID()}`
      const bad = yield* Effect.flip(BlobLeaseProvider.make({ ...base, connectionString: Redacted.make(secret) }))
      expect(bad.field).toBe("connectionString")
      expect(bad.message).not.toContain(secret)
      expect(
        yield* invalidField(
          BlobLeaseProvider.make({
            containerName: "leases",
            credential: { _tag: "Sas", sasToken: Redacted.make("sv=x&sig=y") }
          })
        )
      ).toBe("accountUrl")
      expect(
        yield* invalidField(
          BlobLeaseProvider.make({ containerName: "leases", accountUrl: "ftp://example", credential: fakeToken() })
        )
      ).toBe("accountUrl")
      const fromConfig = yield* invalidField(
        fromLayer(
          BlobLeaseProvider.layerConfig().pipe(
            Layer.provide(
              env({
                AZURE_STORAGE_CONNECTION_STRING: Redacted.value(connectionString),
                AZURE_BLOB_LEASE_CONTAINER: "X"
              })
            )
          )
        )
      )
      expect(fromConfig).toBe("containerName")
      // Valid prefixes: empty, with virtual directories.
      for (const prefix of ["", "leases/", "a/b/c-"]) {
        expect(yield* invalidField(BlobLeaseProvider.make({ ...base, prefix }))).toBe("(no error)")
      }
    })
  )

  it.live("lease metadata too large for a blob is refused before taking the lease", () =>
    Effect.gen(function* () {
      const p = yield* BlobLeaseProvider.make({
        containerName: freshContainer(),
        connectionString: Redacted.make(azurite().connectionString),
        createContainerIfNotExists: true
      })
      const name = leaseName("big")
      const error = yield* Effect.flip(p.tryAcquire(request(name, "a", { metadata: { big: "x".repeat(9000) } })))
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      expect((yield* p.inspect(name)).held).toBe(false)
    })
  )
})
