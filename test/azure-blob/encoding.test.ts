/**
 * The pure parts of the Blob provider: lease name → blob name, metadata values, lease ids, error reading.
 * Property tests cover every string the core accepts as a name, lone surrogates included.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import fc from "fast-check"
import { fromUnknown, retryAfterOf } from "../../src/azure/blob/errors.ts"
import { azureLeaseId } from "../../src/azure/blob/leaseIds.ts"
import {
  decodeValue,
  encodeValue,
  keys,
  metadataBytes,
  readFence,
  readGrant,
  writeGrant
} from "../../src/azure/blob/metadata.ts"
import { blobName, encodeName, maxBlobNameLength, prefixProblem } from "../../src/azure/blob/names.ts"
import { nameProblem } from "../../src/internal/names.ts"

/** The inverse of `encodeName`, written from the documented mapping. */
const decodeName = (encoded: string): string =>
  encoded.replace(
    /~(?:([0-7][0-9A-F])|u([0-9A-F]{4})|U([0-9A-F]{6}))/g,
    (_, ascii?: string, unit?: string, wide?: string) =>
      ascii !== undefined
        ? String.fromCharCode(Number.parseInt(ascii, 16))
        : unit !== undefined
          ? String.fromCharCode(Number.parseInt(unit, 16))
          : String.fromCodePoint(Number.parseInt(wide ?? "0", 16))
  )

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Single characters of every kind, including the awkward ones. */
const piece = fc.oneof(
  fc.constantFrom("/", ".", "~", "%", " ", "\\", "?", "#", "a", "Z", "ü", "🚀", "\uD800", "\uDC00", "\uFFFE", "\uFDD0"),
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc
    .integer({ min: 0xa0, max: 0x10ffff })
    .map((code) => (code >= 0xd800 && code <= 0xdfff ? String.fromCharCode(code) : String.fromCodePoint(code)))
)

/** Names the core accepts (it checks them before any provider sees them). */
const leaseNames = fc
  .array(piece, { minLength: 1, maxLength: 300 })
  .map((pieces) => pieces.join(""))
  .filter((name) => nameProblem(name) === undefined)

const prefixes = fc.constantFrom("lease-", "", "leases/prod/", "ü-".repeat(100))

describe("blob names", () => {
  it("keeps plain names readable and escapes the rest", () => {
    expect(blobName("lease-", "nightly-report")).toBe("lease-nightly-report")
    expect(blobName("lease-", "jobs/nightly")).toBe("lease-jobs~2Fnightly")
    expect(blobName("lease-", "db.primary")).toBe("lease-db.primary")
    expect(blobName("lease-", "trailing.")).toBe("lease-trailing~2E")
    expect(blobName("lease-", "~")).toBe("lease-~7E")
    expect(blobName("lease-", "Ünïcode 🚀")).toBe("lease-Ünïcode~20🚀")
    expect(blobName("lease-", "lone\uD800")).toBe("lease-lone~uD800")
    expect(blobName("lease-", "\u{10FFFF}")).toBe("lease-~U10FFFF")
  })

  it("is reversible (so distinct names get distinct blobs) and always a valid blob name", () => {
    fc.assert(
      fc.property(leaseNames, prefixes, (name, prefix) => {
        const encoded = encodeName(name)
        expect(decodeName(encoded)).toBe(name)
        const blob = blobName(prefix, name)
        expect(Buffer.byteLength(blob, "utf8")).toBeLessThanOrEqual(maxBlobNameLength)
        expect(blob.startsWith(prefix)).toBe(true)
        const own = blob.slice(prefix.length)
        expect(own.length).toBeGreaterThan(0)
        expect(own).not.toContain("/")
        expect(own.endsWith(".")).toBe(false)
        expect(loneSurrogate.test(blob)).toBe(false)
        // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for control characters is the point
        expect(/[\u0000-\u001f\u007f-\u009f]/.test(blob)).toBe(false)
      }),
      { numRuns: 500 }
    )
  })

  it("distinct names never share a blob, even when the name is too long and hashed", () => {
    fc.assert(
      fc.property(leaseNames, leaseNames, prefixes, (a, b, prefix) => {
        fc.pre(a !== b)
        expect(blobName(prefix, a)).not.toBe(blobName(prefix, b))
      }),
      { numRuns: 500 }
    )
    // 255 lone surrogates escape to 1,530 characters: the hashed form keeps them apart and within the limit.
    const long = "\uD800".repeat(255)
    const other = `${"\uD800".repeat(254)}\uDBFF`
    expect(blobName("lease-", long)).toMatch(/~h[0-9a-f]{64}$/)
    expect(blobName("lease-", long)).not.toBe(blobName("lease-", other))
    expect(Buffer.byteLength(blobName("lease-", long))).toBeLessThanOrEqual(maxBlobNameLength)
  })

  it("accepts only prefixes that keep every blob name valid", () => {
    expect(prefixProblem("lease-")).toBeUndefined()
    expect(prefixProblem("")).toBeUndefined()
    expect(prefixProblem("leases/prod/")).toBeUndefined()
    expect(prefixProblem("/leases")).toContain("start")
    expect(prefixProblem("a//b")).toContain("segment")
    expect(prefixProblem("../x")).toContain("segment")
    expect(prefixProblem("a\\b")).toContain("backslash")
    expect(prefixProblem("a\nb")).toContain("U+000A")
    expect(prefixProblem("x".repeat(600))).toContain("512")
  })
})

