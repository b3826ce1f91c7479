/**
 * A {@link SeenSet} on NATS JetStream, for idempotent handlers without Redis: one stream that
 * keeps the last message per key subject (a key-value bucket, as JetStream KV is built), with
 * compare-and-set publishes (`Nats-Expected-Last-Subject-Sequence`) to claim a key.
 */
import type * as JetStreamModule from '@nats-io/jetstream'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { requireOptional } from '../../core/optional'
import { checkTransportOptions, TransportOptionsError } from '../errors'
import { checks } from '../../core/option-checks'
import type { SeenSet } from '../idempotency'
import type { NatsConnectionLike } from './nats-transport'

/** Options for {@link natsSeenSet}. */
export interface NatsSeenSetOptions {
  /** The stream holding the keys (created when missing). Defaults to `'TRIBUTARY_SEEN'`. */
  stream?: string
  /** Subject prefix of the keys (`<prefix>.<key, base64url>`). Defaults to `'tributary.seen'`. */
  prefix?: string
  /**
   * How long a key is kept, in ms: the stream's `max_age`, the same for every key (a server
   * before 2.11 has no per-message TTL), so an `idempotent` handler's `ttl` longer than this
   * is cut to it. Defaults to 24 hours.
   */
  maxAge?: number
}

type State =
  | { readonly state: 'claimed'; readonly token: string; readonly until: number }
  | { readonly state: 'done' }
  | { readonly state: 'free' }

const WRONG_LAST_SEQUENCE = 10071
const nanos = (ms: number): number => Math.round(ms * 1_000_000)

/**
 * A seen-set for {@link idempotent} kept in NATS JetStream with the connection you pass (not
 * closed by it). A claim is a compare-and-set publish on the key's subject; a claim whose lease
 * has passed (its holder died) is taken over the same way. Leases compare the claimer's clock
 * with the reader's: keep the instances' clocks in step (NTP) or leases long.
 *
 * @example
 * ```ts
 * import { idempotent, natsSeenSet } from 'tributary'
 * bus.on(OrderPlaced, idempotent(chargeCard, { seen: natsSeenSet(nc, { maxAge: 86_400_000 }) }))
 * ```
 */
export function natsSeenSet(connection: NatsConnectionLike, options: NatsSeenSetOptions = {}): SeenSet {
  if (typeof connection?.publish !== 'function' || typeof connection?.request !== 'function')
    throw new TransportOptionsError('natsSeenSet', 'connection', 'must be a NATS connection')
  checkTransportOptions('natsSeenSet', options, {
    stream: checks.name,
    prefix: checks.name,
    maxAge: checks.duration({ finite: true }),
  })
  const stream = options.stream ?? 'TRIBUTARY_SEEN'
  const prefix = options.prefix ?? 'tributary.seen'
  const maxAge = options.maxAge ?? 86_400_000
  if (!/^[A-Za-z0-9_-]+$/.test(stream))
    throw new TransportOptionsError('natsSeenSet', 'stream', 'may hold only letters, digits, `_` and `-`')
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix))
    throw new TransportOptionsError('natsSeenSet', 'prefix', 'must be subject tokens joined by `.`')
  if (!(Number.isFinite(maxAge) && maxAge >= 1_000))
    throw new TransportOptionsError('natsSeenSet', 'maxAge', `must be at least 1000 ms, got ${maxAge}`)
  const subjectOf = (key: string): string => `${prefix}.${Buffer.from(key).toString('base64url') || '_'}`

  let ready: Promise<{ js: JetStreamClient; jsm: JetStreamManager }> | undefined
  const open = (): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> => {
    ready ??= (async () => {
      const { jetstream, jetstreamManager } = requireOptional<typeof JetStreamModule>(
        '@nats-io/jetstream',
        'natsSeenSet',
      )
      const nc = connection as NatsConnection
      const jsm = await jetstreamManager(nc)
      try {
        await jsm.streams.info(stream)
      } catch {
        await jsm.streams
          .add({
            name: stream,
            subjects: [`${prefix}.>`],
            max_msgs_per_subject: 1,
            max_age: nanos(maxAge),
            allow_direct: true,
          })
          .catch(() => jsm.streams.info(stream)) // created by another instance meanwhile
      }
      return { js: jetstream(nc), jsm }
    })()
    ready.catch(() => (ready = undefined))
    return ready
  }

  /** The key's last state and its stream sequence (0 when the key has none). */
  const read = async (subject: string): Promise<{ seq: number; state: State | undefined }> => {
    const { jsm } = await open()
    const stored = await jsm.direct.getMessage(stream, { last_by_subj: subject })
    if (stored === null) return { seq: 0, state: undefined }
    return { seq: stored.seq, state: stored.json<State>() }
  }

  /** Publishes `state` if the key's last sequence is still `seq`; false when another got there first. */
  const put = async (subject: string, state: State, seq: number): Promise<boolean> => {
    const { js } = await open()
    try {
      await js.publish(subject, JSON.stringify(state), { expect: { lastSubjectSequence: seq } })
      return true
    } catch (error) {
      if ((error as { code?: unknown })?.code === WRONG_LAST_SEQUENCE) return false
      throw error
    }
  }

  return {
    async claim(key, token, leaseMs) {
      const subject = subjectOf(key)
      let seq = 0
      for (let attempt = 0; attempt < 3; attempt++) {
        if (await put(subject, { state: 'claimed', token, until: Date.now() + leaseMs }, seq))
          return 'claimed'
        const current = await read(subject)
        if (current.state?.state === 'done') return 'done'
        if (current.state?.state === 'claimed' && current.state.until > Date.now()) return 'busy'
        seq = current.seq // free, or a lapsed lease: take it over if nobody does first
      }
      return 'busy'
    },
    async complete(key) {
      const { js } = await open()
      await js.publish(subjectOf(key), JSON.stringify({ state: 'done' } satisfies State))
    },
    async release(key, token) {
      const subject = subjectOf(key)
      const current = await read(subject)
      if (current.state?.state === 'claimed' && current.state.token === token)
        await put(subject, { state: 'free' }, current.seq)
    },
  }
}
