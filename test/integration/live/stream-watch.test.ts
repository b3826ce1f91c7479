// Streaming components kept live with watch(): every message once and in order, and after a
// reconnect (the connection killed, the server restarted) the watcher resumes from the last
// message seen — nothing lost, nothing repeated, one error per outage.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import Redis from 'ioredis'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  Component,
  natsStreamSource,
  redisStreamSource,
  watch,
  websocketSource,
  type ComponentUpdate,
} from 'tributary'
import { REDIS_STREAM_CONNECTION_NAME } from '../../../src/sources/redis-stream/redis-stream-watcher'
import { describeWithRedisServer, freePort, ownRedis, type OwnRedis } from '../../support/own-redis'
import { describeWithBinary } from '../../support/services'
import { logUpdates, sleep } from './live-log'
import { startToggleProxy } from './toggle-proxy'

/** The `newValue`s of the value updates, in order. */
const values = (updates: readonly ComponentUpdate[]): unknown[] =>
  updates.flatMap((u) => (u.kind === 'updated' || u.kind === 'added' ? [u.newValue] : []))
const errors = (updates: readonly ComponentUpdate[]): ComponentUpdate[] =>
  updates.filter((u) => u.kind === 'error')

/** Runs `command` until it succeeds (the server may be coming back). */
async function whenUp<T>(command: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await command()
    } catch (error) {
      if (tries > 250) throw error
      await sleep(20)
    }
  }
}

describeWithRedisServer('watch() on a Redis Stream: resume after a reconnect', () => {
  let server: OwnRedis
  const clients: Redis[] = []
  beforeAll(async () => {
    server = await ownRedis()
    await server.start()
  })
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect()
  })
  afterAll(() => server?.kill())

  const connect = (): Redis => {
    const client = new Redis({
      host: '127.0.0.1',
      port: server.port,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 20,
      disconnectTimeout: 0,
    })
    client.on('error', () => undefined)
    clients.push(client)
    return client
  }
  /** Kills the watcher's reading connection (CLIENT KILL by its id). */
  const killReader = async (admin: Redis): Promise<void> => {
    const list = String(await admin.client('LIST'))
    const ids = [...list.matchAll(/^id=(\d+) .*name=(\S*)/gm)]
      .filter((m) => m[2] === REDIS_STREAM_CONNECTION_NAME)
      .map((m) => m[1] as string)
    expect(ids).toHaveLength(1)
    await admin.client('KILL', 'ID', ids[0] as string)
  }

  it('each entry once, in order, through a killed connection and a restart of Redis', async () => {
    const admin = connect()
    const key = `stream-watch:${process.pid}:${Date.now()}`
    await admin.xadd(key, '*', 'v', 'm0')
    class Feed {
      @Component({ fetchFrom: 'redis-stream', key, field: 'v' }) latest!: string
    }
    const live = await watch(Feed, {
      sources: [redisStreamSource(connect(), { blockTimeout: 1_000 })],
      backoff: { initialDelay: 300, maxDelay: 300 },
    })
    const log = logUpdates(live)
    try {
      expect(live.current.latest).toBe('m0')
      // Added at once: the watcher reads on from the entry watch() resolved, none is skipped.
      for (const v of ['m1', 'm2', 'm3']) await admin.xadd(key, '*', 'v', v)
      await log.until((u) => values(u).length === 3)

      // The connection killed: entries added during the backoff come after it, once.
      await killReader(admin)
      await log.until((u) => errors(u).length === 1)
      for (const v of ['m4', 'm5']) await admin.xadd(key, '*', 'v', v)
      await log.until((u) => values(u).length === 5)
      await admin.xadd(key, '*', 'v', 'm6')
      await log.until((u) => values(u).length === 6)

      // Redis restarted (without persistence: the stream starts again, with greater ids).
      await server.kill()
      await log.until((u) => errors(u).length === 2)
      await server.start()
      for (const v of ['m7', 'm8']) await whenUp(() => admin.xadd(key, '*', 'v', v))
      await log.until((u) => values(u).length === 8)
      await admin.del(key)
    } finally {
      await live.stop()
    }
    expect(values(log.updates)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
    expect(errors(log.updates)).toHaveLength(2)
    const error = errors(log.updates)[0]
    expect(error?.kind === 'error' && (error.error as Error).message).toContain(key)
    expect(live.current.latest).toBe('m8')
  })
})

const describeWithNatsServer = describeWithBinary(
  'nats-server',
  'nats-server is not installed (apt-get install -y nats-server); the restart suite needs its own server',
)

