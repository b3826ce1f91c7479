/**
 * Events across instances, side by side in one run: bridged emit → handler throughput in group
 * mode (a bus bridged over a transport; emits are published, the group's consumer runs the
 * handler and acknowledges) against the same messages sent and consumed by hand with the raw
 * client, and against BullMQ for group delivery (a Queue and a Worker on the same Redis).
 *
 * - Redis Streams: `bus.emit` over `redisStreamsTransport` against XADD / XREADGROUP / XACK
 *   written with ioredis. Goal (issue 19): at least 0.8x the raw client's throughput (a time
 *   ratio of <= 1.25x).
 * - The same bridged bus against BullMQ `queue.add` + `Worker` (concurrency = the prefetch).
 * - NATS JetStream: `bus.emit` over `natsTransport` against `js.publish` + a durable pull
 *   consumer's `consume()` + `ack()` written with the NATS client. Same goal.
 *
 * Each run sends MESSAGES (4,000) messages at once (all in flight) and ends when the handler has run
 * for every one of them. Needs Redis at TRIBUTARY_REDIS_URL (default redis://127.0.0.1:6379);
 * the NATS cases run when NATS with JetStream answers at TRIBUTARY_NATS_URL (default
 * nats://127.0.0.1:4222).
 *
 * Run: `npm run bench -- distributed`
 */
import { randomUUID } from 'node:crypto'
import Redis from 'ioredis'
import { AsyncEventBus, natsTransport, redisStreamsTransport } from '../src'
import { compare, report, type BenchCase, type ComparisonResult } from './support/harness'

const MESSAGES = 4_000
const PREFETCH = 64
const redisUrl = process.env.TRIBUTARY_REDIS_URL ?? 'redis://127.0.0.1:6379'
const natsUrl = process.env.TRIBUTARY_NATS_URL ?? 'nats://127.0.0.1:4222'

class Job {
  constructor(readonly n: number) {}
}

/** Counts handler runs; `round()` resolves when MESSAGES more have run. */
class Counter {
  private count = 0
  private target = Infinity
  private done: () => void = () => undefined
  sink = 0

  hit(n: number): void {
    this.sink += n
    if (++this.count >= this.target) this.done()
  }

  round(send: () => Promise<unknown>): Promise<void> {
    const finished = new Promise<void>((resolve) => (this.done = resolve))
    this.target = this.count + MESSAGES
    return Promise.all([send(), finished]).then(() => undefined)
  }
}

const sendAll = (send: (n: number) => Promise<unknown>) => (): Promise<unknown> =>
  Promise.all(Array.from({ length: MESSAGES }, (_, n) => send(n)))

const field = (fields: string[], name: string): string | undefined => {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

type Entry = [string, string[]]

/** Group delivery over Redis Streams written by hand: XADD, XREADGROUP (COUNT = prefetch), handler, XACK. */
async function rawStreams(prefix: string, counter: Counter): Promise<BenchCase & { close(): Promise<void> }> {
  const client = new Redis(redisUrl)
  const reader = client.duplicate()
  const stream = `${prefix}:raw`
  await client.xgroup('CREATE', stream, 'bench', '$', 'MKSTREAM')
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const reply = (await reader.call(
        'XREADGROUP',
        'GROUP',
        'bench',
        'c1',
        'COUNT',
        String(PREFETCH),
        'BLOCK',
        '200',
        'STREAMS',
        stream,
        '>',
      )) as Array<[string, Entry[]]> | null
      const entries = reply?.[0]?.[1] ?? []
      if (entries.length === 0) continue
      // Handlers of the batch, then one XACK for the batch.
      await Promise.all(
        entries.map(async ([, fields]) => {
          const job = JSON.parse(field(fields, 'data') ?? '{}') as { n: number }
          counter.hit(job.n)
        }),
      )
      await client.xack(stream, 'bench', ...entries.map(([id]) => id))
    }
  })()
  return {
    label: 'raw XADD/XREADGROUP/XACK',
    run: () =>
      counter.round(
        sendAll((n) =>
          client.xadd(
            stream,
            '*',
            'id',
            randomUUID(),
            'name',
            'Job',
            'v',
            '1',
            'data',
            JSON.stringify({ n }),
          ),
        ),
      ),
    async close() {
      stopped = true
      await loop
      await client.del(stream)
      reader.disconnect()
      client.disconnect()
    },
  }
}

/** A bus bridged in group mode over `transport`; its handler counts. */
async function bridged(
  label: string,
  transport: Parameters<AsyncEventBus['bridge']>[0],
  counter: Counter,
): Promise<BenchCase & { close(): Promise<void> }> {
  const bus = new AsyncEventBus()
  bus.on(Job, async (job) => counter.hit(job.n))
  await bus.bridge(transport, { events: [Job], group: 'bench', prefetch: PREFETCH })
  return {
    label,
    run: () => counter.round(sendAll((n) => bus.emit(new Job(n)))),
    close: async () => void (await bus.close()),
  }
}

/** BullMQ: a Queue and a Worker (concurrency = the prefetch) on the same Redis. */
async function bullmq(prefix: string, counter: Counter): Promise<BenchCase & { close(): Promise<void> }> {
  const { Queue, Worker } = await import('bullmq')
  const connection = { url: redisUrl, maxRetriesPerRequest: null }
  const name = `${prefix}-bullmq`
  const queue = new Queue(name, { connection })
  const worker = new Worker(
    name,
    async (job) => {
      counter.hit((job.data as { n: number }).n)
    },
    { connection, concurrency: PREFETCH },
  )
  await worker.waitUntilReady()
  return {
    label: 'BullMQ queue.add + Worker',
    run: () =>
      counter.round(sendAll((n) => queue.add('job', { n }, { removeOnComplete: true, removeOnFail: true }))),
    async close() {
      await worker.close()
      await queue.obliterate({ force: true })
      await queue.close()
    },
  }
}

