/**
 * Checking the shared-key forms (connection string, account key, SAS token) without ever echoing them.
 *
 * @internal
 */
import { Effect, Redacted } from "effect"
import type { InvalidLeaseOptionsError } from "../../../LeaseError.ts"
import { invalid } from "./errors.ts"

/** The non-secret parts of a connection string, kept for descriptions and for callers that need an endpoint. */
export interface ConnectionStringInfo {
  readonly accountName?: string | undefined
  readonly blobEndpoint?: string | undefined
}

// Keys are case-insensitive in the Azure SDKs; values may contain '=' (base64 padding), so split at the first.
const parsePairs = (text: string): ReadonlyMap<string, string> => {
  const pairs = new Map<string, string>()
  for (const part of text.split(";")) {
    const at = part.indexOf("=")
    if (at > 0) pairs.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim())
  }
  return pairs
}

/** A storage connection string must name an account key, a SAS, or the development storage. */
export const checkConnectionString = (
  connectionString: Redacted.Redacted<string>,
  field: string
): Effect.Effect<ConnectionStringInfo, InvalidLeaseOptionsError> =>
  Effect.suspend(() => {
    const pairs = parsePairs(Redacted.value(connectionString))
    if (pairs.size === 0) {
      return Effect.fail(invalid(field, "is not a connection string (expected Key=Value pairs separated by ';')"))
    }
    const info: ConnectionStringInfo = {
      accountName: pairs.get("accountname"),
      blobEndpoint: pairs.get("blobendpoint")
    }
    if (pairs.get("usedevelopmentstorage")?.toLowerCase() === "true") return Effect.succeed(info)
    if (pairs.has("sharedaccesssignature")) {
      return pairs.has("blobendpoint") || pairs.has("accountname")
        ? Effect.succeed(info)
        : Effect.fail(invalid(field, "has a SharedAccessSignature but neither BlobEndpoint nor AccountName"))
    }
    if (!pairs.has("accountname")) return Effect.fail(invalid(field, "has no AccountName"))
    const key = pairs.get("accountkey")
    if (key === undefined) return Effect.fail(invalid(field, "has neither AccountKey nor SharedAccessSignature"))
    if (!isBase64(key)) return Effect.fail(invalid(field, "has an AccountKey that is not base64"))
    return Effect.succeed(info)
  })

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/

/** Whether `s` is plausible base64 (shared keys are; a pasted key with a typo usually is not). */
export const isBase64 = (s: string): boolean => s.length % 4 === 0 && base64Pattern.test(s)

/** An account key must be base64: the SDK would otherwise decode garbage and sign every request wrongly. */
export const checkAccountKey = (
  accountKey: Redacted.Redacted<string>,
  field: string
): Effect.Effect<void, InvalidLeaseOptionsError> =>
  isBase64(Redacted.value(accountKey).trim())
    ? Effect.void
    : Effect.fail(invalid(field, "is not base64 (use the key shown under Access keys / Keys, unchanged)"))

/** A SAS token is a query string with a signature; a leading '?' is dropped. */
export const normalizeSasToken = (
  sasToken: Redacted.Redacted<string>,
  field: string
): Effect.Effect<Redacted.Redacted<string>, InvalidLeaseOptionsError> =>
  Effect.suspend(() => {
    const token = Redacted.value(sasToken).trim().replace(/^\?+/, "")
    if (token.includes("://")) {
      return Effect.fail(
        invalid(field, "is a URL; give only the SAS token (the query string) and put the URL in endpoint")
      )
    }
    return new URLSearchParams(token).has("sig")
      ? Effect.succeed(Redacted.make(token))
      : Effect.fail(invalid(field, "is not a SAS token (it has no sig= parameter)"))
  })
