/**
 * The NATS stream source's watcher: an ordered JetStream consumer on the subject from its last
 * message, so every message after it is reported once and in order, through reconnects.
 */
import { delay } from '../../core/abort'
import { isMissingDependencyError } from '../../core/errors'
import { SourceUnavailableError, type ComponentRequest } from '../source'
import {
  backoffDelay,
  createStreamMessageReporter,
  createWatcherScope,
  type SourceWatchOptions,
  type SourceWatcher,
} from '../watch'
import type { NatsConsumerMessagesLike, NatsStatusLike, NatsStreamConnectionLike } from './nats-client'
import { messageValue, natsError, natsJetStream } from './nats-stream'

/** Settings of {@link watchNatsStream}, taken from the NATS stream source. */
export interface NatsStreamWatchSettings {
  /** The source name. */
  readonly name: string
  /** The connection (for its status events). */
  readonly connection: NatsStreamConnectionLike
  /** The stream the subjects are stored in. Defaults to the one JetStream finds for the subject. */
  readonly stream?: string
  /** The source's subject prefix. Defaults to `''`. */
  readonly prefix?: string
  /**
   * The stream sequence of the message the source's last `fetch` of `subject` (with the same
   * `field`) gave, if recent (see `STREAM_RESUME_WINDOW_MS` in `stream-handoff.ts`), taken once: the
   * consumer starts after it instead of at the subject's latest message. Defaults to none.
   */
  readonly takeFetched?: (subject: string, field: string | undefined) => number | undefined
}

/** Consumer notifications that mean the consumer cannot deliver now (an outage). */
const OUTAGE_NOTIFICATIONS = new Set(['heartbeats_missed', 'stream_not_found', 'no_responders'])

/**
 * Watches one subject with an ordered consumer (`deliver_policy: last_per_subject`): its first
 * delivery is the subject's latest message — or, started right after a `fetch` of the subject,
 * the consumer starts after the message that fetch gave — then every message published
 * after it, each reported once and in stream order — a message with the same value as the one
 * before is reported too (the live component then has no change to publish). The last stream
 * sequence seen is kept: when the connection drops (reported once, as a
 * `SourceUnavailableError`) the client reconnects and the ordered consumer is recreated from
 * the sequence after it, so messages published meanwhile come then and none twice; if the
 * consumer itself fails, a new one starts there after a capped backoff. A closed connection
 * ends the watch with one error. `pollInterval` plays no part. `stop()` closes the consumer.
 *
 * @example
 * ```ts
 * import { natsStreamSource } from 'tributary'
 * const watcher = natsStreamSource(nc).watch({ className: 'C', property: 'flags', key: 'config.flags', secret: false }, {
 *   signal, onChange: console.log, onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchNatsStream(
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: NatsStreamWatchSettings,
): SourceWatcher {
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope
  const { name, connection } = settings
  const jetStream = natsJetStream(connection, settings.stream, 'natsStreamSource')
  const subject = `${settings.prefix ?? ''}${request.key ?? request.property}`
  /** The stream sequence of the last message reported; undefined before the first. */
  let lastSeq: number | undefined = settings.takeFetched?.(subject, request.field)

  const outage = (why: string): SourceUnavailableError =>
    new SourceUnavailableError(
      { source: name, key: subject },
      `${name}: NATS unavailable while watching subject ${subject}: ${why}`,
    )

  const deliver = createStreamMessageReporter(
    (data: Uint8Array) => messageValue(data, request.field, name, subject),
    options,
    reporter,
    signal,
  ).message

  /** The connection's status: a disconnect is an outage (once), a reconnect its end. */
  const followStatus = async (): Promise<void> => {
    const statuses = connection.status()
    const iterator = statuses[Symbol.asyncIterator]()
    // A connection's status iterator ends with `stop()` (a NatsConnection's has one); without
    // it, the watcher stops waiting for the next status at once.
    const stopped = new Promise<IteratorResult<NatsStatusLike>>((resolve) =>
      scope.onStop(() => {
        const stop = (statuses as { stop?: () => void }).stop
        if (typeof stop === 'function') stop.call(statuses)
        else void iterator.return?.()?.catch(() => undefined)
        resolve({ done: true, value: undefined })
      }),
    )
    for (;;) {
      const next = await Promise.race([iterator.next(), stopped])
      if (next.done === true || signal.aborted) return
      if (next.value.type === 'disconnect') reporter.error(outage('the connection dropped'))
      else if (next.value.type === 'reconnect') reporter.ok()
    }
  }

  const followConsumer = async (messages: NatsConsumerMessagesLike): Promise<void> => {
    for await (const notification of messages.status()) {
      if (signal.aborted) break
      if (OUTAGE_NOTIFICATIONS.has(notification.type))
        reporter.error(outage(notification.type.replace(/_/g, ' ')))
      else if (notification.type === 'ordered_consumer_recreated') reporter.ok()
    }
  }

  const loop = async (): Promise<void> => {
    let failures = 0
    while (!signal.aborted) {
      let messages: NatsConsumerMessagesLike | undefined
      try {
        const stream = await jetStream.streamOf(subject)
        const consumer = await jetStream
          .client()
          .consumers.get(
            stream,
            lastSeq === undefined
              ? { filter_subjects: subject, deliver_policy: 'last_per_subject' }
              : { filter_subjects: subject, deliver_policy: 'by_start_sequence', opt_start_seq: lastSeq + 1 },
          )
        if (signal.aborted) break
        messages = await consumer.consume()
        const opened = messages
        scope.onStop(() => void scope.track(opened.close()))
        void scope.track(followConsumer(opened))
        failures = 0
        reporter.ok()
        for await (const message of opened) {
          if (signal.aborted) break
          if (lastSeq !== undefined && message.seq <= lastSeq) continue
          lastSeq = message.seq
          deliver(message.data)
        }
        if (signal.aborted) break
        throw outage(connection.isClosed() ? 'the connection is closed' : 'the consumer stopped')
      } catch (error) {
        if (signal.aborted) break
        // A missing NATS package: nothing to retry.
        if (isMissingDependencyError(error)) return reporter.error(error)
        failures += 1
        reporter.error(natsError(error, name, subject, 'watching'))
        if (messages) await messages.close().catch(() => undefined)
        // A connection closed by its owner does not come back.
        if (connection.isClosed()) return
      }
      await delay(backoffDelay(failures, options.backoff), signal).catch(() => undefined)
    }
  }
  void scope.track(followStatus())
  void scope.track(loop())
  return scope.watcher
}
