// examples/distributed.ts run as a user runs it (ts-node), on each engine: two buses in a group
// charge each order once (the idempotent handler), the failed receipt comes back as delivery 2,
// the broadcast reaches both buses, and the undecodable payload is a dead letter with its
// typed error. Without the engine it says so and exits 0.
import { runExample as run } from '../../support/examples'
import { describeWithNats, describeWithRedis } from '../../support/services'

const runExample = (env: Record<string, string>): Promise<string> => run('distributed.ts', env)

function expectTheStory(output: string): void {
  const charges = output.split('\n').filter((line) => /^ {2}[ab] charged order \d$/.test(line))
  expect(output).toContain('4 charges for 4 orders')
  expect(charges.map((line) => line.slice(-1)).sort()).toEqual(['1', '2', '3', '4'])
  expect(output).toMatch(/\[[ab]\] receipt for order 2 \(delivery 2\)/)
  expect(output).toContain('[a] dropped cache key user:1')
  expect(output).toContain('[b] dropped cache key user:1')
  expect(output).toContain(
    'dead letter: bad-1 EventDecodeError: cannot decode event "OrderPlaced" v1: the payload is not JSON',
  )
}

describe('examples/distributed.ts without its engine', () => {
  it('says so and exits 0', async () => {
    expect(await runExample({ TRIBUTARY_REDIS_URL: 'redis://127.0.0.1:1' })).toContain(
      'Redis is not reachable at redis://127.0.0.1:1',
    )
    expect(await runExample({ TRIBUTARY_TRANSPORT: 'nats', TRIBUTARY_NATS_URL: '127.0.0.1:1' })).toContain(
      'NATS is not reachable at 127.0.0.1:1',
    )
  }, 60_000)
})

describeWithRedis('examples/distributed.ts over Redis Streams', () => {
  it('charges each order once, redelivers the failed receipt, broadcasts, dead-letters the bad payload', async () => {
    expectTheStory(await runExample({ TRIBUTARY_TRANSPORT: 'redis' }))
  }, 60_000)
})

describeWithNats('examples/distributed.ts over NATS JetStream', () => {
  it('charges each order once, redelivers the failed receipt, broadcasts, dead-letters the bad payload', async () => {
    expectTheStory(await runExample({ TRIBUTARY_TRANSPORT: 'nats' }))
  }, 60_000)
})
