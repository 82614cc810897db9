/**
 * Lease names to Cosmos DB document ids, so that every name the core accepts works.
 *
 * Cosmos ids may not contain `/`, `\`, `?` or `#`, are limited to 1023 bytes (255 characters in older SDKs and
 * tools), travel in URL paths, and `.` or `..` would be collapsed by URL normalisation. Lease names are any
 * unicode text up to 255 characters. Rather than refuse names, we encode them:
 *
 * - Characters in `[A-Za-z0-9._-]` are kept; every other character becomes `~XX` for each byte of its UTF-8 form
 *   (`jobs/nightly` → `jobs~2Fnightly`, `é` → `~C3~A9`). So the id stays readable in the portal, and distinct
 *   names give distinct ids (the mapping is injective: `~` itself is escaped; a lone UTF-16 surrogate, which has
 *   no UTF-8 form, becomes `~uXXXX`).
 * - An encoded id longer than 255 characters is replaced by `~~` + the SHA-256 of the name in hex (66
 *   characters). A readable id never contains `~~` (an escape is always followed by two hex digits), so the two
 *   forms cannot collide. The document keeps the real name in its `name` field, which is checked on every read.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

/** Longest readable id; longer encodings are hashed. */
export const maxReadableIdLength = 255

const kept = /^[A-Za-z0-9._-]$/

const escapeCodePoint = (char: string): string => {
  const unit = char.charCodeAt(0)
  // A lone surrogate has no UTF-8 form (it would become U+FFFD, and two of them would collide): spell it out.
  if (char.length === 1 && unit >= 0xd800 && unit <= 0xdfff) return `~u${unit.toString(16).toUpperCase()}`
  let out = ""
  for (const byte of Buffer.from(char, "utf8")) out += `~${byte.toString(16).toUpperCase().padStart(2, "0")}`
  return out
}

/**
 * The document id of a lease name.
 *
 * @since 0.1.0
 */
export const documentId = (name: string): string => {
  let encoded = ""
  // for..of walks code points, so a surrogate pair is encoded as one 4-byte character.
  for (const char of name) encoded += kept.test(char) ? char : escapeCodePoint(char)
  if (encoded === "." || encoded === "..") encoded = escapeCodePoint(".").repeat(encoded.length)
  if (encoded.length <= maxReadableIdLength) return encoded
  return `~~${createHash("sha256").update(name, "utf8").digest("hex")}`
}
