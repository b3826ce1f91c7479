/**
 * A {@link Transport} over Redis Streams: one stream per event name (XADD), a consumer group
 * per bridge group (group mode) or per instance (broadcast mode, destroyed on close),
 * XREADGROUP to receive, XACK to acknowledge, XCLAIM after the backoff to redeliver a failed
 * message, and an XAUTOCLAIM loop that takes over messages whose consumer went quiet for
 * longer than `ackWait` (it died). Delivery counts are Redis's own (XPENDING).
 */
import { TransportClosedError, TransportError, TransportOptionsError, checkTransportOptions } from '../errors'
import { checks } from '../../core/option-checks'
import type {
  DeadLetterReason,
  OutgoingMessage,
  StoredDeadLetter,
  SubscribeSpec,
  Transport,
  TransportDelivery,
  TransportSubscription,
} from '../transport'

/** A MULTI batch (ioredis' `multi()`), as the transport uses it. */
export interface RedisStreamsBatch {
  call(command: string, ...args: Array<string | number>): RedisStreamsBatch
  exec(): Promise<unknown>
}

/** The connection `duplicate()` gives for blocking reads; an ioredis `Redis` fits. */
export interface RedisStreamsReader {
  connect(): Promise<unknown>
  call(command: string, ...args: Array<string | number>): Promise<unknown>
  disconnect(): void
}

/**
 * The parts of an ioredis client the transport uses, as structural types: an ioredis `Redis`
 * fits, and an application without ioredis installed type-checks against tributary's declarations.
 */
export interface RedisStreamsClient {
  call(command: string, ...args: Array<string | number>): Promise<unknown>
  multi(): RedisStreamsBatch
  duplicate(options: { lazyConnect: boolean; maxRetriesPerRequest: null }): RedisStreamsReader
}

/** Options for {@link redisStreamsTransport}. */
export interface RedisStreamsTransportOptions {
  /** Prefix of the stream keys (`<prefix>:events:<name>`, `<prefix>:dead`). Defaults to `'tributary'`. */
  prefix?: string
  /** Trims each stream to about this many entries (`XADD MAXLEN ~`). Defaults to no trimming. */
  maxLength?: number
  /** How long one XREADGROUP blocks, in ms. Defaults to 1,000. */
  block?: number
}

type Entry = [string, string[]]

const NAME = 'redis-streams'

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

/** The entry's version: NaN when it has none (a missing or empty `v`, which `Number` would read as 0). */
function versionIn(fields: string[]): number {
  const text = field(fields, 'v')
  return text === undefined || text === '' ? Number.NaN : Number(text)
}

/**
 * Carries bus events over Redis Streams with the `ioredis` client you pass (it is not closed by
 * the transport; each subscription opens one duplicate connection for its blocking reads).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { AsyncEventBus, redisStreamsTransport } from 'tributary'
 * const transport = redisStreamsTransport(new Redis(), { prefix: 'app' })
 * await bus.bridge(transport, { events: [UserCreated], group: 'mailer' })
 * ```
 */
export function redisStreamsTransport(
  client: RedisStreamsClient,
  options: RedisStreamsTransportOptions = {},
): Transport {
  if (typeof client?.duplicate !== 'function')
    throw new TransportOptionsError('redisStreamsTransport', 'client', 'must be an ioredis client')
  checkTransportOptions('redisStreamsTransport', options, {
    prefix: checks.name,
    maxLength: checks.integer(1),
    block: checks.duration({ positive: true, finite: true }),
  })
  const prefix = options.prefix ?? 'tributary'
  const block = options.block ?? 1_000
  const trim: string[] = options.maxLength === undefined ? [] : ['MAXLEN', '~', String(options.maxLength)]
  const streamOf = (name: string): string => `${prefix}:events:${name}`
  const deadKey = `${prefix}:dead`
  const subscriptions = new Set<TransportSubscription>()
  let closed = false

  return {
    name: NAME,
    publish(message: OutgoingMessage): Promise<unknown> {
      if (closed) return Promise.reject(new TransportClosedError(NAME, `publish(${message.name})`))
      // The client's promise as it is (the bridge wraps a failure in a TransportError): one promise per emit.
      return client.call(
        'XADD',
        streamOf(message.name),
        ...trim,
        '*',
        'id',
        message.id,
        'name',
        message.name,
        'v',
        String(message.version),
        'data',
        message.data,
      )
    },
    async subscribe(spec, onDelivery) {
      if (closed) throw new TransportClosedError(NAME, 'subscribe')
      const subscription = await subscribeStreams(client, spec, onDelivery, streamOf, deadKey, block, () =>
        subscriptions.delete(subscription),
      )
      subscriptions.add(subscription)
      return subscription
    },
    async deadLetters(limit = 100): Promise<StoredDeadLetter[]> {
      const entries = (await client.call('XRANGE', deadKey, '-', '+', 'COUNT', String(limit))) as Entry[]
      return entries.map(([, fields]) => ({
        id: field(fields, 'id') ?? '',
        name: field(fields, 'name') ?? '',
        version: versionIn(fields),
        data: field(fields, 'data') ?? '',
        deliveries: Number(field(fields, 'deliveries')),
        errorName: field(fields, 'errorName') ?? '',
        errorMessage: field(fields, 'errorMessage') ?? '',
      }))
    },
    async close(): Promise<void> {
      closed = true
      await Promise.all([...subscriptions].map((s) => s.close()))
    },
  }
}

