/**
 * Aligned plain-text tables for the `tributary` command: one header row, a rule, one row per
 * record; bold header only when colour is on (a terminal).
 */

/** One column: its heading and how to read a cell from a row. */
export interface TableColumn<R> {
  readonly heading: string
  readonly cell: (row: R) => string
  /** Right-align (numbers). Defaults to false. */
  readonly right?: boolean
}

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** Bold headings with ANSI escapes. Defaults to false. */
  readonly colour?: boolean
}

/** Renders `rows` as an aligned table ending with a newline. */
export function formatTable<R>(
  rows: readonly R[],
  columns: readonly TableColumn<R>[],
  options: TableOptions = {},
): string {
  const cells = rows.map((row) => columns.map((column) => column.cell(row)))
  const widths = columns.map((column, i) =>
    Math.max(column.heading.length, ...cells.map((row) => (row[i] ?? '').length)),
  )
  const pad = (text: string, i: number): string =>
    columns[i]?.right ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0)
  const line = (row: readonly string[]): string => row.map(pad).join('  ').trimEnd()
  const heading = line(columns.map((column) => column.heading))
  const rule = widths.map((w) => '─'.repeat(w)).join('  ')
  return (
    [options.colour ? `\u001b[1m${heading}\u001b[0m` : heading, rule, ...cells.map(line)].join('\n') + '\n'
  )
}

/** A value shortened for a table cell: strings as they are, the rest as JSON, cut at `max`. */
export function displayValue(value: unknown, max = 48): string {
  let text: string
  if (value === undefined) text = '(undefined)'
  else if (typeof value === 'string') text = value
  else if (value instanceof Date) text = value.toISOString()
  else if (typeof value === 'bigint') text = `${value}n`
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  text = text.replace(/\s+/g, ' ')
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
