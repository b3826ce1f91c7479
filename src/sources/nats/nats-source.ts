/**
 * `natsStreamSource(connection)`: components whose value is the latest message on a NATS
 * JetStream subject.
 */
import { raceAbort, throwIfAborted } from '../../core/abort'
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { SourceNotFoundError, type ComponentRequest, type SourceContext } from '../source'
import type { WatchableSource } from '../watch'
import type { NatsStoredMessageLike, NatsStreamConnectionLike } from './nats-client'
import { messageValue, natsError, natsJetStream } from './nats-stream'
import { watchNatsStream } from './nats-watcher'
import { streamHandoff } from '../stream-handoff'

export type { NatsStatusLike, NatsStreamConnectionLike } from './nats-client'

/** What `natsStreamSource(connection, options)` may hold. */
const NATS_STREAM_OPTIONS: OptionSpec = {
  stream: (value) =>
    typeof value === 'string' && /^[^\s.*>/\\]+$/.test(value)
      ? undefined
      : `must be a JetStream stream name (no spaces, '.', '*', '>', '/' or '\\'), got ${JSON.stringify(value)}`,
  prefix: checks.string,
  name: checks.name,
}

/** Options of {@link natsStreamSource}. */
export interface NatsStreamSourceOptions {
  /**
   * The JetStream stream the subjects are stored in. Defaults to the stream JetStream finds for
   * each subject (`$JS.API.STREAM.NAMES` with the subject; looked up once per subject).
   */
  readonly stream?: string
  /** Prepended to every subject, e.g. `'config.'`. Defaults to `''`. */
  readonly prefix?: string
  /** The name `fetchFrom` refers to. Defaults to `'nats'`. */
  readonly name?: string
}

/**
 * A source whose components are the latest message on a NATS JetStream subject, read through a
 * connection you own (the source never closes it). Needs `@nats-io/transport-node` and
 * `@nats-io/jetstream` (optional peers, loaded on first use). A component's `key` (or its
 * property name), after `prefix`, is the subject; `resolve` reads the stream's last message on
 * it (`last_by_subj`) and gives its text parsed as JSON when it parses, else the text, or with
 * `field` the dotted path inside its JSON. No message on the subject, or no stream holding it,
 * is a `SourceNotFoundError`; a closed or disconnected connection a `SourceUnavailableError`.
 * `watch` reports every message published after the latest one, once and in order, through an
 * ordered consumer (see `watchNatsStream`); a watch started within 30 s of a `fetch` of
 * the same subject (as `watch()` does after its resolve) starts after the message that fetch
 * gave, so a message published in between is not skipped.
 *
 * @example
 * ```ts
 * import { connect } from '@nats-io/transport-node'
 * import { Component, natsStreamSource, watch } from 'tributary'
 * class Flags {
 *   @Component({ fetchFrom: 'nats', key: 'config.flags' }) flags!: Record<string, boolean>
 *   @Component({ fetchFrom: 'nats', key: 'config.limits', field: 'rps' }) rps!: number
 * }
 * const nc = await connect({ servers: '127.0.0.1:4222' })
 * const live = await watch(Flags, { sources: [natsStreamSource(nc, { stream: 'CONFIG' })] })
 * // elsewhere: js.publish('config.limits', '{"rps":50}') → live.current.rps === 50
 * ```
 */
export function natsStreamSource(
  connection: NatsStreamConnectionLike,
  options: NatsStreamSourceOptions = {},
): WatchableSource {
  const candidate = connection as Partial<NatsStreamConnectionLike> | null
  if (typeof candidate?.request !== 'function' || typeof candidate.isClosed !== 'function') {
    throw new TypeError(
      'natsStreamSource(connection, options): connection must be a NATS connection (connect() of @nats-io/transport-node)',
    )
  }
  checkOptions('natsStreamSource(connection, options)', options, NATS_STREAM_OPTIONS)
  const name = options.name ?? 'nats'
  const prefix = options.prefix ?? ''
  const jetStream = natsJetStream(connection, options.stream, 'natsStreamSource')
  /** Per subject and field, the stream sequence of the message the last `fetch` gave. */
  const handoff = streamHandoff<number>()
  const takeFetched = handoff.take
  return {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      throwIfAborted(context.signal, `${name} fetch`)
      const subject = `${prefix}${request.key ?? request.property}`
      // Outside the try: a missing NATS package is not a failed read.
      const managed = jetStream.manager()
      let data: Uint8Array
      try {
        const read = async (): Promise<NatsStoredMessageLike | null> => {
          const manager = await managed
          const stream = await jetStream.streamOf(subject)
          return manager.streams.getMessage(stream, { last_by_subj: subject })
        }
        const found = await raceAbort(read(), context.signal)
        if (found === null) {
          throw new SourceNotFoundError(
            { source: name, key: subject },
            `${name}: no message on subject ${subject}`,
          )
        }
        handoff.remember(subject, request.field, found.seq)
        data = found.data
      } catch (error) {
        if (context.signal.aborted) throw error
        throw natsError(error, name, subject, 'reading')
      }
      return messageValue(data, request.field, name, subject)
    },
    watch: (request, watchOptions) =>
      watchNatsStream(request, watchOptions, {
        name,
        connection,
        prefix,
        takeFetched,
        ...(options.stream === undefined ? {} : { stream: options.stream }),
      }),
  }
}
