/**
 * `bus.bridge(transport, options)`: emits of the bridged classes are published to a transport,
 * and deliveries from it run this bus's handlers (with their options). A delivery is
 * acknowledged only after every handler succeeded; a failure is redelivered with backoff and,
 * after `maxDeliveries`, goes to the transport's dead letters with its last error.
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { backoffDelays, type RetryOptions } from '../resilience/retry'
import { isTributaryError } from '../core/errors'
import { checkTransportOptions, TransportError, TransportOptionsError } from '../transports/errors'
import { checks, describeValue, type OptionSpec } from '../core/option-checks'
import { EventRegistry, type EventRegistrationInput } from '../transports/registry'
import type {
  DeliveryMode,
  Transport,
  TransportDelivery,
  TransportSubscription,
} from '../transports/transport'
import type { EmitResult, EventClass } from './types'

/** Options for `bus.bridge()`. */
export interface BridgeOptions {
  /** The event classes carried (or a registry giving their wire names, versions and codecs). */
  events: readonly EventRegistrationInput[] | EventRegistry
  /**
   * The group: with one, delivery is `'group'` (one instance of the group handles each event).
   * Without, `'broadcast'` (every bridged instance handles each event).
   */
  group?: string
  /** Overrides the mode implied by `group`. Group mode needs a `group`. */
  mode?: DeliveryMode
  /** Names the bridge (a prefix of broadcast consumers). Defaults to `'tributary'`. */
  name?: string
  /** This instance's consumer name, unique in its group. Defaults to `<hostname>-<pid>-<random>`. */
  consumer?: string
  /** Deliveries before a message goes to the dead letters. Defaults to 5. */
  maxDeliveries?: number
  /** Redelivery delays (the retry helper's backoff). Defaults to `{ initialDelay: 1_000, maxDelay: 60_000 }`. */
  backoff?: Omit<RetryOptions, 'attempts' | 'retryIf' | 'onRetry'>
  /** A delivery unsettled this long (ms) is given to another instance. Defaults to 30,000. */
  ackWait?: number
  /** Unsettled deliveries held at once by this instance. Defaults to 64. */
  prefetch?: number
}

/** What one remote delivery of an event was (see {@link deliveryOf}). */
export interface DeliveryInfo {
  /** The event's id, the same on every delivery of it. */
  readonly id: string
  /** The wire name. */
  readonly name: string
  /** 1 on the first delivery, 2 on the first redelivery, … */
  readonly deliveries: number
}

/** A dead letter the bridge produced (see {@link BusBridge.onDeadLetter}). */
export interface BridgeDeadLetter {
  /** The event's id. */
  readonly id: string
  /** The wire name the message carried. */
  readonly name: string
  /** Deliveries made. */
  readonly deliveries: number
  /** The last error (an `EventDecodeError` for a message that could not be decoded). */
  readonly error: unknown
}

/** The handle `bus.bridge()` resolves with. */
export interface BusBridge {
  /** `'broadcast'` or `'group'`. */
  readonly mode: DeliveryMode
  /** This instance's consumer name. */
  readonly consumer: string
  /** The bridged classes. */
  readonly classes: readonly EventClass[]
  /** Listens for messages this instance sent to the dead letters. Returns an unsubscribe function. */
  onDeadLetter(listener: (letter: BridgeDeadLetter) => void): () => void
  /**
   * Stops publishing (emits of the classes are local again) and receiving, waits for the
   * deliveries in progress to settle, and removes per-instance state. Safe to call twice.
   */
  close(): Promise<void>
}

/** What the bus lends a bridge. @internal */
export interface BridgeHost {
  /** Runs this bus's handlers for an event, bypassing bridges (as `emit`). */
  deliver(event: object): Promise<EmitResult>
  /** A failure nobody awaits (as `emitAndForget`'s). */
  report(error: unknown, event: unknown, operation: string): void
  /** Starts or stops routing emits of `classes` to `bridge`. */
  attach(classes: readonly EventClass[], bridge: Bridge): void
  detach(classes: readonly EventClass[], bridge: Bridge): void
}

