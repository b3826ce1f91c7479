/**
 * At least once across processes, on the real servers: three worker processes in one group,
 * one of them SIGKILLed while it holds unacknowledged events. Every event is handled, none is
 * lost, and the idempotent handler's side effect (counted in Redis) happens once per event.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import Redis from 'ioredis'
import { natsTransport } from '../../../src/transports/nats/nats-transport'
import { redisStreamsTransport } from '../../../src/transports/redis-streams/redis-streams-transport'
import type { Transport } from '../../../src/transports/transport'
import { uniqueName } from '../../support/database'
import { describeWithRedis, hasNats, natsUrl, redisUrl } from '../../support/services'

type Kind = 'redis-streams' | 'nats'

interface Worker {
  readonly child: ChildProcess
  readonly exited: Promise<string>
}

function worker(kind: Kind, prefix: string, mode: 'work' | 'hold'): Worker {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      'test/support/bus-worker.ts',
      kind,
      redisUrl,
      natsUrl,
      prefix,
      mode,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } },
  )
  let err = ''
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(`${code ?? signal}${err ? `: ${err}` : ''}`)),
  )
  return { child, exited }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const N = 120
const kinds: Kind[] = hasNats ? ['redis-streams', 'nats'] : ['redis-streams']

describeWithRedis.each(kinds)('group delivery across processes over %s', (kind) => {
  let redis: Redis
  let nc: NatsConnection | undefined
  let prefix: string
  let transport: Transport
  const workers: Worker[] = []

  beforeEach(async () => {
    prefix = `${uniqueName('mp')}_`
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
    if (kind === 'nats') {
      nc = await connect({ servers: natsUrl })
      transport = natsTransport(nc, { stream: prefix.toUpperCase(), prefix })
    } else {
      transport = redisStreamsTransport(redis, { prefix })
    }
  })
  afterEach(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
    await Promise.all(workers.splice(0).map((w) => w.exited))
    await transport.close()
    if (nc !== undefined) {
      const jsm = await jetstreamManager(nc)
      await jsm.streams.delete(prefix.toUpperCase()).catch(() => undefined)
      await nc.close()
    }
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  const publish = async (from: number, to: number): Promise<void> => {
    for (let n = from; n <= to; n++)
      await transport.publish({ id: randomUUID(), name: 'Job', version: 1, data: JSON.stringify({ n }) })
  }
  const until = async (what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> => {
    const deadline = Date.now() + ms
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(25)
    }
  }

  it('a worker SIGKILLed while holding unacknowledged events loses none, and the idempotent side effect happens once each', async () => {
    const victim = worker(kind, prefix, 'hold')
    workers.push(victim, worker(kind, prefix, 'work'), worker(kind, prefix, 'work'))
    await until('three workers', async () => Number(await redis.get(`${prefix}ready`)) === 3)
    await publish(1, N / 2)
    // The victim has done the idempotent side effect of some events and holds them unacknowledged.
    await until('the victim to hold events', async () => (await redis.llen(`${prefix}held`)) >= 3)
    victim.child.kill('SIGKILL')
    expect(await victim.exited).toMatch(/^SIGKILL/)
    const held = (await redis.lrange(`${prefix}held`, 0, -1)).map(Number)
    await publish(N / 2 + 1, N)

    const handled = async (): Promise<number[]> => (await redis.lrange(`${prefix}handled`, 0, -1)).map(Number)
    await until('every event handled', async () => new Set(await handled()).size === N)
    await sleep(300) // let any late duplicate show up before counting
    const all = await handled()
    expect([...new Set(all)].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1))
    // The held events were redelivered to the survivors (after ackWait) and handled there.
    for (const n of held) expect(all).toContain(n)
    // The side effect: exactly once per event, the held ones included (their redelivery skipped it).
    const effects = await redis.mget(...Array.from({ length: N }, (_, i) => `${prefix}effect:${i + 1}`))
    expect(effects.filter((count) => count !== '1')).toEqual([])

    // The survivors shut down cleanly.
    for (const w of workers.slice(1)) w.child.kill('SIGTERM')
    for (const w of workers.slice(1)) expect(await w.exited).toBe('0')
  }, 60_000)
})
