/**
 * From lease names to blob names, and the checks on the container name and the blob prefix.
 *
 * The blob of lease `name` is `${prefix}${encodeName(name)}`. The encoding is injective (distinct lease names,
 * including names that differ only in case, always get distinct blobs) and turns every name the core accepts
 * into a valid blob name:
 *
 * - ASCII letters, digits, `-`, `_` and `.` are kept as they are, except a `.` in last position: Azure advises
 *   against blob names ending in a dot. Every other ASCII character (`/`, `\`, space, `%`, `~`, `?`, `#`, …)
 *   becomes `~XX` (two upper-case hex digits), so `jobs/nightly` is the blob `lease-jobs~2Fnightly`. Escaping `/`
 *   keeps every lease a single flat blob: no virtual directories, and no `.` or `..` path segment that an HTTP
 *   stack could collapse.
 * - Non-ASCII characters are kept (`Ünïcode` stays readable), except those no URL or XML listing can carry: lone
 *   surrogates and the noncharacters U+FDD0–U+FDEF and U+xFFFE/U+xFFFF become `~uXXXX` or `~UXXXXXX`. The rule
 *   uses fixed code point ranges, not Unicode categories, so every Node version maps a name to the same blob.
 * - If `prefix + encoded` would exceed Azure's 1,024-character limit (counted here in UTF-8 bytes, which is never
 *   less than the count in characters), the encoded name is cut and `~h` plus the SHA-256 of the whole encoded name
 *   is appended. `~h` appears in no other encoding, so even these names stay distinct.
 *
 * Decoding is unambiguous because a literal `~` is always escaped (`~7E`).
 *
 * @internal
 */
import { createHash } from "node:crypto"

/** The default blob name prefix. @internal */
export const defaultPrefix = "lease-"

/** Azure's limit on a blob name. @internal */
export const maxBlobNameLength = 1024

/** The longest prefix we accept, in UTF-8 bytes: leaves room for the hashed form of any name. @internal */
export const maxPrefixLength = 512

const hex = (value: number, width: number): string => value.toString(16).toUpperCase().padStart(width, "0")

const isKeptAscii = (code: number): boolean =>
  (code >= 0x30 && code <= 0x39) || // 0-9
  (code >= 0x41 && code <= 0x5a) || // A-Z
  (code >= 0x61 && code <= 0x7a) || // a-z
  code === 0x2d || // -
  code === 0x5f || // _
  code === 0x2e // .

// Code points that cannot travel in a URL path as UTF-8 or in an XML listing: C1 controls, lone surrogates,
// noncharacters. Fixed ranges on purpose (see the module header).
const isEscapedNonAscii = (code: number): boolean =>
  code <= 0x9f || (code >= 0xd800 && code <= 0xdfff) || (code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe

const escapeCode = (code: number): string =>
  code < 0x80 ? `~${hex(code, 2)}` : code <= 0xffff ? `~u${hex(code, 4)}` : `~U${hex(code, 6)}`

const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8")

/**
 * The encoded form of a lease name (without the prefix and without the length fallback).
 *
 * @internal
 */
export const encodeName = (name: string): string => {
  // Array.from splits by code point; a lone surrogate comes out as its own element.
  const chars = Array.from(name)
  let out = ""
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string
    const code = char.codePointAt(0) as number
    if (code < 0x80) {
      const trailingDot = code === 0x2e && i === chars.length - 1
      out += isKeptAscii(code) && !trailingDot ? char : escapeCode(code)
    } else {
      out += isEscapedNonAscii(code) ? escapeCode(code) : char
    }
  }
  return out
}

/**
 * The blob that holds lease `name`.
 *
 * @internal
 */
export const blobName = (prefix: string, name: string): string => {
  const encoded = encodeName(name)
  const full = prefix + encoded
  if (utf8Length(full) <= maxBlobNameLength) return full
  const digest = createHash("sha256").update(encoded, "utf8").digest("hex")
  const budget = maxBlobNameLength - utf8Length(prefix) - 2 - digest.length
  let head = ""
  let used = 0
  for (const char of encoded) {
    const size = utf8Length(char)
    if (used + size > budget) break
    head += char
    used += size
  }
  return `${prefix}${head}~h${digest}`
}

/**
 * Why `prefix` cannot be used, or `undefined`. A prefix may contain `/` (virtual directories), but no empty,
 * `.` or `..` segment and no leading `/`; no control character, backslash, lone surrogate or noncharacter.
 *
 * @internal
 */
export const prefixProblem = (prefix: string): string | undefined => {
  if (utf8Length(prefix) > maxPrefixLength) return `must be at most ${maxPrefixLength} bytes long`
  for (const char of prefix) {
    const code = char.codePointAt(0) as number
    if (code < 0x20 || code === 0x7f || code === 0x5c || (code >= 0x80 && isEscapedNonAscii(code))) {
      return `must not contain ${code === 0x5c ? "a backslash" : `the character U+${hex(code, 4)}`}`
    }
  }
  if (prefix.includes("/")) {
    if (prefix.startsWith("/")) return "must not start with '/'"
    const segments = prefix.split("/").slice(0, -1) // the last segment is completed by the encoded name
    if (segments.some((s) => s === "" || s === "." || s === "..")) {
      return "must not contain an empty, '.' or '..' path segment"
    }
  }
  return undefined
}

const containerPattern = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/

/**
 * Why `name` is not a valid container name (3–63 characters: lower-case letters, digits and single hyphens,
 * starting and ending with a letter or digit), or `undefined`.
 *
 * @internal
 */
export const containerNameProblem = (name: string): string | undefined =>
  containerPattern.test(name)
    ? undefined
    : "must be 3 to 63 characters of lower-case letters, digits and single hyphens, starting and ending with a " +
      `letter or digit, got ${JSON.stringify(name)}`
