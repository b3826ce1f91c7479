/**
 * A {@link Transport} over NATS JetStream: one stream holding a subject per event name and
 * version (`<prefix>.events.<name>.v<version>`) and the dead-letter subject (`<prefix>.dead`);
 * a durable pull consumer per event name, shared by a group's instances (group mode) or owned
 * by one instance (broadcast mode, deleted on close); explicit acks after the handlers, `nak`
 * with a delay to redeliver after the backoff, and JetStream's `ack_wait` to hand a dead
 * instance's messages to another. Delivery counts are JetStream's own (`info.deliveryCount`).
 */
import { createHash } from 'node:crypto'
import type * as JetStreamModule from '@nats-io/jetstream'
import type { ConsumerConfig, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { requireOptional } from '../../core/optional'
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

/**
 * The NATS connection the transport is given, as a structural type: a `NatsConnection` from
 * `@nats-io/transport-node` fits, and an application without the NATS client installed
 * type-checks against tributary's declarations.
 */
export interface NatsConnectionLike {
  publish(subject: string, payload?: string | Uint8Array, options?: object): void
  request(subject: string, payload?: string | Uint8Array, options?: object): Promise<unknown>
  isClosed(): boolean
}

/** Options for {@link natsTransport}. */
export interface NatsTransportOptions {
  /** The JetStream stream's name (created, or its subjects extended, when missing). Defaults to `'TRIBUTARY'`. */
  stream?: string
  /** Prefix of the subjects (`<prefix>.events.<name>.v<version>`, `<prefix>.dead`). Defaults to `'tributary'`. */
  prefix?: string
  /** Keeps at most this many messages in a stream the transport creates (`max_msgs`). Defaults to no limit. */
  maxMessages?: number
  /** How long one pull request waits for messages, in ms (at least 1,000). Defaults to 5,000. */
  expires?: number
  /**
   * A broadcast consumer left unused this long (its instance died without `close()`) is removed
   * by the server, in ms. Defaults to one hour.
   */
  inactiveThreshold?: number
}

const NAME = 'nats'
const HEADER_ID = 'Nats-Msg-Id'
const STREAM_NOT_FOUND = 10059

interface Loaded {
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
}

/** A dead letter as the transport stores it (the JSON body of a message on `<prefix>.dead`). */
interface DeadBody {
  id: string
  name: string
  version: number
  data: string
  deliveries: number
  errorName: string
  errorMessage: string
  subject: string
  consumer: string
}

const nanos = (ms: number): number => Math.round(ms * 1_000_000)
const apiCode = (error: unknown): number | undefined =>
  (error as { code?: unknown } | null)?.code as number | undefined
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A durable consumer name from `parts`: characters JetStream rejects in names (`.`, `*`, `>`,
 * spaces, slashes) become `_`, and a short hash keeps two different inputs apart.
 */
export function natsConsumerName(...parts: string[]): string {
  const raw = parts.join('_')
  const clean = raw.replace(/[^A-Za-z0-9_-]/g, '_')
  if (clean === raw && clean.length <= 128) return clean
  const hash = createHash('sha1').update(raw).digest('hex').slice(0, 10)
  return `${clean.slice(0, 110)}_${hash}`
}

/**
 * Carries bus events over NATS JetStream with the connection you pass (it is not closed by the
 * transport). Needs `@nats-io/transport-node` and `@nats-io/jetstream` (optional peers, loaded
 * on first use). The durable consumers are named `<group>_<event name>` (group mode) and
 * `<bridge name>_bc_<consumer>_<event name>` (broadcast), cleaned by `natsConsumerName`.
 *
 * @example
 * ```ts
 * import { connect } from '@nats-io/transport-node'
 * import { AsyncEventBus, natsTransport } from 'tributary'
 * const transport = natsTransport(await connect({ servers: '127.0.0.1:4222' }), { stream: 'APP', prefix: 'app' })
 * await bus.bridge(transport, { events: [UserCreated], group: 'mailer' })
 * ```
 */
export function natsTransport(connection: NatsConnectionLike, options: NatsTransportOptions = {}): Transport {
  if (typeof connection?.publish !== 'function' || typeof connection?.request !== 'function')
    throw new TransportOptionsError('natsTransport', 'connection', 'must be a NATS connection')
  checkTransportOptions('natsTransport', options, {
    stream: checks.name,
    prefix: checks.name,
    maxMessages: checks.integer(1),
    expires: checks.duration({ finite: true }),
    inactiveThreshold: checks.duration({ positive: true, finite: true }),
  })
  const stream = options.stream ?? 'TRIBUTARY'
  const prefix = options.prefix ?? 'tributary'
  const expires = options.expires ?? 5_000
  if (!/^[A-Za-z0-9_-]+$/.test(stream))
    throw new TransportOptionsError('natsTransport', 'stream', 'may hold only letters, digits, `_` and `-`')
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix))
    throw new TransportOptionsError('natsTransport', 'prefix', 'must be subject tokens joined by `.`')
  if (!(Number.isFinite(expires) && expires >= 1_000))
    throw new TransportOptionsError('natsTransport', 'expires', `must be at least 1000 ms, got ${expires}`)
  const subjectOf = (name: string): string => `${prefix}.events.${name}`
  const deadSubject = `${prefix}.dead`
  const subscriptions = new Set<TransportSubscription>()
  let closed = false
  let loaded: Promise<Loaded> | undefined
  let streamReady: Promise<void> | undefined
  /** Set once the stream was found or created: publishes skip the checks. */
  let ready: Loaded | undefined

  const load = (): Promise<Loaded> => {
    loaded ??= (async () => {
      // Nothing of the core client is used here, but the JetStream module needs it: loading it
      // first names the missing package right (as the NATS source does).
      requireOptional<unknown>('@nats-io/transport-node', 'natsTransport')
      const { jetstream, jetstreamManager } = requireOptional<typeof JetStreamModule>(
        '@nats-io/jetstream',
        'natsTransport',
      )
      const nc = connection as NatsConnection
      return { js: jetstream(nc), jsm: await jetstreamManager(nc) }
    })()
    loaded.catch(() => (loaded = undefined))
    return loaded
  }

  /** The stream exists and holds the transport's subjects (created or extended when not). */
  const ensureStream = (): Promise<void> => {
    streamReady ??= (async () => {
      const { jsm } = await load()
      const subjects = [`${prefix}.events.>`, deadSubject]
      for (let attempt = 0; ; attempt++) {
        try {
          const info = await jsm.streams.info(stream)
          const have = info.config.subjects ?? []
          const missing = subjects.filter((s) => !have.includes(s))
          if (missing.length > 0 || info.config.allow_direct !== true)
            await jsm.streams.update(stream, { subjects: [...have, ...missing], allow_direct: true })
          return
        } catch (error) {
          if (apiCode(error) !== STREAM_NOT_FOUND || attempt > 2) throw error
        }
        try {
          await jsm.streams.add({
            name: stream,
            subjects,
            allow_direct: true,
            ...(options.maxMessages === undefined ? {} : { max_msgs: options.maxMessages }),
          })
          return
        } catch {
          // Another instance created it meanwhile: read it again.
        }
      }
    })()
    streamReady.then(
      () =>
        load().then(
          (l) => void (ready = l),
          () => undefined,
        ),
      () => void (streamReady = undefined),
    )
    return streamReady
  }

  return {
    name: NAME,
    publish(message: OutgoingMessage): Promise<unknown> {
      if (closed) return Promise.reject(new TransportClosedError(NAME, `publish(${message.name})`))
      // The subject carries the name and version (no headers of ours to build and parse); the
      // id is JetStream's own deduplication header.
      const send = ({ js }: Loaded): Promise<unknown> =>
        js.publish(`${subjectOf(message.name)}.v${message.version}`, message.data, { msgID: message.id })
      // Once the stream is known to exist, a publish is one JetStream publish (no other awaits);
      // the bridge wraps a failure in a TransportError.
      return ready !== undefined ? send(ready) : ensureStream().then(() => load().then(send))
    },
    async subscribe(spec, onDelivery) {
      if (closed) throw new TransportClosedError(NAME, 'subscribe')
      let context: Loaded
      try {
        await ensureStream()
        context = await load()
      } catch (error) {
        throw new TransportError(NAME, 'subscribe', error)
      }
      const subscription = await subscribeJetStream(
        context,
        {
          stream,
          subjectOf,
          deadSubject,
          expires,
          inactiveThreshold: options.inactiveThreshold ?? 3_600_000,
        },
        spec,
        onDelivery,
        () => subscriptions.delete(subscription),
      )
      subscriptions.add(subscription)
      return subscription
    },
    async deadLetters(limit = 100): Promise<StoredDeadLetter[]> {
      await ensureStream()
      const { jsm } = await load()
      const letters: StoredDeadLetter[] = []
      let seq = 1
      while (letters.length < limit) {
        const stored = await jsm.direct.getMessage(stream, { seq, next_by_subj: deadSubject })
        if (stored === null) break
        seq = stored.seq + 1
        const body = stored.json<Partial<DeadBody>>()
        letters.push({
          id: body.id ?? '',
          name: body.name ?? '',
          version: typeof body.version === 'number' ? body.version : Number.NaN, // NaN is stored as null
          data: body.data ?? '',
          deliveries: Number(body.deliveries),
          errorName: body.errorName ?? '',
          errorMessage: body.errorMessage ?? '',
        })
      }
      return letters
    },
    async close(): Promise<void> {
      closed = true
      await Promise.all([...subscriptions].map((s) => s.close()))
    },
  }
}

