// examples/streaming-components.ts run as a user runs it (ts-node): it exits 0 and prints each
// stream's resolved value and updates; without Redis or NATS it says so and skips that part.
import { runExample as run } from '../../support/examples'
import { itWithRedisAndNats } from '../../support/services'

const runExample = (env: Record<string, string> = {}): Promise<string> => run('streaming-components.ts', env)

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
