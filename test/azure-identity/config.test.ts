import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer, Redacted } from "effect"
import { type AzureCredential, AzureCredentials, CredentialFactory } from "../../src/azure/identity/index.ts"
import { fakeAzure, withAzure } from "./fakes.ts"

const tenant = "11111111-1111-1111-1111-111111111111"
const client = "22222222-2222-2222-2222-222222222222"
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
const tokenFile = join(mkdtempSync(join(tmpdir(), "azure-identity-")), "token")
writeFileSync(tokenFile, "federated-token")

// Builds the config-driven layer against `env` and returns what it provides.
const fromEnv = (env: Record<string, string>, azure = fakeAzure()) =>
  Effect.gen(function* () {
    return yield* AzureCredentials
  }).pipe(Effect.provide(AzureCredentials.layerConfig()), withAzure(env, azure.factory))

const tokenDescription = (credential: AzureCredential) =>
  credential._tag === "TokenCredential" ? credential.description : credential._tag

describe("layerConfig: the mode is selected from the environment", () => {
  it.effect("AZURE_AUTH_MODE unset: Auto", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const credential = yield* fromEnv({ AZURE_AUTH_DEVELOPER_TOOLS: "false" }, azure)
      expect(credential).toMatchObject({ _tag: "TokenCredential", mode: "Auto" })
      expect(azure.created.map((r) => r._tag)).toEqual(["ManagedIdentity"])
    })
  })

  it.effect("ManagedIdentity, user-assigned from AZURE_CLIENT_ID, case-insensitive mode", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const credential = yield* fromEnv({ AZURE_AUTH_MODE: "managedidentity", AZURE_CLIENT_ID: client }, azure)
      expect(tokenDescription(credential)).toBe(`ManagedIdentity: ManagedIdentity(client ${client})`)
      expect(azure.created).toEqual([{ _tag: "ManagedIdentity", source: "options", clientId: client }])
    })
  })

  it.effect("ManagedIdentity by resource id", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* fromEnv(
        { AZURE_AUTH_MODE: "ManagedIdentity", AZURE_MANAGED_IDENTITY_RESOURCE_ID: "/subscriptions/s/mi" },
        azure
      )
      expect(azure.created).toEqual([{ _tag: "ManagedIdentity", source: "options", resourceId: "/subscriptions/s/mi" }])
    })
  })

  it.effect("WorkloadIdentity from the standard variables", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* fromEnv(
        {
          AZURE_AUTH_MODE: "WorkloadIdentity",
          AZURE_TENANT_ID: tenant,
          AZURE_CLIENT_ID: client,
          AZURE_FEDERATED_TOKEN_FILE: tokenFile
        },
        azure
      )
      expect(azure.created).toEqual([
        {
          _tag: "WorkloadIdentity",
          source: "options",
          tenantId: tenant,
          clientId: client,
          tokenFilePath: tokenFile,
          authorityHost: undefined
        }
      ])
    })
  })

  it.effect("ClientSecret, with the secret Redacted", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* fromEnv(
        {
          AZURE_AUTH_MODE: "client-secret",
          AZURE_TENANT_ID: tenant,
          AZURE_CLIENT_ID: client,
          AZURE_CLIENT_SECRET: "shh"
        },
        azure
      )
      const [recipe] = azure.created
      expect(recipe?._tag).toBe("ClientSecret")
      if (recipe?._tag === "ClientSecret") expect(Redacted.value(recipe.clientSecret)).toBe("shh")
    })
  })

  it.effect("ConnectionString, AccountKey and Sas give the shared-key forms", () =>
    Effect.gen(function* () {
      const connection = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${azuriteKey};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`
      const fromConnection = yield* fromEnv({
        AZURE_AUTH_MODE: "ConnectionString",
        AZURE_STORAGE_CONNECTION_STRING: connection
      })
      expect(fromConnection).toMatchObject({
        _tag: "ConnectionString",
        accountName: "devstoreaccount1",
        blobEndpoint: "http://127.0.0.1:10000/devstoreaccount1"
      })
      const fromKey = yield* fromEnv({
        AZURE_AUTH_MODE: "AccountKey",
        AZURE_STORAGE_ACCOUNT: "devstoreaccount1",
        AZURE_STORAGE_KEY: azuriteKey,
        AZURE_STORAGE_ENDPOINT: "http://127.0.0.1:10000/devstoreaccount1"
      })
      expect(fromKey).toMatchObject({ _tag: "AccountKey", accountName: "devstoreaccount1" })
      const fromSas = yield* fromEnv({ AZURE_AUTH_MODE: "SAS", AZURE_STORAGE_SAS_TOKEN: "?sv=2024-01-01&sig=abc%3D" })
      expect(fromSas._tag).toBe("Sas")
      if (fromSas._tag === "Sas") expect(Redacted.value(fromSas.sasToken)).toBe("sv=2024-01-01&sig=abc%3D")
    })
  )
})

describe("layerConfig: errors name the variable to fix", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["an unknown mode", { AZURE_AUTH_MODE: "Kerberos" }, "AZURE_AUTH_MODE"],
    [
      "a missing tenant",
      { AZURE_AUTH_MODE: "ClientSecret", AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: "s" },
      "AZURE_TENANT_ID"
    ],
    [
      "a secret and a certificate",
      {
        AZURE_AUTH_MODE: "ClientSecret",
        AZURE_TENANT_ID: tenant,
        AZURE_CLIENT_ID: client,
        AZURE_CLIENT_SECRET: "s",
        AZURE_CLIENT_CERTIFICATE_PATH: "/etc/c.pem"
      },
      "AZURE_CLIENT_CERTIFICATE_PATH"
    ],
    [
      "an unreadable certificate file",
      {
        AZURE_AUTH_MODE: "ClientCertificate",
        AZURE_TENANT_ID: tenant,
        AZURE_CLIENT_ID: client,
        AZURE_CLIENT_CERTIFICATE_PATH: "/nonexistent/c.pem"
      },
      "AZURE_CLIENT_CERTIFICATE_PATH"
    ],
    [
      "a workload identity without a token file",
      { AZURE_AUTH_MODE: "WorkloadIdentity", AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client },
      "AZURE_FEDERATED_TOKEN_FILE"
    ],
    ["a bad boolean", { AZURE_AUTH_DEVELOPER_TOOLS: "perhaps" }, "AZURE_AUTH_DEVELOPER_TOOLS"],
    [
      "an account key that is not base64",
      { AZURE_AUTH_MODE: "AccountKey", AZURE_STORAGE_ACCOUNT: "a", AZURE_STORAGE_KEY: "not base64!" },
      "AZURE_STORAGE_KEY"
    ],
    [
      "a connection string without a key",
      { AZURE_AUTH_MODE: "ConnectionString", AZURE_STORAGE_CONNECTION_STRING: "AccountName=a;" },
      "AZURE_STORAGE_CONNECTION_STRING"
    ],
    [
      "a SAS token without a signature",
      { AZURE_AUTH_MODE: "Sas", AZURE_STORAGE_SAS_TOKEN: "sv=2024-01-01" },
      "AZURE_STORAGE_SAS_TOKEN"
    ],
    ["DeveloperTools in production", { AZURE_AUTH_MODE: "DeveloperTools", NODE_ENV: "production" }, "AZURE_AUTH_MODE"]
  ]
  for (const [name, env, field] of cases) {
    it.effect(name, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(fromEnv(env))
        expect(error._tag).toBe("InvalidLeaseOptionsError")
        expect(error.field).toBe(field)
      })
    )
  }
})

describe("layerConfig: a Config of your own", () => {
  it.effect("reads options from any ConfigProvider, here JSON with a nested key", () => {
    const azure = fakeAzure()
    const config = Config.all({
      mode: Config.String("mode"),
      clientId: Config.String("clientId")
    }).pipe(Config.nested("azure"))
    return Effect.gen(function* () {
      const credential = yield* AzureCredentials.pipe(Effect.provide(AzureCredentials.layerConfig(config)))
      expect(tokenDescription(credential)).toBe("ManagedIdentity: ManagedIdentity(client mi-1)")
    }).pipe(
      Effect.provideService(CredentialFactory, azure.factory),
      Effect.provideService(
        ConfigProvider.ConfigProvider,
        ConfigProvider.fromUnknown({ azure: { mode: "MANAGED_IDENTITY", clientId: "mi-1" } })
      )
    )
  })

  it.effect("errors from a custom Config name the option, not a variable", () =>
    Effect.gen(function* () {
      const config = Config.succeed({ mode: "ClientSecret", clientId: "c", clientSecret: "s" })
      const error = yield* Effect.flip(Layer.build(AzureCredentials.layerConfig(config)))
      expect(error.field).toBe("tenantId")
    }).pipe(withAzure({}))
  )

  it.effect("a failing configuration source is a typed error, not a defect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(
          AzureCredentials.layerConfig(Config.fail(new ConfigProvider.SourceError({ message: "vault down" })))
        )
      )
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      expect(error.field).toBe("mode")
    })
  )
})

describe("layer: options given directly", () => {
  it.effect("provides the credential to the providers", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const credential = yield* AzureCredentials
      expect(tokenDescription(credential)).toBe("ManagedIdentity: ManagedIdentity(system-assigned)")
    }).pipe(Effect.provide(AzureCredentials.layer({ mode: "ManagedIdentity" })), withAzure({}, azure.factory))
  })

  it.effect("fails to build with the InvalidLeaseOptionsError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(AzureCredentials.layer({ mode: "ClientSecret", tenantId: "t", clientId: "c", clientSecret: "" }))
      )
      expect(error.field).toBe("clientSecret")
    }).pipe(withAzure({}))
  )
})