interface Where {
  readonly stream: string
  readonly subjectOf: (name: string) => string
  readonly deadSubject: string
  readonly expires: number
  readonly inactiveThreshold: number
}

/** A durable consumer of one event name. */
interface ConsumerSpec {
  readonly name: string
  /** Its filter: the name's subjects, one per version (`<prefix>.events.<name>.*`). */
  readonly subject: string
  /** Where the version's digits start in a message's subject (after `<prefix>.events.<name>.v`). */
  readonly versionAt: number
  readonly durable: string
}

/** A consumer's pull state: its share of the prefetch is held in deliveries and pull credit. */
interface Puller {
  readonly c: ConsumerSpec
  held: number
  fetches: number
  failures: number
  timer: NodeJS.Timeout | undefined
  consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>> | undefined
}

/** What a delivery needs from its subscription. */
interface DeliveryOwner {
  readonly js: JetStreamClient
  readonly stream: string
  readonly deadSubject: string
  /** The delivery was settled (its settlement sent): free its slot. */
  freed(p: Puller): void
}

/**
 * One delivery of a JetStream message: the name is its consumer's, the version the subject's
 * last token (`v<version>`), the id the `Nats-Msg-Id` it was published with. Settled once.
 */
class JetStreamDelivery implements TransportDelivery {
  readonly id: string
  readonly name: string
  readonly version: number
  readonly data: string
  readonly deliveries: number
  private settled = false

