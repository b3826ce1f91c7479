/**
 * Stampede protection across processes, on the real Redis: N worker processes whose key
 * expired together run one fetcher; a lock holder SIGKILLed mid-fetch is taken over after its lease.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { QueryStore, redisCache } from '../../../src'
import { createTestRedis, type TestRedis } from '../../support/redis'
import { describeWithRedis, redisUrl } from '../../support/services'

interface Worker {
  readonly child: ChildProcess
  readonly output: Promise<string>
  readonly started: Promise<void>
}

function worker(prefix: string, mode: 'fetch' | 'hang', lease: number): Worker {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      'test/support/store-worker.ts',
      redisUrl,
      prefix,
      mode,
      String(lease),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } },
  )
  let out = ''
  let err = ''
  let onFetching: () => void = () => undefined
  const started = new Promise<void>((resolve) => (onFetching = resolve))
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    if (out.includes('fetching')) onFetching()
  })
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const output = new Promise<string>((resolve, reject) =>
    child.once('exit', (code, signal) =>
      code === 0 ? resolve(out) : reject(new Error(`worker ${code ?? signal}: ${err}`)),
    ),
  )
  output.catch(() => undefined)
  return { child, output, started }
}

async function ready(redis: TestRedis, prefix: string, count: number): Promise<void> {
  while (Number(await redis.client.get(`${prefix}ready`)) < count)
    await new Promise((resolve) => setTimeout(resolve, 20))
}

const valueOf = (out: string): string =>
  (JSON.parse(out.trim().split('\n').pop() as string) as { value: string }).value

describeWithRedis('QueryStore L2 across processes', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await createTestRedis('tributary_l2_proc')
  })
  afterAll(() => redis.cleanup())

  it('N processes whose key expired together run exactly one fetcher', async () => {
    const prefix = `${redis.prefix}stampede:`
    const seed = new QueryStore({ l2: redisCache(redis.client, { prefix }) })
    seed.setData(['hot'], 'old', { updatedAt: Date.now() - 60_000 }) // in L2, stale for staleTime 5 s
    await new Promise((resolve) => setTimeout(resolve, 50))
    seed.close()
    expect(await redis.client.exists(`${prefix}v:["hot"]`)).toBe(1)
    const workers = Array.from({ length: 4 }, () => worker(prefix, 'fetch', 5_000))
    await ready(redis, prefix, workers.length) // every one loaded and waiting for go
    await redis.client.set(`${prefix}go`, '1')
    const values = (await Promise.all(workers.map((w) => w.output))).map(valueOf)
    expect(await redis.client.get(`${prefix}calls`)).toBe('1')
    expect(new Set(values).size).toBe(1)
    expect(values[0]).toMatch(/call 1\)$/)
  }, 30_000)

  it('a lock holder killed mid-fetch is taken over after its lease', async () => {
    const prefix = `${redis.prefix}takeover:`
    await redis.client.set(`${prefix}go`, '1')
    const holder = worker(prefix, 'hang', 600)
    await holder.started
    const taker = worker(prefix, 'fetch', 600)
    await ready(redis, prefix, 2)
    await new Promise((resolve) => setTimeout(resolve, 200)) // the taker is waiting on the lock, not fetching
    expect(await redis.client.get(`${prefix}calls`)).toBe('1')
    process.kill(holder.child.pid as number, 'SIGKILL')
    await expect(holder.output).rejects.toThrow('SIGKILL')
    const value = valueOf(await taker.output)
    expect(value).toMatch(/call 2\)$/)
    expect(await redis.client.get(`${prefix}calls`)).toBe('2')
  }, 30_000)
})
