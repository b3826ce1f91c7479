/**
 * The NATS connection `natsStreamSource` is given, as a structural type (a `NatsConnection` of
 * `@nats-io/transport-node` fits, and an application without the NATS client type-checks
 * tributary's declarations), and the subset of `@nats-io/jetstream` the source drives.
 */

/** A connection status event (`'disconnect'`, `'reconnect'`, `'close'`…). */
export interface NatsStatusLike {
  readonly type: string
}

/** The connection the source reads through; a `NatsConnection` from `@nats-io/transport-node` fits. */
export interface NatsStreamConnectionLike {
  request(subject: string, payload?: string | Uint8Array, options?: object): Promise<unknown>
  isClosed(): boolean
  /** The connection's status events: the watcher reports a disconnect once, as an outage. */
  status(): AsyncIterable<NatsStatusLike>
}

/** A stored JetStream message (`StoredMsg`). @internal */
export interface NatsStoredMessageLike {
  readonly seq: number
  readonly data: Uint8Array
}

/** A delivered JetStream message (`JsMsg`). @internal */
export interface NatsDeliveredMessageLike {
  readonly seq: number
  readonly data: Uint8Array
}

/** A consumer notification (`ConsumerNotification`). @internal */
export interface NatsConsumerStatusLike {
  readonly type: string
}

/** What `consume()` returns (`ConsumerMessages`). @internal */
export interface NatsConsumerMessagesLike extends AsyncIterable<NatsDeliveredMessageLike> {
  status(): AsyncIterable<NatsConsumerStatusLike>
  close(): Promise<void | Error>
}

/** `JetStreamManager`, the part the source uses. @internal */
export interface NatsJetStreamManagerLike {
  readonly streams: {
    find(subject: string): Promise<string>
    getMessage(stream: string, query: { last_by_subj: string }): Promise<NatsStoredMessageLike | null>
  }
}

/** `JetStreamClient`, the part the watcher uses. @internal */
export interface NatsJetStreamClientLike {
  readonly consumers: {
    get(
      stream: string,
      options: {
        filter_subjects: string
        deliver_policy: string
        opt_start_seq?: number
        inactive_threshold?: number
      },
    ): Promise<{ consume(options?: { expires?: number }): Promise<NatsConsumerMessagesLike> }>
  }
}

/** The two driver modules, loaded lazily. @internal */
export interface NatsJetStreamModuleLike {
  jetstream(connection: never): NatsJetStreamClientLike
  jetstreamManager(connection: never, options?: object): Promise<NatsJetStreamManagerLike>
}
