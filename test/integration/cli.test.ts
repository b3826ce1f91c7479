/**
 * The `tributary` command as a real process (through ts-node, as `npm run tributary` runs it):
 * exit codes, and `watch` stopping cleanly on SIGINT.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'

const root = join(__dirname, '..', '..')

function start(args: string[]) {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'src/cli/main.ts', ...args],
    {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    async until(predicate: (out: string) => boolean): Promise<void> {
      while (!predicate(stdout)) {
        if (child.exitCode !== null) throw new Error(`exited early: ${stdout}${stderr}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
  }
}

describe('the tributary command (a real process)', () => {
  it('watch prints updates until SIGINT, then stops every watcher and exits 0', async () => {
    const run = start(['watch', 'test/fixtures/cli/ticking-config.ts'])
    await run.until((out) => / updated {2}tick /.test(out))
    run.child.kill('SIGINT')
    expect(await run.exited).toBe(0)
    expect(run.output().stdout.endsWith('stopped\n')).toBe(true)
    expect(run.output().stderr).toBe('')
  }, 60_000)

  it.each([
    [['explain', 'test/fixtures/cli/app-config.ts'], 0],
    [['explain', 'test/fixtures/cli/broken-config.ts'], 1],
    [['explain', '--nope'], 2],
    [['shards', 'test/fixtures/cli/sharded-users.ts', 'avg', 'User'], 2],
  ])(
    '%j exits %i',
    async (args, code) => {
      const run = start(args)
      expect(await run.exited).toBe(code)
    },
    60_000,
  )
})
