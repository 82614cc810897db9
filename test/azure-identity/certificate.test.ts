import { generateKeyPairSync } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import {
  azureIdentityFactory,
  type CredentialRecipe,
  certificateConfiguration,
  makeCredential
} from "../../src/azure/identity/index.ts"
import { fakeAzure, withAzure } from "./fakes.ts"

const fixtures = join(import.meta.dirname, "fixtures")
const encryptedPath = join(fixtures, "client-encrypted.pem")
const plainPath = join(fixtures, "client-plain.pem")
const password = "fixture-certificate-password-4f7c"
const tenant = "11111111-1111-1111-1111-111111111111"
const client = "22222222-2222-2222-2222-222222222222"
const base = { mode: "ClientCertificate", tenantId: tenant, clientId: client } as const

const scratch = mkdtempSync(join(tmpdir(), "azure-identity-cert-"))
const write = (name: string, content: string) => {
  const path = join(scratch, name)
  writeFileSync(path, content)
  return path
}
const certificateBlock = (readFileSync(plainPath, "utf8").match(
  /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/
) ?? [""])[0]
const privateKeyOnly = readFileSync(plainPath, "utf8").replace(certificateBlock, "")

const onlyRecipe = (created: ReadonlyArray<CredentialRecipe>) => {
  const [recipe] = created
  if (recipe?._tag !== "ClientCertificate") throw new Error("expected one certificate recipe")
  return recipe
}

describe("ClientCertificate: the password is used", () => {
  it.effect("an encrypted key with its password: the recipe carries the password to @azure/identity", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential({ ...base, certificatePath: encryptedPath, certificatePassword: password })
      const recipe = onlyRecipe(azure.created)
      expect(recipe.certificate).toEqual({ _tag: "Path", path: encryptedPath })
      // What the real factory hands to ClientCertificateCredential (the original passed an empty object).
      expect(certificateConfiguration(recipe)).toEqual({
        certificatePath: encryptedPath,
        certificatePassword: password
      })
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("a wrong password is refused at startup, naming certificatePassword", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        makeCredential({ ...base, certificatePath: encryptedPath, certificatePassword: "not-the-password" })
      )
      expect(error.field).toBe("certificatePassword")
      expect(error.detail).toContain("does not decrypt")
    }).pipe(withAzure({}, fakeAzure().factory))
  )

  it.effect("an encrypted key without a password is refused, naming certificatePassword", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential({ ...base, certificatePath: encryptedPath }))
      expect(error.field).toBe("certificatePassword")
      expect(error.detail).toContain("encrypted")
    }).pipe(withAzure({}, fakeAzure().factory))
  )

  it.effect("the real ClientCertificateCredential decrypts with the password it is given", () =>
    Effect.gen(function* () {
      // Straight to the real factory (our own check would refuse this password first). The SDK decrypts the key
      // before any network call, so a wrong password fails at once, and only because the password reached it.
      const credential = azureIdentityFactory.create({
        _tag: "ClientCertificate",
        source: "options",
        tenantId: tenant,
        clientId: client,
        certificate: { _tag: "Path", path: encryptedPath },
        certificatePassword: Redacted.make("wrong-password-1234"),
        sendCertificateChain: false
      })
      const error = yield* Effect.flip(
        Effect.tryPromise(() => credential.getToken("https://storage.azure.com/.default"))
      )
      expect(String(error.cause)).toMatch(/decrypt/i)
      expect(String(error.cause)).not.toContain("wrong-password-1234")
    })
  )

  it.effect("the password also comes from AZURE_CLIENT_CERTIFICATE_PASSWORD in Auto", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential({ developerTools: false })
      const recipe = onlyRecipe(azure.created)
      expect(recipe.source).toBe("environment")
      expect(certificateConfiguration(recipe)).toEqual({
        certificatePath: encryptedPath,
        certificatePassword: password
      })
    }).pipe(
      withAzure(
        {
          AZURE_TENANT_ID: tenant,
          AZURE_CLIENT_ID: client,
          AZURE_CLIENT_CERTIFICATE_PATH: encryptedPath,
          AZURE_CLIENT_CERTIFICATE_PASSWORD: password
        },
        azure.factory
      )
    )
  })

  it.effect("...and a wrong one there names the variable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential())
      expect(error.field).toBe("AZURE_CLIENT_CERTIFICATE_PASSWORD")
    }).pipe(
      withAzure(
        {
          AZURE_TENANT_ID: tenant,
          AZURE_CLIENT_ID: client,
          AZURE_CLIENT_CERTIFICATE_PATH: encryptedPath,
          AZURE_CLIENT_CERTIFICATE_PASSWORD: "nope"
        },
        fakeAzure().factory
      )
    )
  )
})

describe("ClientCertificate: the certificate itself", () => {
  it.effect("an unencrypted key needs no password", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential({ ...base, certificatePath: plainPath })
      expect(certificateConfiguration(onlyRecipe(azure.created))).toEqual({ certificatePath: plainPath })
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("PEM content instead of a path", () => {
    const azure = fakeAzure()
    const pem = readFileSync(encryptedPath, "utf8")
    return Effect.gen(function* () {
      yield* makeCredential({ ...base, certificate: Redacted.make(pem), certificatePassword: password })
      expect(certificateConfiguration(onlyRecipe(azure.created))).toEqual({
        certificate: pem,
        certificatePassword: password
      })
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("an unreadable file is a typed error naming certificatePath and the path", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential({ ...base, certificatePath: "/nonexistent/client.pem" }))
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      expect(error.field).toBe("certificatePath")
      expect(error.detail).toContain('"/nonexistent/client.pem"')
      expect(error.detail).toContain("ENOENT")
    }).pipe(withAzure({}, fakeAzure().factory))
  )

  it.effect("a directory is unreadable too", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential({ ...base, certificatePath: scratch }))
      expect(error.field).toBe("certificatePath")
      expect(error.detail).toContain("EISDIR")
    }).pipe(withAzure({}, fakeAzure().factory))
  )

  const broken: ReadonlyArray<readonly [string, string, string]> = [
    ["a file that is not PEM", "hello", "holds no PEM certificate"],
    ["a key without its certificate", privateKeyOnly, "holds no PEM certificate"],
    ["a certificate without its key", certificateBlock, "holds no PEM private key"],
    [
      "a key that belongs to another certificate",
      `${certificateBlock}\n${generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" })}`,
      "does not belong to its certificate"
    ]
  ]
  for (const [name, content, detail] of broken) {
    it.effect(name, () =>
      Effect.gen(function* () {
        const path = write(`${name.replace(/\W+/g, "-")}.pem`, content)
        const error = yield* Effect.flip(makeCredential({ ...base, certificatePath: path }))
        expect(error.field).toBe("certificatePath")
        expect(error.detail).toContain(detail)
      }).pipe(withAzure({}, fakeAzure().factory))
    )
  }

  it.effect("bad inline content names the certificate field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential({ ...base, certificate: "not a certificate" }))
      expect(error.field).toBe("certificate")
    }).pipe(withAzure({}, fakeAzure().factory))
  )

  it.effect("sendCertificateChain is passed on", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential({ ...base, certificatePath: plainPath, sendCertificateChain: true })
      expect(onlyRecipe(azure.created).sendCertificateChain).toBe(true)
    }).pipe(withAzure({}, azure.factory))
  })
})