async function natsCases(
  counter: Counter,
): Promise<{ ours: BenchCase; raw: BenchCase; close(): Promise<void> } | undefined> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstream, jetstreamManager, AckPolicy } = await import('@nats-io/jetstream')
  let nc: Awaited<ReturnType<typeof connect>>
  try {
    nc = await connect({ servers: natsUrl, timeout: 1_000 })
  } catch {
    console.log(`NATS not reachable at ${natsUrl}: the NATS cases are skipped`)
    return undefined
  }
  const jsm = await jetstreamManager(nc)
  const js = jetstream(nc)
  const stream = `BENCH_${process.pid}`
  const prefix = `bench${process.pid}`
  const ours = await bridged('bus.emit over natsTransport', natsTransport(nc, { stream, prefix }), counter)
  const rawSubject = `${prefix}.raw`
  await jsm.streams.update(stream, { subjects: [`${prefix}.events.>`, `${prefix}.dead`, rawSubject] })
  await jsm.consumers.add(stream, {
    durable_name: 'raw',
    ack_policy: AckPolicy.Explicit,
    filter_subject: rawSubject,
  })
  const messages = await (await js.consumers.get(stream, 'raw')).consume({ max_messages: PREFETCH })
  const loop = (async () => {
    for await (const m of messages) {
      counter.hit(m.json<{ n: number }>().n)
      m.ack()
    }
  })()
  const raw: BenchCase = {
    label: 'raw js.publish + consume/ack',
    run: () =>
      counter.round(sendAll((n) => js.publish(rawSubject, JSON.stringify({ n }), { msgID: randomUUID() }))),
  }
  return {
    ours,
    raw,
    async close() {
      await ours.close()
      messages.stop()
      await loop
      await jsm.streams.delete(stream)
      await nc.close()
    },
  }
}

/** Wraps a case so that each run also records the client's CPU time per message (µs, user + system). */
function withCpu<C extends BenchCase>(c: C): C & { cpu: number[] } {
  const cpu: number[] = []
  return {
    ...c,
    cpu,
    run: async () => {
      const start = process.cpuUsage()
      await c.run()
      const used = process.cpuUsage(start)
      cpu.push((used.user + used.system) / MESSAGES)
    },
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function main(): Promise<void> {
  const prefix = `tributary-bench-dist-${process.pid}`
  const client = new Redis(redisUrl)
  const counter = new Counter()
  const ours = await bridged(
    'bus.emit over redisStreamsTransport',
    redisStreamsTransport(client, { prefix, block: 200 }),
    counter,
  )
  const raw = await rawStreams(prefix, counter)
  const bull = await bullmq(prefix, counter)
  // Every case to a steady state (JIT, connections, stream sizes) before any is measured.
  for (let i = 0; i < 10; i++) for (const c of [ours, raw, bull]) await c.run()
  const options = { operationsPerRun: MESSAGES, runs: 15, warmup: 2 }
  const results: ComparisonResult[] = []
  const cpu: Array<[string, number, number]> = []
  // Each comparison gets fresh CPU recorders, so the medians are of that comparison's runs only.
  const side = async (
    key: string,
    name: string,
    a: BenchCase,
    b: BenchCase,
    goal?: string,
  ): Promise<void> => {
    const [x, y] = [withCpu(a), withCpu(b)]
    results.push(await compare(name, x, y, { ...options, ...(goal === undefined ? {} : { goal }) }))
    cpu.push([key, median(x.cpu), median(y.cpu)])
  }
  await side(
    'redisStreams',
    'group delivery over Redis Streams, vs the raw client',
    ours,
    raw,
    '<= 1.25x (>= 0.8x throughput)',
  )
  await side('bullmq', 'group delivery over Redis, vs BullMQ', ours, bull)
  const nats = await natsCases(counter)
  if (nats !== undefined) {
    for (let i = 0; i < 10; i++) for (const c of [nats.ours, nats.raw]) await c.run()
    await side(
      'nats',
      'group delivery over NATS JetStream, vs the raw client',
      nats.ours,
      nats.raw,
      '<= 1.25x (>= 0.8x throughput)',
    )
    await nats.close()
  }
  const perSecond = (ms: number): number => Math.round((MESSAGES / ms) * 1_000)
  const extra: Record<string, number> = {}
  results.forEach((r, i) => {
    const [key, cpuOurs, cpuTheirs] = cpu[i] as [string, number, number]
    extra[`${key}ThroughputRatio`] = r.baselineMs / r.subjectMs
    extra[`${key}OursPerSecond`] = perSecond(r.subjectMs)
    extra[`${key}BaselinePerSecond`] = perSecond(r.baselineMs)
    extra[`${key}CpuUsPerMessageOurs`] = cpuOurs
    extra[`${key}CpuUsPerMessageBaseline`] = cpuTheirs
  })
  report('distributed', results, extra)
  await ours.close()
  await raw.close()
  await bull.close()
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(...keys)
  client.disconnect()
  if (counter.sink < 0) console.log(counter.sink)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
