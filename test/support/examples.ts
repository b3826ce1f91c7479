/** The examples run as a user runs them, for the tests that check what they print. */
import { execFile } from 'node:child_process'
import { join } from 'node:path'

/** The repository's root. */
export const repositoryRoot = join(__dirname, '..', '..')

/**
 * Runs `examples/<file>` as a user runs it (`ts-node --transpile-only`, from the repository
 * root) with `env` added to this process's environment; resolves with its standard output, or
 * rejects with its exit error and standard error.
 */
export function runExample(file: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(repositoryRoot, 'examples', file)],
      {
        cwd: repositoryRoot,
        encoding: 'utf8',
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env },
      },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    )
  })
}
