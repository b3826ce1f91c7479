// Streaming components kept live with watch(): every message once and in order, and after a
// reconnect (the connection killed, the server restarted) the watcher resumes from the last
// message seen — nothing lost, nothing repeated, one error per outage.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import Redis from 'ioredis'
import { Component, natsStreamSource, redisStreamSource, watch, type ComponentUpdate } from 'tributary'
import { REDIS_STREAM_CONNECTION_NAME } from '../../../src/sources/redis-stream/redis-stream-watcher'
import { describeWithRedisServer, freePort, ownRedis, type OwnRedis } from '../../support/own-redis'
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

/** True when `nats-server` can be run here. */
const hasNatsServer: boolean = (() => {
  const probe = spawnSync('nats-server', ['--version'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
})()
const describeWithNatsServer = hasNatsServer ? describe : describe.skip
if (!hasNatsServer) console.log('skipping the NATS restart suite: nats-server is not installed')

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