  constructor(
    private readonly owner: DeliveryOwner,
    private readonly puller: Puller,
    private readonly msg: JsMsg,
  ) {
    const { subject } = msg
    const at = puller.c.versionAt
    const digits = subject.charCodeAt(at - 1) === 118 /* v */ ? subject.slice(at) : ''
    this.id = msg.headers?.get(HEADER_ID) || `${owner.stream}:${msg.seq}`
    this.name = puller.c.name
    this.version = /^[1-9][0-9]*$/.test(digits) ? Number(digits) : Number.NaN
    this.data = msg.string()
    this.deliveries = msg.info.deliveryCount
  }

  ack(): Promise<void> {
    return this.settle(() => this.msg.ack())
  }

  nack(delayMs: number): Promise<void> {
    return this.settle(() => this.msg.nak(delayMs))
  }

  deadLetter(reason: DeadLetterReason): Promise<void> {
    return this.settle(async () => {
      const { msg } = this
      const body: DeadBody = {
        id: this.id,
        name: this.name,
        version: this.version,
        data: this.data,
        deliveries: this.deliveries,
        errorName: reason.errorName,
        errorMessage: reason.errorMessage,
        subject: msg.subject,
        consumer: msg.info.consumer,
      }
      await this.owner.js.publish(this.owner.deadSubject, JSON.stringify(body), {
        msgID: `dead:${msg.info.consumer}:${msg.info.streamSequence}`,
      })
      msg.ack()
    })
  }

