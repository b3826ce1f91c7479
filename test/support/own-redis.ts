/**
 * A `redis-server` of a test's own on a free loopback port, which the test may kill and start
 * again on the same port (the shared Redis on 6379 is never restarted). Without `CI`, a machine
 * without `redis-server` skips the suite with one printed line; with `CI` set, it fails.
 */
import { tmpdir } from 'node:os'
import { spawn, type ChildProcess } from 'node:child_process'
import { describeWithBinary } from './services'
import { createServer } from 'node:net'

/**
 * `describe` when `redis-server` exists; without it, a skipped describe (and one printed line),
 * or, with `CI` set, a describe whose every test fails saying why.
 */
export const describeWithRedisServer = describeWithBinary(
  'redis-server',
  'redis-server is not installed (apt-get install -y redis-server); the restart suite needs its own server',
)

/** A free TCP port on 127.0.0.1 (free when asked; the server binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** One `redis-server` process on a fixed port. */
export interface OwnRedis {
  readonly port: number
  /** Starts the server (with extra `--option value` arguments) and waits until it accepts connections. */
  start(extra?: readonly string[]): Promise<void>
  /** Kills the server (SIGKILL, by its pid) and waits for it to exit. */
  kill(): Promise<void>
}

/** A server on a free loopback port, not started yet; `kill()` it at the end of the suite. */
export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  return {
    port,
    async start(extra = []) {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        // Nothing is saved, but a dump asked for by a command lands in tmp, not the checkout.
        '--dir',
        tmpdir(),
        ...extra,
      ]
      const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
      child = started
      await new Promise<void>((resolve, reject) => {
        let output = ''
        const onData = (chunk: Buffer): void => {
          output += chunk.toString()
          if (output.includes('Ready to accept connections')) {
            started.stdout?.off('data', onData)
            started.stdout?.resume()
            resolve()
          }
        }
        started.stdout?.on('data', onData)
        started.stderr?.resume()
        started.once('exit', (code) =>
          reject(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)),
        )
      })
    },
    async kill() {
      const running = child
      child = undefined
      if (!running || running.exitCode !== null || running.signalCode !== null) return
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()))
      process.kill(running.pid as number, 'SIGKILL')
      await exited
    },
  }
}
