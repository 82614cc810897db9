/**
 * Checking a PEM client certificate before it is handed to `@azure/identity`.
 *
 * The SDK reads the file and decrypts the key only when the first token is requested, so a wrong path or
 * password would surface minutes later as an authentication failure. We check at startup instead: the file is
 * readable, it holds a certificate and a private key, the password decrypts the key, and the key belongs to the
 * certificate. Each problem is an `InvalidLeaseOptionsError` naming the field to fix; none echoes the content.
 *
 * @internal
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto"
import { readFile } from "node:fs/promises"
import { Effect, Redacted } from "effect"
import type { InvalidLeaseOptionsError } from "../../../LeaseError.ts"
import { invalid } from "./errors.ts"

/** The names under which the caller knows the certificate fields (option names or variable names). */
export interface CertificateFields {
  readonly path: string
  readonly content: string
  readonly password: string
}

const errorCode = (cause: unknown): string => {
  const code: unknown = typeof cause === "object" && cause !== null ? Reflect.get(cause, "code") : undefined
  return typeof code === "string" ? code : "unreadable"
}

/** Reads the PEM file; an unreadable file is an error naming the path field (the path is not a secret). */
export const readCertificateFile = (
  path: string,
  fields: CertificateFields
): Effect.Effect<Redacted.Redacted<string>, InvalidLeaseOptionsError> =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) =>
      invalid(fields.path, `cannot read the certificate file ${JSON.stringify(path)} (${errorCode(cause)})`)
  }).pipe(Effect.map((pem) => Redacted.make(pem)))

const certificatePattern = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/
const privateKeyPattern = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/
const encryptedPattern = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/

/** Checks certificate content; `where` names the field the content came from (the path or the content field). */
export const checkCertificate = (
  pem: Redacted.Redacted<string>,
  password: Redacted.Redacted<string> | undefined,
  where: string,
  fields: CertificateFields
): Effect.Effect<void, InvalidLeaseOptionsError> =>
  Effect.suspend(() => {
    const text = Redacted.value(pem)
    const certificateBlock = certificatePattern.exec(text)?.[0]
    if (certificateBlock === undefined) {
      return Effect.fail(invalid(where, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"))
    }
    let certificate: X509Certificate
    try {
      certificate = new X509Certificate(certificateBlock)
    } catch {
      return Effect.fail(invalid(where, "holds a PEM certificate block that is not a valid X.509 certificate"))
    }
    if (!privateKeyPattern.test(text)) {
      return Effect.fail(invalid(where, "holds no PEM private key: the file must contain the certificate and its key"))
    }
    const encrypted = encryptedPattern.test(text)
    if (encrypted && password === undefined) {
      return Effect.fail(invalid(fields.password, "is required: the certificate's private key is encrypted"))
    }
    let key: KeyObject
    try {
      // The same call @azure/identity makes, so what passes here also works there.
      key = createPrivateKey({
        key: text,
        format: "pem",
        ...(password === undefined ? {} : { passphrase: Redacted.value(password) })
      })
    } catch {
      return Effect.fail(
        encrypted
          ? invalid(fields.password, "does not decrypt the certificate's private key")
          : invalid(where, "holds a private key that cannot be read")
      )
    }
    if (!certificate.checkPrivateKey(key)) {
      return Effect.fail(invalid(where, "holds a private key that does not belong to its certificate"))
    }
    return Effect.void
  })