const infos = new WeakMap<object, DeliveryInfo>()

/**
 * The delivery an event came with, when it arrived through a bridge (`undefined` for a local
 * emit). Idempotent handlers key on its `id`.
 *
 * @example
 * ```ts
 * import { deliveryOf } from 'tributary'
 * bus.on(UserCreated, (e) => console.log(deliveryOf(e)?.id, deliveryOf(e)?.deliveries))
 * ```
 */
export function deliveryOf(event: object): DeliveryInfo | undefined {
  return infos.get(event)
}

/** What `bus.bridge(transport, options)` may hold. */
const BRIDGE_OPTIONS: OptionSpec = {
  events: true,
  group: checks.name,
  mode: checks.oneOf(['broadcast', 'group']),
  name: checks.name,
  consumer: checks.name,
  maxDeliveries: checks.integer(1),
  backoff: checks.nested({
    initialDelay: checks.duration({ finite: true }),
    maxDelay: checks.duration({ finite: true }),
    exponent: (value) =>
      typeof value === 'number' && Number.isFinite(value) && value >= 1
        ? undefined
        : `must be a finite number >= 1, got ${describeValue(value)}`,
    jitter: checks.oneOf(['none', 'full', 'half', 'decorrelated']),
  }),
  ackWait: checks.duration({ positive: true, finite: true }),
  prefetch: checks.integer(1),
}

function check(options: BridgeOptions): void {
  checkTransportOptions('bridge', options, BRIDGE_OPTIONS)
  if (options.mode === 'group' && options.group === undefined)
    throw new TransportOptionsError('bridge', 'group', "is required with mode 'group'")
}

/** One running bridge. @internal */
export class Bridge implements BusBridge {
  readonly mode: DeliveryMode
  readonly consumer: string
  readonly classes: readonly EventClass[]
  private readonly registry: EventRegistry
  private readonly maxDeliveries: number
  private readonly backoff: NonNullable<BridgeOptions['backoff']>
  private readonly listeners = new Set<(letter: BridgeDeadLetter) => void>()
  /** Event ids are this random prefix and a counter: unique across processes, cheaper than a UUID per emit. */
  private readonly idPrefix = `${randomUUID()}-`
  private sequence = 0
  private subscription: TransportSubscription | undefined
  private closing: Promise<void> | undefined

  constructor(
    private readonly host: BridgeHost,
    private readonly transport: Transport,
    private readonly options: BridgeOptions,
  ) {
    check(options)
    this.registry =
      options.events instanceof EventRegistry ? options.events : new EventRegistry(options.events)
    this.classes = this.registry.classes
    if (this.classes.length === 0)
      throw new TransportOptionsError('bridge', 'events', 'needs at least one class')
    this.mode = options.mode ?? (options.group === undefined ? 'broadcast' : 'group')
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
    this.maxDeliveries = options.maxDeliveries ?? 5
    this.backoff = { initialDelay: 1_000, maxDelay: 60_000, ...options.backoff }
  }

  /** Subscribes, then routes emits here. */
  async start(): Promise<this> {
    this.subscription = await this.transport.subscribe(
      {
        names: this.registry.names,
        mode: this.mode,
        group: this.mode === 'group' ? (this.options.group as string) : (this.options.name ?? 'tributary'),
        consumer: this.consumer,
        prefetch: this.options.prefetch ?? 64,
        ackWait: this.options.ackWait ?? 30_000,
      },
      (delivery) => this.handle(delivery),
    )
    this.host.attach(this.classes, this)
    return this
  }

