/**
 * The contract between `bus.bridge()` and a message engine (Redis Streams, NATS JetStream):
 * publish encoded events, subscribe in broadcast or group mode, and settle each delivery with
 * ack, nack (redeliver after a delay) or dead-letter.
 */

/**
 * How instances share a subscription. `'broadcast'`: every instance handles each event (each
 * has its own consumer). `'group'`: one instance of the group handles each event (a consumer
 * group / queue group shared by the group's instances).
 */
export type DeliveryMode = 'broadcast' | 'group'

/** An encoded event on its way out. */
export interface OutgoingMessage {
  /** The event's id (unique per emit; kept across redeliveries). */
  readonly id: string
  /** The registered event name. */
  readonly name: string
  /** The registered event version. */
  readonly version: number
  /** The encoded payload (JSON text). */
  readonly data: string
}

/** Why a delivery went to the dead letters. */
export interface DeadLetterReason {
  /** The last error's name (`EventDecodeError`, `HandlerError`, …). */
  readonly errorName: string
  /** The last error's message. */
  readonly errorMessage: string
}

/** One delivery of a message to this instance: settle it exactly once. */
export interface TransportDelivery {
  /** The event's id (as published). */
  readonly id: string
  /** The event name the message carries (`''` when the message had none). */
  readonly name: string
  /** The version the message carries (`NaN` when the message had none). */
  readonly version: number
  /** The payload as received. */
  readonly data: string
  /** How many times the message has been delivered, this time included (1 the first time). */
  readonly deliveries: number
  /** Done: the message is not delivered again to this subscription. */
  ack(): Promise<void>
  /** Failed: deliver it again after `delayMs` (to this or another instance of the subscription). */
  nack(delayMs: number): Promise<void>
  /** Failed for good: copy it with `reason` to the dead letters, then acknowledge it. */
  deadLetter(reason: DeadLetterReason): Promise<void>
}

/** What `transport.subscribe` needs. */
export interface SubscribeSpec {
  /** The event names to receive. */
  readonly names: readonly string[]
  /** Broadcast or group delivery. */
  readonly mode: DeliveryMode
  /** The group's name (group mode), or the bridge's name (broadcast: a prefix of the per-instance consumer). */
  readonly group: string
  /** This instance's consumer name, unique among the group's instances. */
  readonly consumer: string
  /** At most this many unsettled deliveries at once on this instance. */
  readonly prefetch: number
  /** A delivery unsettled for this long (ms) is handed to another instance (its holder is presumed dead). */
  readonly ackWait: number
}

/** A running subscription. */
export interface TransportSubscription {
  /**
   * Stops receiving, waits for in-flight deliveries to settle (the bridge settles them), and
   * removes per-instance state (a broadcast consumer). Safe to call twice.
   */
  close(): Promise<void>
}

/** A dead letter as stored by a transport. */
export interface StoredDeadLetter extends OutgoingMessage, DeadLetterReason {
  /** How many times it was delivered before it was given up. */
  readonly deliveries: number
}

/**
 * A message engine the bus can be bridged over. Implemented by `redisStreamsTransport` and
 * `natsTransport`; implement it to carry events over something else.
 */
export interface Transport {
  /** A short name for messages (`redis-streams`, `nats`). */
  readonly name: string
  /**
   * Resolves (with anything) when the engine has durably accepted the message. A rejection may
   * carry the client's own error: the bridge wraps it in a `TransportError`.
   */
  publish(message: OutgoingMessage): Promise<unknown>
  /**
   * Starts delivering messages of `spec.names` to `onDelivery`, which settles each one. Resolves
   * once the subscription is in place: a message published after that is delivered.
   */
  subscribe(
    spec: SubscribeSpec,
    onDelivery: (delivery: TransportDelivery) => void,
  ): Promise<TransportSubscription>
  /** Reads back up to `limit` dead letters (oldest first), for inspection and tests. */
  deadLetters(limit?: number): Promise<StoredDeadLetter[]>
  /** Closes the transport's own resources (never the client the user passed in). Safe to call twice. */
  close(): Promise<void>
}
