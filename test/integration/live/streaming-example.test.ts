// examples/streaming-components.ts run as a user runs it (ts-node): it exits 0 and prints each
// stream's resolved value and updates; without Redis or NATS it says so and skips that part.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { itWithRedisAndNats } from '../../support/services'

const root = join(__dirname, '..', '..', '..')

function runExample(env: Record<string, string> = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(root, 'examples', 'streaming-components.ts')],
      { cwd: root, encoding: 'utf8', env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env } },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    )
  })
}

describe('examples/streaming-components.ts', () => {
  it('runs without Redis and NATS: says so, and the WebSocket part still runs', async () => {
    const output = await runExample({
      TRIBUTARY_REDIS_URL: 'redis://127.0.0.1:1',
      TRIBUTARY_NATS_URL: '127.0.0.1:1',
    })
    expect(output).toContain('Redis is not reachable at redis://127.0.0.1:1')
    expect(output).toContain('NATS is not reachable at 127.0.0.1:1')
    expect(output).toContain('websocket resolved: eurusd=1.08 (the first message)')
    expect(output).toContain('websocket update eurusd: 1.08 → 1.09\nwebsocket update eurusd: 1.09 → 1.1\n')
  })

  itWithRedisAndNats('with Redis and NATS: the latest message resolved, each new one an update', async () => {
    const output = await runExample()
    expect(output).toContain('redis-stream resolved: theme=light rps=10')
    expect(output).toContain('redis-stream update theme: "light" → "dark"')
    expect(output).toContain('redis-stream update rps: 10 → 25')
    expect(output).toContain('nats resolved: rps=50')
    expect(output).toContain('nats update rps: 50 → 75\nnats update rps: 75 → 100\n')
  })
})
