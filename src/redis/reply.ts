/**
 * Decoding script replies without `any`: each helper returns `undefined` for a shape it does not expect, and the
 * caller turns that into an "unexpected reply" error.
 *
 * Lua `false` arrives as `null` (in RESP2 and in RESP3 alike); integers arrive as numbers; strings as strings.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export const asArray = (u: unknown): ReadonlyArray<unknown> | undefined => (Array.isArray(u) ? u : undefined)

/** An integer reply (a number, or a decimal string). */
export const asInteger = (u: unknown): number | undefined => {
  if (typeof u === "number" && Number.isInteger(u)) return u
  if (typeof u === "string" && /^-?\d+$/.test(u)) return Number(u)
  return undefined
}

/** A fencing token: a decimal string (exact) or an integer. */
export const asBigInt = (u: unknown): bigint | undefined => {
  if (typeof u === "string" && /^-?\d+$/.test(u)) return BigInt(u)
  if (typeof u === "number" && Number.isSafeInteger(u)) return BigInt(u)
  return undefined
}

/** A string that may be absent (`null`, `false`, or the empty string). */
export const asOptionalString = (u: unknown): string | undefined =>
  typeof u === "string" && u.length > 0 ? u : Buffer.isBuffer(u) && u.length > 0 ? u.toString("utf8") : undefined

/** A flat `[field, value, field, value, ...]` array (HGETALL) as a map. */
export const asFieldMap = (u: unknown): ReadonlyMap<string, string> | undefined => {
  const array = asArray(u)
  if (array === undefined || array.length % 2 !== 0) return undefined
  const out = new Map<string, string>()
  for (let i = 0; i < array.length; i += 2) {
    const field = array[i]
    const value = array[i + 1]
    if (typeof field !== "string" || typeof value !== "string") return undefined
    out.set(field, value)
  }
  return out
}
