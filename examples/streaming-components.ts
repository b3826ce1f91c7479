/**
 * Streaming components: a property whose value is the latest message of a stream — a Redis
 * Stream, a NATS JetStream subject, a WebSocket feed. `resolve` gives the latest message;
 * `watch` delivers every new one as an update.
 * Needs Redis at TRIBUTARY_REDIS_URL (default redis://127.0.0.1:6379) and NATS with JetStream at
 * TRIBUTARY_NATS_URL (default 127.0.0.1:4222); without one, says so and skips its part (exit 0).
 * The WebSocket feed is a server of the example's own on a free loopback port.
 * Run: npx ts-node --transpile-only examples/streaming-components.ts
 */
import 'reflect-metadata'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import Redis from 'ioredis'
import { WebSocketServer } from 'ws'
import {
  Component,
  natsStreamSource,
  redisStreamSource,
  watch,
  websocketSource,
  type ComponentUpdate,
} from '../src'

const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'
const natsUrl = process.env.TRIBUTARY_NATS_URL ?? '127.0.0.1:4222'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const show = (u: ComponentUpdate): string =>
  u.kind === 'updated'
    ? `${u.property}: ${JSON.stringify(u.oldValue)} → ${JSON.stringify(u.newValue)}`
    : u.kind

async function redisStream(): Promise<void> {
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => undefined)
  try {
    await client.connect()
  } catch {
    console.log(
      `Redis is not reachable at ${redisUrl}; start it (redis-server --port 6379) for the Redis Stream part.`,
    )
    client.disconnect()
    return
  }
  const key = `example:flags:${process.pid}`
  try {
    await client.xadd(key, '*', 'theme', 'light', 'rps', '10')
    class Flags {
      @Component({ fetchFrom: 'redis-stream', key, field: 'theme' }) theme!: string
      @Component({ fetchFrom: 'redis-stream', key, field: 'rps' }) rps!: number
    }
    const live = await watch(Flags, { sources: [redisStreamSource(client)] })
    console.log(`redis-stream resolved: theme=${live.current.theme} rps=${live.current.rps}`)
    live.onUpdate((u) => console.log(`redis-stream update ${show(u)}`))
    await client.xadd(key, '*', 'theme', 'dark', 'rps', '25') // XADD: one entry, two updates
    await sleep(200)
    await live.stop()
  } finally {
    await client.del(key)
    client.disconnect()
  }
}

async function natsSubject(): Promise<void> {
  let nc
  try {
    nc = await connect({ servers: natsUrl, timeout: 1_000, reconnect: false })
  } catch {
    console.log(
      `NATS is not reachable at ${natsUrl}; start it (nats-server -js) for the NATS JetStream part.`,
    )
    return
  }
  const stream = `EXAMPLE_${process.pid}`
  const jsm = await jetstreamManager(nc)
  try {
    await jsm.streams.add({ name: stream, subjects: [`example${process.pid}.>`] })
    const js = jetstream(nc)
    const subject = `example${process.pid}.limits`
    await js.publish(subject, JSON.stringify({ rps: 50 }))
    class Limits {
      @Component({ fetchFrom: 'nats', key: subject, field: 'rps' }) rps!: number
    }
    const live = await watch(Limits, { sources: [natsStreamSource(nc, { stream })] })
    console.log(`nats resolved: rps=${live.current.rps} (the subject's last message)`)
    live.onUpdate((u) => console.log(`nats update ${show(u)}`))
    for (const rps of [75, 100]) await js.publish(subject, JSON.stringify({ rps }))
    await sleep(200)
    await live.stop()
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined)
    await nc.close()
  }
}

async function websocketFeed(): Promise<void> {
  // A feed of our own: each client gets the current price on connect, then every change.
  let price = 1.08
  const wss = new WebSocketServer({ noServer: true })
  const server = createServer()
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify({ pair: 'EURUSD', price }))),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`
  try {
    class Ticker {
      @Component({ fetchFrom: 'websocket', key: 'prices/eurusd', field: 'price' }) eurusd!: number
    }
    const live = await watch(Ticker, { sources: [websocketSource({ url })] })
    console.log(`websocket resolved: eurusd=${live.current.eurusd} (the first message)`)
    live.onUpdate((u) => console.log(`websocket update ${show(u)}`))
    await sleep(100) // the watcher's own connection
    for (const next of [1.09, 1.1]) {
      price = next
      for (const client of wss.clients) client.send(JSON.stringify({ pair: 'EURUSD', price }))
    }
    await sleep(200)
    await live.stop()
  } finally {
    for (const client of wss.clients) client.terminate()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

async function main(): Promise<void> {
  await redisStream()
  await natsSubject()
  await websocketFeed()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
