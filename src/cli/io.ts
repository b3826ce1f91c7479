/**
 * Where the `tributary` command writes, and how it is told to stop: the real process in
 * `main.ts`, a recorder in tests.
 */

/** The command's output streams and stop signal. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void
  /** Writes to standard error. */
  err(text: string): void
  /** True when standard output is a terminal: colour and progress lines only then. */
  readonly colour: boolean
  /** Aborts on Ctrl-C (SIGINT) or SIGTERM: long-running commands stop cleanly. */
  readonly signal: AbortSignal
}
