/**
 * The shared-key forms end to end against Azurite with the real Blob SDK: what `azure-identity` produces must be
 * accepted by the service (and a wrong key must not).
 */
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  BlobServiceClient,
  RestError,
  StorageSharedKeyCredential
} from "@azure/storage-blob"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import {
  type AzureCredential,
  AzureCredentials,
  makeCredential,
  toConnectionString
} from "../../src/azure/identity/index.ts"
import { type Azurite, azurite, startAzurite } from "../support/azurite.ts"
import { withAzure } from "./fakes.ts"

let server: Azurite
beforeAll(async () => {
  server = await startAzurite("in-process")
})
afterAll(async () => {
  await server?.stop()
})

let containers = 0
const containerName = (label: string) => `identity-${label}-${++containers}`

/** Creates a container, uploads a blob, downloads it again: the service accepted the credential. */
const roundTrip = (service: BlobServiceClient, label: string) =>
  Effect.promise(async () => {
    const container = service.getContainerClient(containerName(label))
    await container.create()
    const blob = container.getBlockBlobClient("lease-probe")
    const body = `written with ${label}`
    await blob.upload(body, Buffer.byteLength(body))
    return (await blob.downloadToBuffer()).toString("utf8")
  })

const expectForm = <T extends AzureCredential["_tag"]>(
  credential: AzureCredential,
  tag: T
): Extract<AzureCredential, { _tag: T }> => {
  const hasTag = (c: AzureCredential): c is Extract<AzureCredential, { _tag: T }> => c._tag === tag
  if (!hasTag(credential)) throw new Error(`expected ${tag}, got ${credential._tag}`)
  return credential
}

describe("Azurite: shared-key credentials work end to end with the Blob SDK", () => {
  it.effect("AccountKey -> StorageSharedKeyCredential", () =>
    Effect.gen(function* () {
      const credential = expectForm(
        yield* makeCredential({
          mode: "AccountKey",
          accountName: server.accountName,
          accountKey: server.accountKey,
          endpoint: server.blobEndpoint
        }),
        "AccountKey"
      )
      const sharedKey = new StorageSharedKeyCredential(credential.accountName, Redacted.value(credential.accountKey))
      const service = new BlobServiceClient(credential.endpoint ?? "", sharedKey)
      expect(yield* roundTrip(service, "account-key")).toBe("written with account-key")
    }).pipe(withAzure({}))
  )

  it.effect("ConnectionString -> BlobServiceClient.fromConnectionString", () =>
    Effect.gen(function* () {
      const credential = expectForm(
        yield* makeCredential({ mode: "connection-string", connectionString: server.connectionString }),
        "ConnectionString"
      )
      expect(credential.blobEndpoint).toBe(server.blobEndpoint)
      const service = BlobServiceClient.fromConnectionString(Redacted.value(credential.connectionString))
      expect(yield* roundTrip(service, "connection-string")).toBe("written with connection-string")
    }).pipe(withAzure({}))
  )

  it.effect("the connection string this module builds from an account key", () =>
    Effect.gen(function* () {
      const credential = yield* makeCredential({
        mode: "AccountKey",
        accountName: server.accountName,
        accountKey: server.accountKey,
        endpoint: server.blobEndpoint
      })
      const connectionString = yield* toConnectionString(credential)
      const service = BlobServiceClient.fromConnectionString(Redacted.value(connectionString))
      expect(yield* roundTrip(service, "built-connection-string")).toBe("written with built-connection-string")
    }).pipe(withAzure({}))
  )

  it.effect("Sas -> a service URL with the token", () =>
    Effect.gen(function* () {
      // An account SAS signed with the shared key, as an operator would hand one out.
      const signer = new BlobServiceClient(
        server.blobEndpoint,
        new StorageSharedKeyCredential(server.accountName, server.accountKey)
      )
      const sasUrl = signer.generateAccountSasUrl(
        new Date(Date.now() + 3_600_000),
        AccountSASPermissions.parse("rwdlac"),
        AccountSASResourceTypes.parse("sco").toString()
      )
      const sas = new URL(sasUrl).search.slice(1)
      const credential = expectForm(
        yield* makeCredential({ mode: "Sas", sasToken: `?${sas}`, endpoint: server.blobEndpoint }),
        "Sas"
      )
      const service = new BlobServiceClient(`${credential.endpoint}?${Redacted.value(credential.sasToken)}`)
      expect(yield* roundTrip(service, "sas")).toBe("written with sas")
    }).pipe(withAzure({}))
  )

  it.effect("the layer read from AZURE_STORAGE_CONNECTION_STRING", () =>
    Effect.gen(function* () {
      const credential = expectForm(yield* AzureCredentials, "ConnectionString")
      const service = BlobServiceClient.fromConnectionString(Redacted.value(credential.connectionString))
      expect(yield* roundTrip(service, "layer-config")).toBe("written with layer-config")
    }).pipe(
      Effect.provide(AzureCredentials.layerConfig()),
      withAzure({ AZURE_AUTH_MODE: "ConnectionString", AZURE_STORAGE_CONNECTION_STRING: server.connectionString })
    )
  )

  it.effect("a wrong account key is refused by the service (so the right one is what made the others work)", () =>
    Effect.gen(function* () {
      const credential = expectForm(
        yield* makeCredential({
          mode: "AccountKey",
          accountName: server.accountName,
          accountKey: Buffer.from("not the Azurite key").toString("base64"),
          endpoint: server.blobEndpoint
        }),
        "AccountKey"
      )
      const service = new BlobServiceClient(
        credential.endpoint ?? "",
        new StorageSharedKeyCredential(credential.accountName, Redacted.value(credential.accountKey))
      )
      const error = yield* Effect.flip(
        Effect.tryPromise(() => service.getContainerClient(containerName("wrong-key")).create())
      )
      expect(error.cause).toBeInstanceOf(RestError)
      expect(error.cause instanceof RestError && error.cause.statusCode).toBe(403)
    }).pipe(withAzure({}))
  )
})

describe("Azurite: the test helper's CLI mode", () => {
  it.effect("starts azurite-blob on a free port, serves requests, and stops", () =>
    Effect.gen(function* () {
      const cli = yield* azurite("cli")
      expect(cli.blobEndpoint).not.toBe(server.blobEndpoint)
      const credential = expectForm(
        yield* makeCredential({ mode: "ConnectionString", connectionString: cli.connectionString }),
        "ConnectionString"
      )
      const service = BlobServiceClient.fromConnectionString(Redacted.value(credential.connectionString))
      expect(yield* roundTrip(service, "cli")).toBe("written with cli")
    }).pipe(withAzure({}))
  )
})
