// Shared upstream watches, counted at the wire: two classes (and two components of one class)
// watching the same key open one Consul blocking stream, one HTTP poller, one Vault poller and
// one Redis subscriber connection; one stop() of two leaves the other receiving, the last one
// closes the upstream.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Consul from 'consul'
import Redis from 'ioredis'
import {
  Component,
  consulSource,
  httpSource,
  redisSource,
  sharedWatchStats,
  vaultSource,
  watch,
  type ConsulClientLike,
  type LiveComponents,
  type WatchableSource,
} from 'tributary'
import { startConsulDouble } from '../../support/consul-double'
import { describeWithRedisServer, ownRedis } from '../../support/own-redis'
import { startVaultDouble } from '../../support/vault-double'
import { startHoldingProxy, type HoldingProxy } from './holding-proxy'
import { logUpdates, sleep } from './live-log'

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}

/** How many upstreams are open once one is, and any second one has had time to show up. */
async function openUpstreams(open: () => Promise<number> | number): Promise<number> {
  await waitFor(async () => (await open()) >= 1)
  await sleep(200)
  return open()
}

/** Three components on one key: two in one class, one in another. */
function sharedClasses(fetchFrom: string, key: string, extra: { field?: string; pollInterval: number }) {
  class First {
    @Component({ fetchFrom, key, ...extra }) a!: string
    @Component({ fetchFrom, key, ...extra }) b!: string
  }
  class Second {
    @Component({ fetchFrom, key, ...extra }) c!: string
  }
  return { First, Second }
}

/** While new requests are held, how many pollers have one open (each has at most one). */
async function heldPollers(proxy: HoldingProxy, prefix: string): Promise<number> {
  proxy.hold()
  try {
    await waitFor(() => proxy.inFlight(prefix) >= 1)
    await sleep(250) // several poll rounds of any second poller (Vault's shortest wait is 100 ms)
    return proxy.inFlight(prefix)
  } finally {
    proxy.release()
  }
}

/** Nothing is open or sent any more for `prefix`. */
async function expectQuiet(proxy: HoldingProxy, prefix: string): Promise<void> {
  await waitFor(() => proxy.inFlight(prefix) === 0)
  const sent = proxy.requests.length
  await sleep(150)
  expect(proxy.requests.length).toBe(sent)
}

/** Checks the three components follow `next`, one stop of two leaves the other following. */
async function followAndStop(
  source: WatchableSource,
  first: LiveComponents<{ a: string; b: string }>,
  second: LiveComponents<{ c: string }>,
  change: (value: string) => Promise<void> | void,
  open: () => Promise<number> | number,
  quiet: () => Promise<void>,
): Promise<void> {
  expect(sharedWatchStats(source)).toEqual({ upstreams: 1, subscribers: 3 })
  await change('v2')
  await waitFor(() => first.current.a === 'v2' && first.current.b === 'v2' && second.current.c === 'v2')
  await first.stop()
  expect(sharedWatchStats(source)).toEqual({ upstreams: 1, subscribers: 1 })
  const log = logUpdates(second)
  await change('v3')
  await log.until(() => second.current.c === 'v3')
  expect(first.current).toMatchObject({ a: 'v2', b: 'v2' })
  expect(await open()).toBe(1)
  await second.stop()
  expect(sharedWatchStats(source)).toEqual({ upstreams: 0, subscribers: 0 })
  await quiet()
}