describe("metadata", () => {
  it("values are printable ASCII and round-trip any string", () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 50 }), (pieces) => {
        const text = pieces.join("")
        const encoded = encodeValue(text)
        expect(/^[\x21-\x7e]*$/.test(encoded)).toBe(true)
        expect(decodeValue(encoded)).toBe(text)
      })
    )
    expect(encodeValue("host-1:4242:ab12")).toBe("host-1:4242:ab12")
    expect(encodeValue("a b%")).toBe("a%u0020b%u0025")
  })

  it("a grant keeps foreign keys, replaces ours and reads back", () => {
    const previous = {
      owner: "ops",
      [keys.fence]: "6",
      [keys.holder]: "old",
      [keys.metadata]: encodeValue(JSON.stringify({ stale: "yes" }))
    }
    const acquiredAt = new Date("2030-01-02T03:04:05.000Z")
    const written = writeGrant(previous, {
      fencingToken: 7n,
      holderId: "host 1:ü",
      leaseId: "0f8fad5b-d9cb-469f-a165-70867728950e",
      acquiredAt,
      durationSeconds: 15,
      metadata: { "build id": "42 ü" }
    })
    expect(written.owner).toBe("ops")
    expect(readFence(written)).toBe(7n)
    expect(written[keys.duration]).toBe("15")
    expect(readGrant(written)).toEqual({
      holderId: "host 1:ü",
      leaseId: "0f8fad5b-d9cb-469f-a165-70867728950e",
      acquiredAt,
      metadata: { "build id": "42 ü" }
    })
    const plain = writeGrant(written, {
      fencingToken: 8n,
      holderId: "b",
      leaseId: "x",
      durationSeconds: 60
    })
    expect(plain[keys.metadata]).toBeUndefined()
    // A name's first grant is written before the lease is taken, when its time is not known yet.
    expect(plain[keys.acquiredAt]).toBeUndefined()
    expect(plain.owner).toBe("ops")
    expect(metadataBytes({ ab: "cde" })).toBe(5)
  })

  it("reads the fencing counter strictly", () => {
    expect(readFence({})).toBe(0n)
    expect(readFence({ [keys.fence]: "18446744073709551617" })).toBe(18446744073709551617n)
    expect(readFence({ [keys.fence]: "-1" })).toBeUndefined()
    expect(readFence({ [keys.fence]: "seven" })).toBeUndefined()
    expect(readGrant({ [keys.metadata]: "not json", [keys.acquiredAt]: "yesterday" })).toEqual({
      holderId: undefined,
      leaseId: undefined,
      acquiredAt: undefined,
      metadata: undefined
    })
  })
})

describe("lease ids", () => {
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

  it("sends GUIDs unchanged and maps anything else to a stable GUID", () => {
    expect(azureLeaseId("0F8FAD5B-D9CB-469F-A165-70867728950E")).toBe("0f8fad5b-d9cb-469f-a165-70867728950e")
    expect(azureLeaseId("my-lease")).toMatch(guid)
    expect(azureLeaseId("my-lease")).toBe(azureLeaseId("my-lease"))
    expect(azureLeaseId("my-lease")).not.toBe(azureLeaseId("my-lease2"))
  })
})

describe("reading SDK failures", () => {
  const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] })

  it("takes the code from the body, the details or the header, and the delay from Retry-After", () => {
    const restError = Object.assign(new Error("The lease ID specified did not match.\nRequestId:1"), {
      name: "RestError",
      statusCode: 409,
      code: "LeaseIdMismatchWithLeaseOperation",
      response: { headers: headers({ "retry-after": "2" }) }
    })
    const read = fromUnknown(restError)
    expect(read).toMatchObject({ status: 409, code: "LeaseIdMismatchWithLeaseOperation" })
    expect(read.detail).toBe("409 LeaseIdMismatchWithLeaseOperation: The lease ID specified did not match.")
    expect(read.retryAfter && Duration.toMillis(read.retryAfter)).toBe(2000)
    const head = fromUnknown(Object.assign(new Error(""), { statusCode: 404, details: { errorCode: "BlobNotFound" } }))
    expect(head.code).toBe("BlobNotFound")
    expect(fromUnknown("boom").detail).toBe("boom")
    expect(retryAfterOf(headers({ "retry-after": "soon" }))).toBeUndefined()
    expect(retryAfterOf(undefined)).toBeUndefined()
  })
})
