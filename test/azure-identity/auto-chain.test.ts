import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { getToken, makeCredential, type TokenCredentialForm } from "../../src/azure/identity/index.ts"
import { fakeAzure, withAzure } from "./fakes.ts"

const tenant = "11111111-1111-1111-1111-111111111111"
const client = "22222222-2222-2222-2222-222222222222"
const tokenFile = join(mkdtempSync(join(tmpdir(), "azure-identity-")), "token")
writeFileSync(tokenFile, "federated-token")

const tokenCredential = Effect.fnUntraced(function* (options?: Parameters<typeof makeCredential>[0]) {
  const credential = yield* makeCredential(options)
  if (credential._tag !== "TokenCredential") throw new Error(`expected a TokenCredential, got ${credential._tag}`)
  return credential satisfies TokenCredentialForm
})

const tags = (azure: ReturnType<typeof fakeAzure>) => azure.created.map((recipe) => recipe._tag)

describe("Auto: the chain, from the environment", () => {
  it.effect("no variables set: managed identity, then the developer tools", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* tokenCredential()
      expect(tags(azure)).toEqual(["ManagedIdentity", "AzureCli", "AzureDeveloperCli", "VisualStudioCode"])
      // System-assigned: neither a client id nor a resource id.
      expect(azure.created[0]).toEqual({ _tag: "ManagedIdentity", source: "options" })
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("a client secret in the environment comes first", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const credential = yield* tokenCredential({ mode: "auto" })
      expect(tags(azure)).toEqual([
        "ClientSecret",
        "ManagedIdentity",
        "AzureCli",
        "AzureDeveloperCli",
        "VisualStudioCode"
      ])
      expect(azure.created[0]).toMatchObject({ source: "environment", tenantId: tenant, clientId: client })
      expect(credential.description).toContain("ClientSecret(environment")
    }).pipe(
      withAzure({ AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: "env-secret" }, azure.factory)
    )
  })

  it.effect("workload identity comes second, when its token file variable is set", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* tokenCredential()
      expect(tags(azure)).toEqual([
        "ClientSecret",
        "WorkloadIdentity",
        "ManagedIdentity",
        "AzureCli",
        "AzureDeveloperCli",
        "VisualStudioCode"
      ])
      expect(azure.created[1]).toMatchObject({ tenantId: tenant, clientId: client, tokenFilePath: tokenFile })
    }).pipe(
      withAzure(
        {
          AZURE_TENANT_ID: tenant,
          AZURE_CLIENT_ID: client,
          AZURE_CLIENT_SECRET: "env-secret",
          AZURE_FEDERATED_TOKEN_FILE: tokenFile
        },
        azure.factory
      )
    )
  })

  it.effect("workload identity alone (as on AKS): workload identity, then managed identity for AZURE_CLIENT_ID", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* tokenCredential({ developerTools: false })
      expect(tags(azure)).toEqual(["WorkloadIdentity", "ManagedIdentity"])
      // As in the Azure SDKs, AZURE_CLIENT_ID also names a user-assigned managed identity.
      expect(azure.created[1]).toMatchObject({ _tag: "ManagedIdentity", source: "environment", clientId: client })
    }).pipe(
      withAzure(
        { AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_FEDERATED_TOKEN_FILE: tokenFile },
        azure.factory
      )
    )
  })

  it.effect("the managedIdentityClientId option wins over AZURE_CLIENT_ID", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* tokenCredential({ managedIdentityClientId: "mi-client", developerTools: false })
      expect(azure.created).toEqual([{ _tag: "ManagedIdentity", source: "options", clientId: "mi-client" }])
    }).pipe(withAzure({ AZURE_CLIENT_ID: client }, azure.factory))
  })

  it.effect("developerTools: false leaves the developer tools out", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* tokenCredential({ developerTools: false })
      expect(tags(azure)).toEqual(["ManagedIdentity"])
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("the developer tools get the tenantId option", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* tokenCredential({ tenantId: tenant })
      expect(azure.created.slice(1).map((recipe) => ("tenantId" in recipe ? recipe.tenantId : undefined))).toEqual([
        tenant,
        tenant,
        tenant
      ])
    }).pipe(withAzure({}, azure.factory))
  })
})

describe("Auto: half-configured environments are errors, naming the variable", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["a secret without a tenant", { AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: "s" }, "AZURE_TENANT_ID"],
    ["a secret without a client id", { AZURE_TENANT_ID: tenant, AZURE_CLIENT_SECRET: "s" }, "AZURE_CLIENT_ID"],
    [
      "a secret and a certificate",
      {
        AZURE_TENANT_ID: tenant,
        AZURE_CLIENT_ID: client,
        AZURE_CLIENT_SECRET: "s",
        AZURE_CLIENT_CERTIFICATE_PATH: "/c.pem"
      },
      "AZURE_CLIENT_CERTIFICATE_PATH"
    ],
    [
      "a token file without a tenant",
      { AZURE_CLIENT_ID: client, AZURE_FEDERATED_TOKEN_FILE: tokenFile },
      "AZURE_TENANT_ID"
    ],
    [
      "an unreadable certificate file",
      { AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_CERTIFICATE_PATH: "/nonexistent/client.pem" },
      "AZURE_CLIENT_CERTIFICATE_PATH"
    ]
  ]
  for (const [name, env, field] of cases) {
    it.effect(name, () => {
      const azure = fakeAzure()
      return Effect.gen(function* () {
        const error = yield* Effect.flip(makeCredential())
        expect(error._tag).toBe("InvalidLeaseOptionsError")
        expect(error.field).toBe(field)
        expect(azure.created).toEqual([])
      }).pipe(withAzure(env, azure.factory))
    })
  }
})

describe("Auto: getToken walks the chain in order", () => {
  it.effect("each unavailable credential hands over to the next; the first that works answers", () => {
    const azure = fakeAzure((recipe) => (recipe._tag === "AzureDeveloperCli" ? "token" : "unavailable"))
    return Effect.gen(function* () {
      const credential = yield* tokenCredential()
      const token = yield* getToken(credential.credential, "https://storage.azure.com/.default")
      expect(token.token).toBe("token-from-AzureDeveloperCli")
      expect(azure.calls).toEqual(["ClientSecret", "ManagedIdentity", "AzureCli", "AzureDeveloperCli"])
    }).pipe(withAzure({ AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: "x" }, azure.factory))
  })

  it.effect("a rejected credential stops the chain (it is configured, so falling back would hide the problem)", () => {
    const azure = fakeAzure((recipe) => (recipe._tag === "ClientSecret" ? "rejected" : "token"))
    return Effect.gen(function* () {
      const credential = yield* tokenCredential()
      const error = yield* Effect.flip(getToken(credential.credential, "https://storage.azure.com/.default"))
      expect(error._tag).toBe("ProviderUnavailableError")
      expect(error.isRetryable).toBe(false)
      expect(azure.calls).toEqual(["ClientSecret"])
    }).pipe(withAzure({ AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: "x" }, azure.factory))
  })

  it.effect("when every credential is unavailable the error is not retryable and lists what was tried", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const credential = yield* tokenCredential()
      const error = yield* Effect.flip(getToken(credential.credential, "https://storage.azure.com/.default"))
      expect(error.isRetryable).toBe(false)
      expect(error.operation).toBe("connect")
      expect(azure.calls).toEqual(["ManagedIdentity", "AzureCli", "AzureDeveloperCli", "VisualStudioCode"])
      expect(error.message).toContain("ManagedIdentity is not available here")
    }).pipe(withAzure({}, azure.factory))
  })
})
