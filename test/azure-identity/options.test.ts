import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import * as fc from "fast-check"
import { AuthModes, AzureAuthOptions, decodeAzureAuthOptions, parseAuthMode } from "../../src/azure/identity/index.ts"
import { InvalidLeaseOptionsError } from "../../src/LeaseError.ts"

const fail = (input: unknown) => Effect.flip(decodeAzureAuthOptions(input))

describe("AzureAuthOptions: modes", () => {
  it("matches mode names whatever their case, spacing, '-' or '_'", () => {
    expect(parseAuthMode("auto")).toBe("Auto")
    expect(parseAuthMode("MANAGEDIDENTITY")).toBe("ManagedIdentity")
    expect(parseAuthMode("managed-identity")).toBe("ManagedIdentity")
    expect(parseAuthMode(" client_secret ")).toBe("ClientSecret")
    expect(parseAuthMode("SAS")).toBe("Sas")
    expect(parseAuthMode("Manage")).toBeUndefined()
  })

  it("accepts the original library's names as aliases", () => {
    expect(parseAuthMode("Development")).toBe("DeveloperTools")
    expect(parseAuthMode("FederatedCredential")).toBe("WorkloadIdentity")
  })

  it("decodes any casing of every mode to its canonical name (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...AuthModes),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        (mode, upper) => {
          const spelled = [...mode].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join("")
          expect(parseAuthMode(spelled)).toBe(mode)
        }
      )
    )
  })

  it.effect("defaults to Auto when no mode is given", () =>
    Effect.gen(function* () {
      expect((yield* decodeAzureAuthOptions(undefined)).mode).toBe("Auto")
      expect((yield* decodeAzureAuthOptions({ developerTools: false })).mode).toBe("Auto")
    })
  )

  it.effect("decodes a lower-case mode to its canonical form", () =>
    Effect.gen(function* () {
      const options = yield* decodeAzureAuthOptions({
        mode: "managedidentity",
        clientId: "00000000-0000-0000-0000-0000000000aa"
      })
      expect(options).toEqual({ mode: "ManagedIdentity", clientId: "00000000-0000-0000-0000-0000000000aa" })
    })
  )

  it.effect("an unknown mode is an InvalidLeaseOptionsError on field mode that lists the modes", () =>
    Effect.gen(function* () {
      const error = yield* fail({ mode: "DefaultAzureCredential" })
      expect(error).toBeInstanceOf(InvalidLeaseOptionsError)
      expect(error.field).toBe("mode")
      expect(error.provider).toBe("azure-identity")
      expect(error.message).toContain('unknown mode "DefaultAzureCredential"')
      expect(error.message).toContain("ManagedIdentity, WorkloadIdentity")
    })
  )

  it.effect("a mode that is not a string is reported on field mode", () =>
    Effect.gen(function* () {
      expect((yield* fail({ mode: 3 })).field).toBe("mode")
      expect((yield* fail("Auto")).field).toBe("mode")
    })
  )
})

