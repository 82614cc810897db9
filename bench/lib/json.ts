/**
 * JSON text in the layout the repository's formatter (Biome) gives it, so a freshly written result file passes
 * `npm run lint` as is: objects one member per line, arrays of plain values on one line when they fit in 120
 * columns.
 */
const width = 120

const isPlain = (value: unknown) => value === null || typeof value !== "object"
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

const format = (value: unknown, indent: string, used: number): string => {
  if (!isRecord(value)) return JSON.stringify(value) ?? "null"
  const inner = `${indent}  `
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]"
    if (value.every(isPlain)) {
      const flat = `[${value.map((v) => JSON.stringify(v) ?? "null").join(", ")}]`
      if (used + flat.length <= width) return flat
    }
    return `[\n${value.map((v) => `${inner}${format(v, inner, inner.length)}`).join(",\n")}\n${indent}]`
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined)
  if (entries.length === 0) return "{}"
  const members = entries.map(([k, v]) => {
    const key = `${inner}${JSON.stringify(k)}: `
    // A trailing comma may follow the value on the same line.
    return `${key}${format(v, inner, key.length + 1)}`
  })
  return `{\n${members.join(",\n")}\n${indent}}`
}

export const toJson = (value: unknown): string => `${format(value, "", 0)}\n`