async function subscribeStreams(
  client: RedisStreamsClient,
  spec: SubscribeSpec,
  onDelivery: (delivery: TransportDelivery) => void,
  streamOf: (name: string) => string,
  deadKey: string,
  block: number,
  onClosed: () => void,
): Promise<TransportSubscription> {
  const streams = spec.names.map(streamOf)
  const group = spec.mode === 'group' ? spec.group : `${spec.group}:broadcast:${spec.consumer}`
  const consumer = spec.consumer
  for (const stream of streams) {
    try {
      // A group reads what was published before its first instance; a broadcast consumer only what follows.
      await client.call('XGROUP', 'CREATE', stream, group, spec.mode === 'group' ? '0' : '$', 'MKSTREAM')
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP'))
        throw new TransportError(NAME, 'subscribe', error)
    }
  }
  const reader = client.duplicate({ lazyConnect: true, maxRetriesPerRequest: null })
  await reader.connect()
  let stopped = false
  let outstanding = 0
  const timers = new Set<NodeJS.Timeout>()
  // Read again once half the prefetch is free (or 10 ms after the read loop began to wait): not
  // one round trip — nor one wake-up — per freed slot.
  const low = Math.max(1, Math.floor(spec.prefetch / 2))
  let wake: (() => void) | undefined // the read loop, woken when `low` slots are free
  let drained: (() => void) | undefined // close(), woken when nothing is outstanding
  const slotFreed = (): void => {
    outstanding--
    if (wake !== undefined && spec.prefetch - outstanding >= low) {
      const w = wake
      wake = undefined
      w()
    }
    if (drained !== undefined && outstanding === 0) {
      const d = drained
      drained = undefined
      d()
    }
  }
  /** Until `low` slots are free, at most 10 ms (so a few free slots are used when handlers stall). */
  const waitForRoom = (): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined
        resolve()
      }, 10)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })

  // Acknowledgements made in one turn of the event loop go out as one XACK per stream (one promise for the batch).
  // A delivery's slot is free once its settlement is sent; close() waits for those in flight.
  const acks = new Map<string, { ids: string[]; done: Promise<void> }>()
  const inFlight = new Set<Promise<unknown>>()
  const track = <T>(promise: Promise<T>): Promise<T> => {
    inFlight.add(promise)
    const untrack = (): void => void inFlight.delete(promise)
    promise.then(untrack, untrack)
    return promise
  }
  const ack = (stream: string, id: string): Promise<void> => {
    const batch = acks.get(stream)
    if (batch !== undefined) {
      batch.ids.push(id)
      return batch.done
    }
    const ids = [id]
    const done = track(
      new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        acks.delete(stream)
        return client.call('XACK', stream, group, ...ids).then(() => undefined)
      }),
    )
    acks.set(stream, { ids, done })
    return done
  }

  const settlement: Settlement = {
    ack,
    nack(stream, streamId, delayMs) {
      if (stopped) return Promise.resolve() // stays pending: another instance claims it after ackWait
      const timer = setTimeout(() => {
        timers.delete(timer)
        void reclaim(stream, streamId, delayMs)
      }, delayMs)
      timers.add(timer)
      return Promise.resolve()
    },
    deadLetter(d, reason) {
      return track(
        client
          .multi()
          .call(
            'XADD',
            deadKey,
            '*',
            'id',
            d.id,
            'name',
            d.name,
            'v',
            field(d.fields, 'v') ?? '',
            'data',
            d.data,
            'deliveries',
            String(d.deliveries),
            'errorName',
            reason.errorName,
            'errorMessage',
            reason.errorMessage,
            'stream',
            d.stream,
          )
          .call('XACK', d.stream, group, d.streamId)
          .exec(),
      ).then(() => undefined)
    },
    freed: slotFreed,
  }
  const deliver = (stream: string, entry: Entry, deliveries: number): void => {
    outstanding++
    onDelivery(new StreamDelivery(settlement, stream, entry[0], entry[1], deliveries))
  }

  const countOf = async (stream: string, id: string): Promise<number> => {
    const rows = (await client.call('XPENDING', stream, group, id, id, '1')) as Array<
      [string, string, number, number]
    >
    return rows[0]?.[3] ?? 1
  }

  /** After a nack's backoff: take the message back (unless another instance took it meanwhile). */
  const reclaim = async (stream: string, id: string, minIdle: number): Promise<void> => {
    if (stopped) return
    try {
      const entries = (await client.call(
        'XCLAIM',
        stream,
        group,
        consumer,
        String(Math.max(0, minIdle - 5)),
        id,
      )) as Entry[]
      for (const entry of entries) if (entry?.[1]) deliver(stream, entry, await countOf(stream, id))
    } catch {
      // Left pending: the XAUTOCLAIM loop of some instance picks it up after ackWait.
    }
  }

  const readLoop = async (): Promise<void> => {
    while (!stopped) {
      if (spec.prefetch - outstanding < low) {
        await waitForRoom()
        if (stopped || outstanding >= spec.prefetch) continue
      }
      let reply: Array<[string, Entry[]]> | null
      try {
        reply = (await reader.call(
          'XREADGROUP',
          'GROUP',
          group,
          consumer,
          'COUNT',
          String(spec.prefetch - outstanding),
          'BLOCK',
          String(block),
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        )) as Array<[string, Entry[]]> | null
      } catch {
        if (stopped) return
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      for (const [stream, entries] of reply ?? []) for (const entry of entries) deliver(stream, entry, 1)
    }
  }

  const claimEvery = Math.max(50, Math.min(5_000, Math.floor(spec.ackWait / 2)))
  const claimLoop = async (): Promise<void> => {
    for (const stream of streams) {
      let cursor = '0-0'
      do {
        if (stopped || outstanding >= spec.prefetch) return
        const [next, entries] = (await client.call(
          'XAUTOCLAIM',
          stream,
          group,
          consumer,
          String(spec.ackWait),
          cursor,
          'COUNT',
          String(spec.prefetch - outstanding),
        )) as [string, Entry[]]
        cursor = next
        for (const entry of entries) {
          if (!entry?.[1]) continue
          deliver(stream, entry, await countOf(stream, entry[0]))
        }
      } while (cursor !== '0-0')
    }
  }
  let claimTimer: NodeJS.Timeout | undefined
  let claiming: Promise<void> = Promise.resolve()
  const scheduleClaim = (): void => {
    claimTimer = setTimeout(() => {
      claiming = claimLoop()
        .catch(() => undefined)
        .then(() => {
          if (!stopped) scheduleClaim()
        })
    }, claimEvery)
  }
  scheduleClaim()
  const reading = readLoop()

  let closing: Promise<void> | undefined
  return {
    close() {
      closing ??= (async () => {
        stopped = true
        clearTimeout(claimTimer)
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        reader.disconnect()
        wake?.()
        await reading
        await claiming
        if (outstanding > 0) await new Promise<void>((resolve) => (drained = resolve))
        while (inFlight.size > 0) await Promise.allSettled([...inFlight])
        if (spec.mode === 'broadcast') {
          for (const stream of streams)
            await client.call('XGROUP', 'DESTROY', stream, group).catch(() => undefined)
        }
        onClosed()
      })()
      return closing
    },
  }
}

