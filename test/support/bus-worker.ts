/**
 * Run by test/integration/transports/multi-process.test.ts as a child process:
 * `bus-worker.ts <redis-streams|nats> <redisUrl> <natsUrl> <prefix> <work|hold>`. Bridges a bus
 * in group `workers` and handles `Job` events with two handlers:
 *
 * - `effect`, idempotent (a Redis seen-set): INCR `<prefix>effect:<n>` — the side effect that must
 *   happen once per event however often it is delivered;
 * - `record`: RPUSH `<prefix>handled` n (every delivery that completed). In mode `hold` it
 *   waits until `effect` is done for the event, RPUSHes n to `<prefix>held` and never returns,
 *   so the process holds unacknowledged events until it is SIGKILLed.
 *
 * Counts itself in `<prefix>ready` once bridged; closes its bridge and exits 0 on SIGTERM.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import Redis from 'ioredis'
import { AsyncEventBus } from '../../src/events/event-bus'
import { deliveryOf } from '../../src/events/bridge'
import { idempotent, redisSeenSet } from '../../src/transports/idempotency'
import { natsTransport } from '../../src/transports/nats/nats-transport'
import { redisStreamsTransport } from '../../src/transports/redis-streams/redis-streams-transport'
import type { Transport } from '../../src/transports/transport'

/** The event the workers share (wire name `Job`). */
export class Job {
  constructor(readonly n: number) {}
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function main(): Promise<void> {
  const [kind, redisUrl, natsUrl, prefix, mode] = process.argv.slice(2) as [
    string,
    string,
    string,
    string,
    string,
  ]
  const redis = new Redis(redisUrl)
  let nc: NatsConnection | undefined
  let transport: Transport
  if (kind === 'nats') {
    nc = await connect({ servers: natsUrl })
    transport = natsTransport(nc, { stream: prefix.toUpperCase(), prefix, expires: 1_000 })
  } else {
    transport = redisStreamsTransport(redis, { prefix, block: 200 })
  }
  const seen = redisSeenSet(redis, { prefix: `${prefix}seen:` })
  const bus = new AsyncEventBus()
  bus.on(
    Job,
    idempotent(
      async (job: Job) => {
        await redis.incr(`${prefix}effect:${job.n}`)
      },
      { seen, name: 'effect' },
    ),
  )
  bus.on(Job, async (job) => {
    if (mode === 'hold') {
      const key = `${prefix}seen:effect:${deliveryOf(job)?.id ?? ''}`
      while ((await redis.get(key)) !== 'done') await sleep(5)
      await redis.rpush(`${prefix}held`, String(job.n))
      await new Promise(() => undefined) // held until SIGKILL
    }
    await sleep(2)
    await redis.rpush(`${prefix}handled`, String(job.n))
  })
  await bus.bridge(transport, {
    events: [Job],
    group: 'workers',
    prefetch: 8,
    ackWait: 1_000,
    backoff: { initialDelay: 50, maxDelay: 200 },
  })
  await redis.incr(`${prefix}ready`)
  process.once('SIGTERM', () => {
    void (async () => {
      await bus.close()
      await nc?.close()
      redis.disconnect()
      process.exit(0)
    })()
  })
}

main().catch((error: unknown) => {
  process.stderr.write(String(error) + '\n')
  process.exit(1)
})
