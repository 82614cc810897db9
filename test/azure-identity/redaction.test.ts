import { readFileSync } from "node:fs"
import { join } from "node:path"
import { inspect } from "node:util"
import { ClientSecretCredential, CredentialUnavailableError } from "@azure/identity"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Config, Effect, Exit, Redacted } from "effect"
import {
  type AzureCredential,
  type CredentialFactoryShape,
  decodeAzureAuthOptions,
  getToken,
  makeCredential,
  makeCredentialConfig,
  SafeTokenCredential
} from "../../src/azure/identity/index.ts"
import { fakeAzure, type Recording, recording, withAzure } from "./fakes.ts"

// Distinctive values, so a hit can only be a leak.
const clientSecret = "client-secret-SENTINEL-7f3a9c"
const certificatePassword = "fixture-certificate-password-4f7c"
const accountKey = "U0VOVElORUwtYWNjb3VudC1rZXktZGF0YQ=="
const sasSignature = "SENTINELsig0123456789abcdef"
const secrets = [clientSecret, certificatePassword, accountKey, sasSignature]

const tenant = "11111111-1111-1111-1111-111111111111"
const client = "22222222-2222-2222-2222-222222222222"
const encryptedPath = join(import.meta.dirname, "fixtures", "client-encrypted.pem")
const pem = readFileSync(encryptedPath, "utf8")

const json = (u: unknown): string => {
  try {
    return JSON.stringify(u) ?? ""
  } catch (error) {
    return `unserializable: ${String(error)}`
  }
}

/** Every way a value commonly ends up as text. */
const render = (u: unknown): string =>
  [
    String(u),
    `${u}`,
    json(u),
    inspect(u, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true }),
    inspect(u, { depth: Number.POSITIVE_INFINITY, showHidden: true, customInspect: false })
  ].join("\n")

const expectNoSecret = (text: string) => {
  for (const secret of secrets) expect(text).not.toContain(secret)
  // The PEM body of the key is a secret too.
  expect(text).not.toContain(pem.slice(pem.indexOf("PRIVATE KEY-----") + 20, pem.indexOf("PRIVATE KEY-----") + 80))
}

const everyMode = [
  { mode: "ClientSecret", tenantId: tenant, clientId: client, clientSecret },
  {
    mode: "ClientCertificate",
    tenantId: tenant,
    clientId: client,
    certificatePath: encryptedPath,
    certificatePassword
  },
  { mode: "ClientCertificate", tenantId: tenant, clientId: client, certificate: pem, certificatePassword },
  {
    mode: "ConnectionString",
    connectionString: `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${accountKey};EndpointSuffix=core.windows.net`
  },
  { mode: "AccountKey", accountName: "acct", accountKey },
  { mode: "Sas", sasToken: `sv=2024-01-01&ss=b&sig=${sasSignature}`, endpoint: "https://acct.blob.core.windows.net" }
] as const

describe("redaction: values", () => {
  it.effect("decoded options print secrets as <redacted>", () =>
    Effect.gen(function* () {
      for (const input of everyMode) {
        const options = yield* decodeAzureAuthOptions(input)
        const text = render(options)
        expectNoSecret(text)
        expect(text).toContain("<redacted>")
      }
    })
  )

  it.effect("every credential form, built by the real @azure/identity factory, prints without secrets", () =>
    Effect.gen(function* () {
      for (const input of everyMode) {
        const credential: AzureCredential = yield* makeCredential(input)
        expectNoSecret(render(credential))
      }
      // And the Auto chain with an environment secret.
      const auto = yield* makeCredential({ developerTools: false }).pipe(
        withAzure({ AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: clientSecret })
      )
      const text = render(auto)
      expectNoSecret(text)
      expect(text).toContain("ClientSecret(environment")
    }).pipe(withAzure({}))
  )

  it("SafeTokenCredential hides what it wraps (the SDK keeps the secret in a plain field)", () => {
    const sdk = new ClientSecretCredential(tenant, client, clientSecret)
    const safe = new SafeTokenCredential(sdk, {
      description: "ClientSecret(test)",
      secrets: [Redacted.make(clientSecret)]
    })
    const text = render(safe)
    expectNoSecret(text)
    expect(text).toContain("AzureTokenCredential(ClientSecret(test))")
    expect(render({ nested: { deeper: [safe] } })).not.toContain(clientSecret)
  })
})

