/**
 * The arguments `explain` and `watch` share: `<module> [--class Name] [--json] [--timeout ms]`,
 * parsed with `node:util`'s `parseArgs`; anything wrong is a {@link UsageError}.
 */
import { parseArgs } from 'node:util'
import { UsageError } from './usage-error'

/** What `explain` and `watch` were asked for. */
export interface ComponentArgs {
  /** `--help` was given: print the usage and nothing else. */
  readonly help: boolean
  /** The module path. */
  readonly path: string
  /** `--class Name`, if given. */
  readonly className: string | undefined
  readonly json: boolean
  /** `--timeout ms`; defaults to 30_000. */
  readonly timeout: number
}

/** Parses the arguments of `tributary <command>` (`command` names it in messages). */
export function parseComponentArgs(command: string, args: readonly string[], usage: string): ComponentArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        class: { type: 'string' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`, usage)
  }
  const { values, positionals } = parsed
  const [path, ...extra] = positionals
  if (values.help) return { help: true, path: '', className: undefined, json: false, timeout: 0 }
  if (path === undefined) throw new UsageError(`${command}: missing <module>`, usage)
  if (extra.length > 0) throw new UsageError(`${command}: unexpected argument ${extra[0]}`, usage)
  const timeout = values.timeout === undefined ? 30_000 : Number(values.timeout)
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new UsageError(
      `${command}: --timeout must be a positive number of ms, got ${values.timeout}`,
      usage,
    )
  }
  return { help: false, path, className: values.class, json: values.json === true, timeout }
}