/** A `nats-server -js` of the test's own on a free port, with a store that survives a SIGKILL. */
async function ownNats(): Promise<{
  port: number
  start(): Promise<void>
  kill(): Promise<void>
  remove(): void
}> {
  const port = await freePort()
  const store = mkdtempSync(join(tmpdir(), 'tributary-nats-'))
  let child: ChildProcess | undefined
  return {
    port,
    async start() {
      const started = spawn('nats-server', ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      child = started
      await new Promise<void>((resolve, reject) => {
        let output = ''
        const onData = (chunk: Buffer): void => {
          output += chunk.toString()
          if (output.includes('Server is ready')) {
            started.stderr?.off('data', onData)
            started.stderr?.resume()
            resolve()
          }
        }
        started.stderr?.on('data', onData)
        started.once('exit', (code) =>
          reject(new Error(`nats-server exited (${code}): ${output.slice(-500)}`)),
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
    remove: () => rmSync(store, { recursive: true, force: true }),
  }
}

describeWithNatsServer('watch() on a NATS JetStream subject: resume after a reconnect', () => {
  it('each message once, in order, through a cut connection and a restart of the server', async () => {
    const server = await ownNats()
    await server.start()
    const proxy = await startToggleProxy(server.port)
    const options = { maxReconnectAttempts: -1, reconnectTimeWait: 100 }
    const publisher: NatsConnection = await connect({ servers: `127.0.0.1:${server.port}`, ...options })
    const watched: NatsConnection = await connect({ servers: `127.0.0.1:${proxy.port}`, ...options })
    const js = jetstream(publisher)
    const stream = 'FEED'
    const publish = (v: string): Promise<unknown> =>
      whenUp(() => js.publish('feed.latest', JSON.stringify({ v }), { timeout: 1_000 }))
    try {
      await (await jetstreamManager(publisher)).streams.add({ name: stream, subjects: ['feed.>'] })
      await publish('m0')
      class Feed {
        @Component({ fetchFrom: 'nats', key: 'feed.latest', field: 'v' }) latest!: string
      }
      const live = await watch(Feed, {
        sources: [natsStreamSource(watched, { stream })],
        backoff: { initialDelay: 100, maxDelay: 100 },
      })
      const log = logUpdates(live)
      try {
        expect(live.current.latest).toBe('m0')
        // Published at once: the consumer starts after the message watch() resolved.
        for (const v of ['m1', 'm2', 'm3']) await publish(v)
        await log.until((u) => values(u).length === 3)

        // The watcher's connection cut: messages published meanwhile come after the reconnect, once.
        await proxy.down()
        await log.until((u) => errors(u).length === 1)
        for (const v of ['m4', 'm5']) await publish(v)
        await proxy.up()
        await log.until((u) => values(u).length === 5)
        await publish('m6')
        await log.until((u) => values(u).length === 6)

        // The server killed and restarted on its store.
        await server.kill()
        await log.until((u) => errors(u).length === 2)
        await server.start()
        for (const v of ['m7', 'm8']) await publish(v)
        await log.until((u) => values(u).length === 8)
      } finally {
        await live.stop()
      }
      expect(values(log.updates)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
      expect(errors(log.updates)).toHaveLength(2)
      const error = errors(log.updates)[0]
      expect(error?.kind === 'error' && (error.error as Error).message).toContain('feed.latest')
    } finally {
      await watched.close()
      await publisher.close()
      await proxy.close()
      await server.kill()
      server.remove()
    }
  })
})

/**
 * A WebSocket feed on a loopback port: every client gets the current state on connect and each
 * `send` after; it can drop its connections, or go away and come back on the same port.
 */
async function startLiveFeed(port = 0): Promise<{
  readonly port: number
  readonly clients: Set<WebSocket>
  /** How many connections were accepted in all. */
  connections(): number
  send(state: string): void
  drop(): void
  close(): Promise<void>
}> {
  let state = ''
  let accepted = 0
  const clients = new Set<WebSocket>()
  const wss = new WebSocketServer({ noServer: true })
  let server: Server | undefined
  const listen = async (at: number): Promise<number> => {
    const s = createServer()
    s.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        clients.add(ws)
        accepted += 1
        ws.on('close', () => clients.delete(ws))
        ws.send(JSON.stringify({ v: state }))
      }),
    )
    await new Promise<void>((done) => s.listen(at, '127.0.0.1', done))
    server = s
    return (s.address() as AddressInfo).port
  }
  const drop = (): void => {
    for (const client of clients) client.terminate()
  }
  const bound = await listen(port)
  return {
    port: bound,
    clients,
    connections: () => accepted,
    send(next) {
      state = next
      for (const client of clients) client.send(JSON.stringify({ v: next }))
    },
    drop,
    async close() {
      drop()
      const s = server
      server = undefined
      if (s) await new Promise<void>((done) => s.close(() => done()))
    },
    // Re-listening is done by starting a new feed on the same port (see the test).
  }
}

describe('watch() on a WebSocket feed: reconnect with backoff', () => {
  const until = async (check: () => boolean, timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition not met in time')
      await sleep(10)
    }
  }

  it('each message once, in order, through dropped connections and the feed going away', async () => {
    let feed = await startLiveFeed()
    const { port } = feed
    feed.send('m0')
    class Ticker {
      @Component({ fetchFrom: 'websocket', key: 'live', field: 'v' }) latest!: string
    }
    const live = await watch(Ticker, {
      sources: [websocketSource({ url: `ws://127.0.0.1:${port}/` })],
      backoff: { initialDelay: 50, maxDelay: 100 },
    })
    const log = logUpdates(live)
    try {
      expect(live.current.latest).toBe('m0')
      // The resolve's connection closed, the watcher's open (it got m0: no change).
      await until(() => feed.connections() === 2 && feed.clients.size === 1)
      for (const v of ['m1', 'm2', 'm3']) feed.send(v)
      await log.until((u) => values(u).length === 3)

      // The server drops the connection: one error, a reconnect after the backoff.
      feed.drop()
      await log.until((u) => errors(u).length === 1)
      await until(() => feed.connections() === 3 && feed.clients.size === 1)
      for (const v of ['m4', 'm5']) feed.send(v)
      await log.until((u) => values(u).length === 5)

      // The feed goes away for several backoff rounds (still one error), then comes back.
      await feed.close()
      await log.until((u) => errors(u).length === 2)
      await sleep(400)
      feed = await startLiveFeed(port)
      feed.send('m6') // the state a reconnecting client gets first
      await log.until((u) => values(u).length === 6)
      await until(() => feed.clients.size === 1)
      feed.send('m7')
      await log.until((u) => values(u).length === 7)
    } finally {
      await live.stop()
      await feed.close()
    }
    expect(values(log.updates)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'])
    expect(errors(log.updates)).toHaveLength(2)
    const error = errors(log.updates)[1]
    expect(error?.kind === 'error' && (error.error as Error).message).toContain(`ws://127.0.0.1:${port}/live`)
  })
})
