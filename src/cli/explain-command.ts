/**
 * `tributary explain <module> [--class Name] [--json]`: resolves the module's decorated class
 * with its `sources` and prints where every value came from.
 */
import { explain, type ComponentExplanation } from '../components/explain'
import { isComponentResolutionError } from '../components/errors'
import { resolve } from '../components/resolver'
import { parseComponentArgs } from './component-args'
import { componentModule } from './component-module'
import type { CliIo } from './io'
import { loadModule } from './load-module'
import { displayValue, formatTable } from './table'

/** The usage text of `tributary explain`. */
export const EXPLAIN_USAGE = `Usage: tributary explain <module> [--class Name] [--json] [--timeout ms]

Resolves the class exported by <module> (a .ts or .js file exporting a class with
@Component properties and a \`sources\` array or record) and prints, per property, its
source, key, value (secrets as ***), origin, duration and attempts.

Options:
  --class Name    the class to resolve when the module exports several
  --json          print JSON instead of a table
  --timeout ms    limit on the whole resolution (default 30000)
  -h, --help      show this help

Exit codes: 0 resolved, 1 some components failed (each error printed), 2 bad arguments.`

/** Runs `tributary explain`; returns the exit code. */
export async function explainCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseComponentArgs('explain', args, EXPLAIN_USAGE)
  if (values.help) {
    io.out(`${EXPLAIN_USAGE}\n`)
    return 0
  }
  const { path, timeout } = values
  const loaded = await componentModule(await loadModule(path), path, values.className, EXPLAIN_USAGE)
  try {
    const instance = await resolve(loaded.Class, { sources: loaded.sources, timeout, signal: io.signal })
    const rows = explain(instance)
    if (values.json) io.out(`${JSON.stringify(rows, jsonValue, 2)}\n`)
    else io.out(explainTable(loaded.Class.name, Object.values(rows), io.colour))
    return 0
  } catch (error) {
    if (!isComponentResolutionError(error)) throw error
    if (values.json) {
      const errors = error.errors.map((e) => ({
        property: e.property,
        source: e.source,
        key: e.key,
        attempts: e.attempts,
        message: e.message,
      }))
      io.out(`${JSON.stringify({ class: error.className, resolved: error.resolved, errors }, null, 2)}\n`)
    }
    io.err(`${error.message}\n`)
    return 1
  } finally {
    await loaded.dispose()
  }
}

/** The provenance table `explain` prints. */
export function explainTable(
  className: string,
  rows: readonly ComponentExplanation[],
  colour: boolean,
): string {
  const table = formatTable(
    rows,
    [
      { heading: 'property', cell: (r) => r.property },
      { heading: 'source', cell: (r) => r.source },
      { heading: 'key', cell: (r) => displayValue(r.key ?? '', 40) },
      { heading: 'value', cell: (r) => displayValue(r.value) },
      { heading: 'origin', cell: (r) => r.origin + (r.reason ? ` (${displayValue(r.reason, 40)})` : '') },
      { heading: 'ms', cell: (r) => r.durationMs.toFixed(1), right: true },
      { heading: 'attempts', cell: (r) => String(r.attempts), right: true },
    ],
    { colour },
  )
  return `${className}: ${rows.length} component(s)\n${table}`
}

function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
