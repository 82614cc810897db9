/**
 * Lease names to document ids: every name the core accepts maps to a valid Cosmos id, readable when it fits, and
 * distinct names never share an id.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { documentId, maxReadableIdLength } from "../../src/azure/cosmos/documentId.ts"
import { nameProblem } from "../../src/internal/names.ts"

/** The inverse of the readable form, to prove it loses nothing. */
const decodeReadable = (id: string): string => {
  const bytes: Array<number> = []
  let out = ""
  const flush = () => {
    out += Buffer.from(bytes).toString("utf8")
    bytes.length = 0
  }
  for (let i = 0; i < id.length; ) {
    if (id[i] === "~" && id[i + 1] === "u") {
      flush()
      out += String.fromCharCode(Number.parseInt(id.slice(i + 2, i + 6), 16))
      i += 6
    } else if (id[i] === "~") {
      bytes.push(Number.parseInt(id.slice(i + 1, i + 3), 16))
      i += 3
    } else {
      flush()
      out += id[i]
      i++
    }
  }
  flush()
  return out
}

// Reserved and escape characters, ASCII, any UTF-16 unit (lone surrogates included) and any code point.
const unit = fc.oneof(
  fc.constantFrom("/", "\\", "?", "#", "~", ".", " ", "%"),
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
)

const validName = fc.string({ unit, maxLength: 255 }).filter((name) => nameProblem(name) === undefined)

describe("azure-cosmos document ids", () => {
  it("keeps plain names readable and escapes the rest", () => {
    expect(documentId("jobs-nightly_v2.main")).toBe("jobs-nightly_v2.main")
    expect(documentId("jobs/nightly")).toBe("jobs~2Fnightly")
    expect(documentId("a?b#c\\d")).toBe("a~3Fb~23c~5Cd")
    expect(documentId("~")).toBe("~7E")
    expect(documentId("é")).toBe("~C3~A9")
    expect(documentId("🚀")).toBe("~F0~9F~9A~80")
    expect(documentId(".")).toBe("~2E")
    expect(documentId("..")).toBe("~2E~2E")
    expect(documentId("\ud800")).toBe("~uD800")
  })

  it("property: ids are valid Cosmos ids, readable ones decode back to the name, and distinct names differ", () => {
    fc.assert(
      fc.property(fc.uniqueArray(validName, { minLength: 2, maxLength: 20 }), (names) => {
        const ids = names.map(documentId)
        for (const [i, id] of ids.entries()) {
          expect(id).not.toMatch(/[/\\?#]/)
          expect(id.length).toBeLessThanOrEqual(maxReadableIdLength)
          if (id.startsWith("~~")) expect(id).toMatch(/^~~[0-9a-f]{64}$/)
          else expect(decodeReadable(id)).toBe(names[i])
        }
        expect(new Set(ids).size).toBe(names.length)
      })
    )
  })

  it("hashes names whose readable form is too long", () => {
    const long = "é".repeat(100)
    expect(documentId(long)).toMatch(/^~~[0-9a-f]{64}$/)
    expect(documentId(long)).not.toBe(documentId(`${long}x`))
    expect(documentId("x".repeat(255))).toBe("x".repeat(255))
  })
})