describe("AzureAuthOptions: fields", () => {
  const secretOptions = {
    mode: "ClientSecret",
    tenantId: "contoso.onmicrosoft.com",
    clientId: "app",
    clientSecret: "s3cr3t-value"
  }

  it.effect("a secret given as a string is Redacted once decoded", () =>
    Effect.gen(function* () {
      const options = yield* decodeAzureAuthOptions(secretOptions)
      if (options.mode !== "ClientSecret") throw new Error("wrong mode")
      expect(Redacted.isRedacted(options.clientSecret)).toBe(true)
      expect(Redacted.value(options.clientSecret)).toBe("s3cr3t-value")
    })
  )

  it.effect("a secret given as Redacted stays Redacted", () =>
    Effect.gen(function* () {
      const options = yield* decodeAzureAuthOptions({ ...secretOptions, clientSecret: Redacted.make("from-vault") })
      if (options.mode !== "ClientSecret") throw new Error("wrong mode")
      expect(Redacted.value(options.clientSecret)).toBe("from-vault")
    })
  )

  it.effect("a missing tenant names tenantId", () =>
    Effect.gen(function* () {
      const { tenantId: _, ...withoutTenant } = secretOptions
      const error = yield* fail(withoutTenant)
      expect(error.field).toBe("tenantId")
      expect(error.detail).toContain("is required")
    })
  )

  it.effect("a malformed tenant names tenantId", () =>
    Effect.gen(function* () {
      expect((yield* fail({ ...secretOptions, tenantId: "not a tenant/../" })).field).toBe("tenantId")
    })
  )

  it.effect("an empty secret names the secret field", () =>
    Effect.gen(function* () {
      const error = yield* fail({ ...secretOptions, clientSecret: "" })
      expect(error.field).toBe("clientSecret")
      expect(error.detail).toContain("non-empty")
    })
  )

  it.effect("both a secret and a certificate is an error, in either mode", () =>
    Effect.gen(function* () {
      const inSecretMode = yield* fail({ ...secretOptions, certificatePath: "/etc/cert.pem" })
      expect(inSecretMode.field).toBe("certificatePath")
      expect(inSecretMode.detail).toContain("both")
      const inCertificateMode = yield* fail({
        ...secretOptions,
        mode: "ClientCertificate",
        certificatePath: "/etc/cert.pem"
      })
      expect(inCertificateMode.field).toBe("clientSecret")
      expect(inCertificateMode.detail).toContain("both")
    })
  )

  it.effect("a certificate needs exactly one of certificatePath and certificate", () =>
    Effect.gen(function* () {
      const base = { mode: "ClientCertificate", tenantId: "t", clientId: "c" }
      expect((yield* fail(base)).field).toBe("certificatePath")
      expect((yield* fail({ ...base, certificatePath: "/a.pem", certificate: "PEM" })).field).toBe("certificate")
    })
  )

  it.effect("a managed identity is user-assigned by client id or by resource id, not both", () =>
    Effect.gen(function* () {
      const error = yield* fail({ mode: "ManagedIdentity", clientId: "a", resourceId: "/subscriptions/x" })
      expect(error.field).toBe("resourceId")
      const auto = yield* fail({ managedIdentityClientId: "a", managedIdentityResourceId: "/subscriptions/x" })
      expect(auto.field).toBe("managedIdentityResourceId")
    })
  )

  it.effect("an authority host must be https and a storage endpoint http(s)", () =>
    Effect.gen(function* () {
      expect((yield* fail({ mode: "WorkloadIdentity", authorityHost: "http://login.example" })).field).toBe(
        "authorityHost"
      )
      expect((yield* fail({ mode: "Sas", sasToken: "sv=1&sig=x", endpoint: "ftp://x" })).field).toBe("endpoint")
    })
  )

  it.effect("a wrongly typed boolean names its field", () =>
    Effect.gen(function* () {
      expect((yield* fail({ mode: "Auto", developerTools: "maybe" })).field).toBe("developerTools")
    })
  )

  it.effect("fieldLabel renames the field in the error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        decodeAzureAuthOptions({ mode: "ClientSecret", clientId: "c", clientSecret: "x" }, (f) => `credential.${f}`)
      )
      expect(error.field).toBe("credential.tenantId")
    })
  )

  it("the exported union schema decodes every mode directly too", () => {
    const decoded = Schema.decodeUnknownSync(AzureAuthOptions)({
      mode: "account-key",
      accountName: "a",
      accountKey: "a2V5"
    })
    expect(decoded.mode).toBe("AccountKey")
    expect(Schema.decodeUnknownSync(AzureAuthOptions)({}).mode).toBe("Auto")
    expect(() => Schema.decodeUnknownSync(AzureAuthOptions)({ mode: "nope" })).toThrow()
  })
})
