/**
 * A PostgreSQL server of a test's own (initdb into a temporary directory, a free loopback port,
 * `max_prepared_transactions` raised for two-phase commit), killed by pid at the end; the
 * shared server on 5432 is never touched. Without `CI`, a machine without the PostgreSQL
 * server binaries skips the suite with one printed line; with `CI` set, it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './own-redis'

/** The directory holding `initdb` and `postgres`, if installed. */
const binDir: string | undefined = (() => {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin')
  return undefined
})()

/** postgres refuses to run as root: run it as the `postgres` user then. */
const asRoot = process.getuid?.() === 0
const postgresUid = asRoot ? Number(spawnSync('id', ['-u', 'postgres']).stdout?.toString().trim()) : undefined
const postgresGid = asRoot ? Number(spawnSync('id', ['-g', 'postgres']).stdout?.toString().trim()) : undefined

/** True when a PostgreSQL server can be started here. */
export const hasPostgresServer: boolean =
  binDir !== undefined && (!asRoot || (Number.isInteger(postgresUid) && Number.isInteger(postgresGid)))

const missing =
  'the PostgreSQL server binaries are not installed (apt-get install -y postgresql); the two-phase-commit suites start their own server'

/** `describe` when a server can be started; else skipped (one printed line) or, with `CI`, failing. */
export const describeWithPostgresServer = (name: string, body: () => void): void => {
  if (hasPostgresServer) return describe(name, body)
  if (process.env.CI) {
    return describe(name, () => {
      it('needs the PostgreSQL server binaries', () => {
        throw new Error(missing)
      })
    })
  }
  console.log(`skipping "${name}": ${missing}`)
  describe.skip(name, body)
}

/** A running server of the test's own. */
export interface OwnPostgres {
  readonly port: number
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  url(database?: string): string
  /** Kills the server (SIGKILL, by pid), waits for it to exit and removes its directory. */
  kill(): Promise<void>
}

function run(command: string, args: string[]): void {
  const full = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
  const result = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`)
}

/** Starts a server with `max_prepared_transactions` (default 10) and waits until it accepts connections. */
export async function ownPostgres(options: { maxPreparedTransactions?: number } = {}): Promise<OwnPostgres> {
  if (!binDir) throw new Error(missing)
  const dir = mkdtempSync(join(tmpdir(), 'tributary-pg-'))
  if (asRoot) chownSync(dir, postgresUid as number, postgresGid as number)
  const data = join(dir, 'data')
  run(join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  const port = await freePort()
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-h',
    '127.0.0.1',
    '-k',
    dir,
    '-c',
    `max_prepared_transactions=${options.maxPreparedTransactions ?? 10}`,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ]
  const bin = join(binDir, 'postgres')
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('ready to accept connections')) {
        child.stderr?.off('data', onData)
        child.stderr?.resume()
        resolve()
      }
    }
    child.stderr?.on('data', onData)
    child.stdout?.resume()
    child.once('exit', (code) => reject(new Error(`postgres exited (${code}): ${output.slice(-800)}`)))
  })
  return {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        // runuser forwards nothing on SIGKILL: kill the postgres process itself (the postmaster).
        const pid = spawnSync('sh', ['-c', `head -1 ${join(data, 'postmaster.pid')}`])
          .stdout?.toString()
          .trim()
        if (pid) process.kill(Number(pid), 'SIGKILL')
        process.kill(child.pid as number, 'SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