describe("redaction: errors", () => {
  const badInputs: ReadonlyArray<unknown> = [
    { mode: "ClientSecret", clientId: client, clientSecret }, // missing tenant
    { mode: "ClientSecret", tenantId: tenant, clientId: client, clientSecret, certificatePath: encryptedPath },
    { mode: "ClientSecret", tenantId: tenant, clientId: client, clientSecret, authorityHost: clientSecret }, // wrong field
    {
      mode: "ClientCertificate",
      tenantId: tenant,
      clientId: client,
      certificatePath: encryptedPath,
      certificatePassword: `${certificatePassword}x`
    },
    {
      mode: "ClientCertificate",
      tenantId: tenant,
      clientId: client,
      certificate: pem.replace("-----BEGIN CERTIFICATE-----", "")
    },
    { mode: "AccountKey", accountName: "acct", accountKey: `${accountKey}!` },
    { mode: "ConnectionString", connectionString: `AccountName=acct;AccountKey=${accountKey}!` },
    { mode: "Sas", sasToken: `https://acct.blob.core.windows.net/?sig=${sasSignature}` },
    { mode: "Sas", sasToken: `sv=1&signature=${sasSignature}` }
  ]

  it.effect("bad input: the error, its message and its Cause render without the secret", () =>
    Effect.gen(function* () {
      for (const input of badInputs) {
        // makeCredentialConfig takes untyped input, as read from configuration.
        const exit = yield* Effect.exit(makeCredentialConfig(Config.succeed(input)))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expectNoSecret(render(exit.cause))
          expectNoSecret(Cause.pretty(exit.cause))
          const error = Cause.squash(exit.cause)
          expectNoSecret(render(error))
          expect(render(error)).toContain("InvalidLeaseOptionsError")
        }
      }
    }).pipe(withAzure({}, fakeAzure().factory))
  )

  it.effect("an SDK error that quotes the secret is scrubbed, keeping its class and name", () => {
    const leaky: CredentialFactoryShape = {
      create: () => ({
        getToken: async () => {
          throw new CredentialUnavailableError(`AADSTS7000215: Invalid client secret provided: ${clientSecret}`)
        }
      }),
      chain: fakeAzure().factory.chain
    }
    return Effect.gen(function* () {
      const credential = yield* makeCredential({
        mode: "ClientSecret",
        tenantId: tenant,
        clientId: client,
        clientSecret
      })
      if (credential._tag !== "TokenCredential") throw new Error("expected a token credential")
      const thrown = yield* Effect.flip(Effect.tryPromise(() => credential.credential.getToken("scope")))
      const cause = thrown.cause
      if (!(cause instanceof CredentialUnavailableError)) throw new Error("the error class was not kept")
      // The name is what ChainedTokenCredential uses to decide whether to try the next credential.
      expect(cause.name).toBe("CredentialUnavailableError")
      expect(cause.message).toContain("Invalid client secret provided: <redacted>")
      expectNoSecret(render(thrown.cause))
      const failure = yield* Effect.flip(getToken(credential.credential, "scope"))
      expect(failure._tag).toBe("ProviderUnavailableError")
      expectNoSecret(render(failure))
      expectNoSecret(Cause.pretty(Cause.fail(failure)))
    }).pipe(withAzure({}, leaky))
  })

  it.effect("a constructor error that quotes the secret is scrubbed too", () => {
    const throwing: CredentialFactoryShape = {
      create: () => {
        throw new Error(`cannot use secret ${clientSecret}`)
      },
      chain: fakeAzure().factory.chain
    }
    return Effect.gen(function* () {
      const error = yield* Effect.flip(
        makeCredential({ mode: "ClientSecret", tenantId: tenant, clientId: client, clientSecret })
      )
      expect(error.message).toContain("cannot use secret <redacted>")
      expectNoSecret(render(error))
    }).pipe(withAzure({}, throwing))
  })
})

describe("redaction: logs and spans", () => {
  it.effect("log lines and spans of successful builds carry the mode and chain, not the secrets", () => {
    const recorded: Recording = { lines: [], spans: [] }
    return Effect.gen(function* () {
      for (const input of everyMode) yield* recording(makeCredential(input), recorded)
      yield* recording(makeCredential({ developerTools: false }), recorded).pipe(
        withAzure({ AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: clientSecret })
      )
      expect(
        recorded.lines.some((line) => line.includes("Azure credential ready") && line.includes("ClientSecret"))
      ).toBe(true)
      expect(recorded.spans.map((span) => span.name)).toContain("AzureCredentials.make")
      expect(recorded.spans.some((span) => span.attributes.get("azure.auth.mode") === "ClientCertificate")).toBe(true)
      expectNoSecret(recorded.lines.join("\n"))
      for (const span of recorded.spans) {
        expectNoSecret(render([...span.attributes.entries()]))
        expectNoSecret(render(span.status))
      }
    }).pipe(withAzure({}, fakeAzure().factory))
  })

  it.effect("a failure logged with its cause, and its span, do not contain the secret", () => {
    const recorded: Recording = { lines: [], spans: [] }
    return Effect.gen(function* () {
      const failing = makeCredential({
        mode: "ClientCertificate",
        tenantId: tenant,
        clientId: client,
        certificatePath: encryptedPath,
        certificatePassword: `${certificatePassword}-wrong`
      }).pipe(Effect.tapCause((cause) => Effect.logError("could not build the Azure credential", cause)))
      const exit = yield* Effect.exit(recording(failing, recorded))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(recorded.lines.some((line) => line.includes("certificatePassword"))).toBe(true)
      expectNoSecret(recorded.lines.join("\n"))
      for (const span of recorded.spans) expectNoSecret(render(span.status))
    }).pipe(withAzure({}, fakeAzure().factory))
  })
})