  /** Runs `action` unless settled already; the slot is freed once it is done (or failed). */
  private settle(action: () => Promise<void> | void): Promise<void> {
    if (this.settled) return Promise.resolve()
    this.settled = true
    let done: Promise<void> | void
    try {
      done = action()
    } catch (error) {
      done = Promise.reject(error)
    }
    if (done === undefined) {
      this.owner.freed(this.puller)
      return Promise.resolve()
    }
    return done.then(
      () => this.owner.freed(this.puller),
      (error: unknown) => {
        this.owner.freed(this.puller)
        throw error
      },
    )
  }
}

async function subscribeJetStream(
  { js, jsm }: Loaded,
  where: Where,
  spec: SubscribeSpec,
  onDelivery: (delivery: TransportDelivery) => void,
  onClosed: () => void,
): Promise<TransportSubscription> {
  const { stream } = where
  const broadcast = spec.mode === 'broadcast'
  const consumers = spec.names.map((name): ConsumerSpec => {
    const base = where.subjectOf(name)
    return {
      name,
      subject: `${base}.*`,
      versionAt: base.length + 2,
      durable: broadcast
        ? natsConsumerName(spec.group, 'bc', spec.consumer, name)
        : natsConsumerName(spec.group, name),
    }
  })

  const ensureConsumer = async (c: ConsumerSpec): Promise<void> => {
    const config: Partial<ConsumerConfig> = {
      durable_name: c.durable,
      ack_policy: 'explicit' as ConsumerConfig['ack_policy'],
      // A group reads what was published before its first instance; a broadcast consumer only what follows.
      deliver_policy: (broadcast ? 'new' : 'all') as ConsumerConfig['deliver_policy'],
      filter_subject: c.subject,
      ack_wait: nanos(spec.ackWait),
      max_deliver: -1,
      max_ack_pending: -1,
      ...(broadcast ? { inactive_threshold: nanos(where.inactiveThreshold) } : {}),
    }
    try {
      const info = await jsm.consumers.info(stream, c.durable)
      if (info.config.ack_wait !== config.ack_wait || info.config.filter_subject !== c.subject)
        await jsm.consumers.update(stream, c.durable, {
          ack_wait: config.ack_wait,
          filter_subject: c.subject,
        })
      return
    } catch (error) {
      if (apiCode(error) !== 10014) throw error
    }
    try {
      await jsm.consumers.add(stream, config)
    } catch (error) {
      // Created by another instance of the group meanwhile?
      await jsm.consumers.info(stream, c.durable).catch(() => {
        throw error
      })
    }
  }
  try {
    for (const c of consumers) await ensureConsumer(c)
  } catch (error) {
    throw new TransportError(NAME, 'subscribe', error)
  }

  let stopped = false
  let held = 0 // over all consumers: deliveries handed out and unsettled, plus pull credit requested
  const waiters = new Set<() => void>()
  const changed = (): void => {
    if (waiters.size === 0) return
    const woken = [...waiters]
    waiters.clear()
    for (const w of woken) w()
  }
  const waitForChange = (): Promise<void> => new Promise((resolve) => waiters.add(resolve))
  const stops = new Set<() => void>()
  const tasks = new Set<Promise<void>>()

  // Each consumer pulls at most its share of `prefetch`, so no event starves the others; it
  // pulls again once a quarter of its share is free (or 10 ms after a settlement), overlapping
  // pulls with the handlers rather than sending one request per freed slot. A quarter keeps the
  // server's pipeline fuller than a half did (about 0.82x -> 0.9x the raw client's throughput,
  // side by side, group mode, prefetch 64), and an eighth costs more in pull requests than the
  // deeper pipeline gains.
  const share = Math.max(1, Math.floor(spec.prefetch / consumers.length))
  const low = Math.max(1, Math.floor(share / 4))

  const owner: DeliveryOwner = {
    js,
    stream,
    deadSubject: where.deadSubject,
    freed(p) {
      p.held--
      held--
      changed()
      pump(p)
    },
  }
  const deliver = (p: Puller, msg: JsMsg): void => onDelivery(new JetStreamDelivery(owner, p, msg))

  const fetchInto = async (p: Puller, n: number): Promise<void> => {
    p.fetches++
    p.held += n
    held += n
    let credit = n
    let stop: (() => void) | undefined
    try {
      p.consumer ??= await js.consumers.get(stream, p.c.durable)
      const batch = await p.consumer.fetch({ max_messages: n, expires: where.expires })
      stop = () => batch.stop()
      stops.add(stop)
      if (stopped) batch.stop()
      for await (const msg of batch) {
        credit--
        deliver(p, msg) // the credit becomes a held delivery, released when it is settled
      }
      p.failures = 0
    } catch {
      p.consumer = undefined
      if (!stopped) {
        // The connection dropped or the consumer went away (a broadcast one removed while idle): set it up again.
        await Promise.race([sleep(Math.min(2_000, 100 * 2 ** p.failures++)), waitUntilStopped()])
        if (!stopped) await ensureConsumer(p.c).catch(() => undefined)
      }
    } finally {
      if (stop !== undefined) stops.delete(stop)
      p.held -= credit
      held -= credit
      p.fetches--
      changed()
      pump(p)
    }
  }

  const pump = (p: Puller): void => {
    if (stopped) return
    const free = share - p.held
    if (free <= 0) return
    if (free >= low || (p.fetches === 0 && p.held === 0)) {
      clearTimeout(p.timer)
      p.timer = undefined
      const task = fetchInto(p, free)
      tasks.add(task)
      void task.finally(() => tasks.delete(task))
      return
    }
    if (p.fetches === 0 && p.timer === undefined) {
      p.timer = setTimeout(() => {
        p.timer = undefined
        if (!stopped && p.fetches === 0 && share - p.held > 0) {
          const task = fetchInto(p, share - p.held)
          tasks.add(task)
          void task.finally(() => tasks.delete(task))
        }
      }, 10)
    }
  }
  let onStopped: () => void = () => undefined
  const stoppedSignal = new Promise<void>((resolve) => (onStopped = resolve))
  const waitUntilStopped = (): Promise<void> => stoppedSignal

  const pullers: Puller[] = consumers.map((c) => ({
    c,
    held: 0,
    fetches: 0,
    failures: 0,
    timer: undefined,
    consumer: undefined,
  }))
  for (const p of pullers) pump(p)

  let closing: Promise<void> | undefined
  return {
    close() {
      closing ??= (async () => {
        stopped = true
        onStopped()
        for (const p of pullers) clearTimeout(p.timer)
        for (const stop of stops) stop()
        while (tasks.size > 0) await Promise.all([...tasks])
        while (held > 0) await waitForChange()
        if (broadcast) {
          for (const c of consumers) await jsm.consumers.delete(stream, c.durable).catch(() => undefined)
        }
        onClosed()
      })()
      return closing
    },
  }
}
