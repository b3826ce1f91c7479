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