describe('shared upstream watches, counted at the wire', () => {
  it('Consul: one blocking stream for three components in two classes', async () => {
    const double = await startConsulDouble()
    const proxy = await startHoldingProxy(double.port)
    const client = new Consul({ host: '127.0.0.1', port: proxy.port }) as unknown as ConsulClientLike
    try {
      double.set('app/mode', 'v1')
      const consul = consulSource({ client, churnInterval: 20 })
      const { First, Second } = sharedClasses('consul', 'app/mode', { pollInterval: 60_000 })
      const first = await watch(First, { sources: [consul] })
      const second = await watch(Second, { sources: [consul] })
      const streams = (): Promise<number> => openUpstreams(() => proxy.inFlight('/v1/kv/app/mode?index='))
      expect(await streams()).toBe(1)
      await followAndStop(
        consul,
        first,
        second,
        (v) => void double.set('app/mode', v),
        streams,
        () => expectQuiet(proxy, '/v1/kv/app/mode'),
      )
      // one stream: every index was asked for once
      const indexes = proxy.requests.flatMap((r) => /index=(\d+)/.exec(r)?.[1] ?? [])
      expect(new Set(indexes).size).toBe(indexes.length)
      expect(indexes.length).toBeGreaterThanOrEqual(3)
    } finally {
      client.destroy?.()
      await proxy.close()
      await double.close()
    }
  })

  it('HTTP: one poller for three components in two classes', async () => {
    let body = 'v1'
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', etag: `"${body}"` })
      res.end(body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const proxy = await startHoldingProxy((server.address() as AddressInfo).port)
    try {
      const http = httpSource({ baseUrl: proxy.url })
      const { First, Second } = sharedClasses('http', '/mode.txt', { pollInterval: 20 })
      const first = await watch(First, { sources: [http] })
      const second = await watch(Second, { sources: [http] })
      expect(await heldPollers(proxy, '/mode.txt')).toBe(1)
      await followAndStop(
        http,
        first,
        second,
        (v) => {
          body = v
        },
        () => heldPollers(proxy, '/mode.txt'),
        () => expectQuiet(proxy, '/mode.txt'),
      )
    } finally {
      await proxy.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('Vault: one poller for three components in two classes', async () => {
    const vault = await startVaultDouble()
    const proxy = await startHoldingProxy(Number(new URL(vault.url).port))
    try {
      vault.setSecret('secret/app', { mode: 'v1' })
      const source = vaultSource({ endpoint: proxy.url, token: vault.token })
      const { First, Second } = sharedClasses('vault', 'secret/data/app', { field: 'mode', pollInterval: 20 })
      const first = await watch(First, { sources: [source] })
      const second = await watch(Second, { sources: [source] })
      const path = '/v1/secret/data/app'
      expect(await heldPollers(proxy, path)).toBe(1)
      await followAndStop(
        source,
        first,
        second,
        (v) => {
          vault.setSecret('secret/app', { mode: v })
        },
        () => heldPollers(proxy, path),
        () => expectQuiet(proxy, path),
      )
      await source.close?.()
    } finally {
      await proxy.close()
      await vault.close()
    }
  })
})

describeWithRedisServer('shared upstream watches on Redis (a server of its own)', () => {
  it('one keyspace subscriber connection for three components in two classes', async () => {
    const server = await ownRedis()
    await server.start(['--notify-keyspace-events', 'KA'])
    const client = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true })
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.set('mode', 'v1')
      const redis = redisSource(client)
      const { First, Second } = sharedClasses('redis', 'mode', { pollInterval: 60_000 })
      const first = await watch(First, { sources: [redis] })
      const second = await watch(Second, { sources: [redis] })
      const subscribers = async (): Promise<number> => {
        const [, count] = (await client.pubsub('NUMSUB', '__keyspace@0__:mode')) as [string, number]
        return Number(count)
      }
      const connections = async (): Promise<number> =>
        String(await client.client('LIST'))
          .trim()
          .split('\n').length
      expect(await openUpstreams(subscribers)).toBe(1)
      expect(await connections()).toBe(2) // the source's client and one subscriber
      await followAndStop(
        redis,
        first,
        second,
        async (v) => void (await client.set('mode', v)),
        subscribers,
        () => waitFor(async () => (await subscribers()) === 0 && (await connections()) === 1),
      )
    } finally {
      client.disconnect()
      await server.kill()
    }
  })
})
