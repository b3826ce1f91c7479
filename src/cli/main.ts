#!/usr/bin/env node
/**
 * The `tributary` command: `explain`, `watch` and `shards` over a user's module.
 * Exit codes: 0 success, 1 the work failed (errors printed), 2 bad arguments.
 */
import 'reflect-metadata'
import { explainCommand, EXPLAIN_USAGE } from './explain-command'
import type { CliIo } from './io'
import { shardsCommand, SHARDS_USAGE } from './shards-command'
import { UsageError } from './usage-error'
import { watchCommand, WATCH_USAGE } from './watch-command'

/** The top-level usage text. */
export const USAGE = `Usage: tributary <command> [options]

Commands:
  explain <module> [--class Name] [--json]   resolve a config class and print where each value came from
  watch <module> [--class Name]              print live updates until interrupted
  shards <module> count <Model>              merged answer and per-shard breakdown
  shards <module> sum|avg|min|max <Model> <column>

Run \`tributary <command> --help\` for a command's options.`

type Command = (args: readonly string[], io: CliIo) => Promise<number>

const COMMANDS: Readonly<Record<string, { run: Command; usage: string }>> = {
  explain: { run: explainCommand, usage: EXPLAIN_USAGE },
  shards: { run: shardsCommand, usage: SHARDS_USAGE },
  watch: { run: watchCommand, usage: WATCH_USAGE },
}

/**
 * Runs the command line `args` (without `node` and the script) and returns the exit code.
 * Never throws: a {@link UsageError} prints its message and usage (code 2), anything else
 * prints the error (code 1).
 */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(`${USAGE}\n`)
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name]
  try {
    if (!command) throw new UsageError(`unknown command: ${name}`, USAGE)
    return await command.run(rest, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`tributary: ${error.message}\n\n${error.usage ?? command?.usage ?? USAGE}\n`)
      return 2
    }
    io.err(`tributary ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return 1
  }
}

/** The process's own {@link CliIo}: stdout/stderr, colour on a terminal, SIGINT/SIGTERM stop. */
export function processIo(): CliIo {
  const controller = new AbortController()
  const stop = (): void => controller.abort(new Error('interrupted'))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    colour: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
    signal: controller.signal,
  }
}

if (require.main === module) {
  void main(process.argv.slice(2), processIo()).then((code) => {
    process.exitCode = code
    // A module may leave servers or pools open; give output a moment to flush, then leave.
    setTimeout(() => process.exit(code), 500).unref()
  })
}