  /** Publishes a local emit; resolves when the transport accepted it. */
  publish(event: object): Promise<EmitResult> {
    const start = performance.now()
    let wire: { name: string; version: number; data: string }
    try {
      wire = this.registry.encode(event)
    } catch (error) {
      return Promise.reject(error)
    }
    const { name, version, data } = wire
    let published: Promise<unknown>
    try {
      published = this.transport.publish({
        id: `${this.idPrefix}${(++this.sequence).toString(36)}`,
        name,
        version,
        data,
      })
    } catch (error) {
      published = Promise.reject(error)
    }
    return published.then(
      () => ({ handled: 0, dropped: 0, errors: [], durationMs: performance.now() - start }),
      (error: unknown) => {
        throw isTributaryError(error)
          ? error
          : new TransportError(this.transport.name, `publish(${name})`, error)
      },
    )
  }

  onDeadLetter(listener: (letter: BridgeDeadLetter) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.host.detach(this.classes, this)
      await this.subscription?.close()
    })()
    return this.closing
  }

  /** Decodes, runs the handlers, settles. Promise chains rather than async frames: this runs once per message. */
  private handle(delivery: TransportDelivery): void {
    let event: object
    try {
      event = this.registry.decode(delivery.name, delivery.version, delivery.data)
    } catch (error) {
      void this.deadLetter(delivery, error)
      return
    }
    infos.set(event, { id: delivery.id, name: delivery.name, deliveries: delivery.deliveries })
    let delivered: Promise<unknown>
    try {
      delivered = this.host.deliver(event)
    } catch (error) {
      delivered = Promise.reject(error)
    }
    // The callbacks return nothing: no promise adopted per message.
    delivered.then(
      () => this.ack(delivery, event),
      (error: unknown) => {
        if (delivery.deliveries >= this.maxDeliveries) void this.deadLetter(delivery, error)
        else
          void this.settle(
            delivery,
            event,
            attempt(() => delivery.nack(this.delay(delivery.deliveries))),
          )
      },
    )
  }

  /** Acknowledges, reporting a failure (a thrown one included). */
  private ack(delivery: TransportDelivery, event: object): void {
    let acked: Promise<void>
    try {
      acked = delivery.ack()
    } catch (error) {
      acked = Promise.reject(error)
    }
    void this.settle(delivery, event, acked)
  }

  /** The backoff before redelivery number `deliveries + 1`. */
  private delay(deliveries: number): number {
    const delays = backoffDelays({ ...this.backoff, attempts: deliveries })
    return Math.round(delays[deliveries - 1] ?? this.backoff.initialDelay ?? 1_000)
  }

  private async deadLetter(delivery: TransportDelivery, error: unknown): Promise<void> {
    const reason = {
      errorName: error instanceof Error ? error.name : 'Error',
      errorMessage: describe(error),
    }
    await this.settle(
      delivery,
      undefined,
      attempt(() => delivery.deadLetter(reason)),
    )
    const letter: BridgeDeadLetter = {
      id: delivery.id,
      name: delivery.name,
      deliveries: delivery.deliveries,
      error,
    }
    for (const listener of this.listeners) {
      try {
        listener(letter)
      } catch {
        // A faulty listener must not break the consumer.
      }
    }
  }

  /** Reports a failed settlement (the message is redelivered after ackWait). */
  private settle(
    delivery: TransportDelivery,
    event: object | undefined,
    settled: Promise<void>,
  ): Promise<void> {
    return settled.catch((error: unknown) => this.host.report(error, event, `bridge(${delivery.name})`))
  }
}

/** `fn()`'s promise, or a rejected one when it throws. */
function attempt(fn: () => Promise<void>): Promise<void> {
  try {
    return fn()
  } catch (error) {
    return Promise.reject(error)
  }
}

/** The message of an error, with the causes of an `EmitError`'s handler failures. */
function describe(error: unknown): string {
  if (error instanceof AggregateError) {
    const causes = error.errors.map((e: unknown) => {
      const cause = (e as { cause?: unknown }).cause
      return cause instanceof Error ? cause.message : String(cause ?? e)
    })
    return `${error.message}: ${causes.join('; ')}`
  }
  return error instanceof Error ? error.message : String(error)
}
