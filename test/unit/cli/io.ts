import type { CliIo } from '../../../src/cli/io'

/** A {@link CliIo} that records what the command writes. */
export function recordingIo(signal: AbortSignal = new AbortController().signal): CliIo & {
  readonly stdout: () => string
  readonly stderr: () => string
} {
  let out = ''
  let err = ''
  return {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    colour: false,
    signal,
    stdout: () => out,
    stderr: () => err,
  }
}

/**
 * Runs the command in a fresh module registry, as a new process would: the module it loads
 * (and the library it imports) is evaluated anew, so one test's `close()` cannot leak into
 * the next.
 */
export async function runCli(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = recordingIo()
  let code = -1
  await jest.isolateModulesAsync(async () => {
    const { main } = require('../../../src/cli/main') as typeof import('../../../src/cli/main')
    code = await main(args, io)
  })
  return { code, stdout: io.stdout(), stderr: io.stderr() }
}