/** What a {@link StreamDelivery} settles through (its subscription's state). */
interface Settlement {
  ack(stream: string, streamId: string): Promise<void>
  nack(stream: string, streamId: string, delayMs: number): Promise<void>
  deadLetter(delivery: StreamDelivery, reason: DeadLetterReason): Promise<void>
  /** The delivery's slot is free (its settlement is sent). */
  freed(): void
}

/** One delivery of a stream entry: one object per message (no closures), settled once. */
class StreamDelivery implements TransportDelivery {
  readonly id: string
  readonly name: string
  readonly version: number
  readonly data: string
  private settled = false

  constructor(
    private readonly settlement: Settlement,
    readonly stream: string,
    readonly streamId: string,
    readonly fields: string[],
    readonly deliveries: number,
  ) {
    this.id = field(fields, 'id') ?? streamId
    this.name = field(fields, 'name') ?? ''
    this.version = versionIn(fields)
    this.data = field(fields, 'data') ?? ''
  }

  ack(): Promise<void> {
    if (!this.begin()) return Promise.resolve()
    return this.settlement.ack(this.stream, this.streamId)
  }

  nack(delayMs: number): Promise<void> {
    if (!this.begin()) return Promise.resolve()
    return this.settlement.nack(this.stream, this.streamId, delayMs)
  }

  deadLetter(reason: DeadLetterReason): Promise<void> {
    if (!this.begin()) return Promise.resolve()
    try {
      return this.settlement.deadLetter(this, reason)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** False when settled already; else marks it settled and frees its slot. */
  private begin(): boolean {
    if (this.settled) return false
    this.settled = true
    this.settlement.freed()
    return true
  }
}
