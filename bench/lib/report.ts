/**
 * Plain-text tables for the console.
 */
export const table = (title: string, headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")
  return ["", title, line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map((r) => line(r))].join("\n")
}

/** A number for a table cell: fixed decimals, thousands separated, `–` for NaN. */
export const num = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x)
    ? "–"
    : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
