/**
 * `tributary watch <module> [--class Name]`: resolves the module's decorated class, prints its
 * provenance table, then one line per live update until interrupted (Ctrl-C), and stops cleanly.
 */
import { explain } from '../components/explain'
import { isComponentResolutionError } from '../components/errors'
import type { ComponentUpdate } from '../live/update'
import { watch } from '../live/watch'
import { parseComponentArgs } from './component-args'
import { componentModule } from './component-module'
import { explainTable } from './explain-command'
import type { CliIo } from './io'
import { loadModule } from './load-module'
import { displayValue } from './table'

/** The usage text of `tributary watch`. */
export const WATCH_USAGE = `Usage: tributary watch <module> [--class Name] [--json] [--timeout ms]

Resolves the class exported by <module> (a .ts or .js file exporting a class with
@Component properties and a \`sources\` array or record), prints where each value came
from, then prints every live update (updated, added, removed, error; secrets as ***) as it
arrives, until interrupted with Ctrl-C; then stops every watcher and exits 0.

Options:
  --class Name    the class to watch when the module exports several
  --json          one JSON object per update instead of text lines
  --timeout ms    limit on the first resolution (default 30000)
  -h, --help      show this help

Exit codes: 0 stopped after an interrupt, 1 the first resolution failed, 2 bad arguments.`

/** Runs `tributary watch`; returns the exit code once `io.signal` aborts. */
export async function watchCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseComponentArgs('watch', args, WATCH_USAGE)
  if (values.help) {
    io.out(`${WATCH_USAGE}\n`)
    return 0
  }
  const { path, timeout } = values
  const loaded = await componentModule(await loadModule(path), path, values.className, WATCH_USAGE)
  try {
    let live
    try {
      live = await watch(loaded.Class, { sources: loaded.sources, timeout, signal: io.signal })
    } catch (error) {
      if (!isComponentResolutionError(error)) throw error
      io.err(`${error.message}\n`)
      return 1
    }
    const off = live.onUpdate((update) =>
      io.out(values.json ? `${JSON.stringify(updateJson(update))}\n` : `${updateLine(update)}\n`),
    )
    if (!values.json) {
      io.out(explainTable(loaded.Class.name, Object.values(explain(live.current)), io.colour))
      io.out(
        `watching ${live.watching.length} component(s): ${live.watching.join(', ') || '(none)'}; Ctrl-C to stop\n`,
      )
    }
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve()
      else io.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    off()
    await live.stop()
    if (!values.json) io.out('stopped\n')
    return 0
  } finally {
    await loaded.dispose()
  }
}

/** One update as a text line: time, kind, property, change, and where it came from. */
export function updateLine(update: ComponentUpdate): string {
  const time = new Date(update.at).toISOString().slice(11, 23)
  const where = `(${update.source}${update.key === undefined ? '' : ` ${displayValue(update.key, 40)}`})`
  let change: string
  switch (update.kind) {
    case 'updated':
    case 'removed':
      change = `${displayValue(update.oldValue)} → ${displayValue(update.newValue)}`
      break
    case 'added':
      change = `→ ${displayValue(update.newValue)}`
      break
    case 'error':
      change = update.error instanceof Error ? update.error.message : String(update.error)
      break
  }
  return `${time}  ${update.kind.padEnd(7)}  ${update.property}  ${change}  ${where}`
}

function updateJson(update: ComponentUpdate): Record<string, unknown> {
  if (update.kind !== 'error') return { ...update }
  const { error, ...rest } = update
  return {
    ...rest,
    error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
  }
}
