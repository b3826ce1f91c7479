/**
 * The registry of event classes a bridge carries: each class has a wire name and a version,
 * and an encoder/decoder (JSON of the event's own fields by default).
 */
import type { EventClass } from '../events/types'
import { EventDecodeError, EventRegistryError } from './errors'

/** How one event class is carried. */
export interface EventRegistration<E extends object = object> {
  /** The class. */
  readonly eventClass: EventClass<E>
  /** The wire name. Defaults to the class name. */
  readonly name?: string
  /** The wire version; a message of another version is a dead letter. Defaults to 1. */
  readonly version?: number
  /** Turns an event into JSON-able data. Defaults to the event's own enumerable fields. */
  readonly encode?: (event: E) => unknown
  /**
   * Turns decoded JSON back into an event; throw to reject the payload. Defaults to an object
   * with the class's prototype and the data's fields (the constructor is not run).
   */
  readonly decode?: (data: unknown) => E
}

/** An event class, or a class with its wire name, version and codec. */
export type EventRegistrationInput = EventClass | EventRegistration

interface Registered {
  readonly eventClass: EventClass
  readonly name: string
  readonly version: number
  /** Undefined: the event's own enumerable fields, stringified as they are. */
  readonly encode: ((event: object) => unknown) | undefined
  readonly decode: (data: unknown) => object
}

/**
 * Maps event classes to wire names and versions and back.
 *
 * @example
 * ```ts
 * import { EventRegistry } from 'tributary'
 * const registry = new EventRegistry([UserCreated, { eventClass: OrderPlaced, name: 'order.placed', version: 2 }])
 * const wire = registry.encode(new UserCreated(1)) // { name: 'UserCreated', version: 1, data: '{"id":1}' }
 * ```
 */
export class EventRegistry {
  private readonly byClass = new Map<EventClass, Registered>()
  private readonly byName = new Map<string, Registered>()

  constructor(events: Iterable<EventRegistrationInput> = []) {
    for (const input of events) this.register(input)
  }

  /** Adds one class; throws an `EventRegistryError` for a class or name registered twice. */
  register(input: EventRegistrationInput): this {
    const spec: EventRegistration =
      typeof input === 'function' ? { eventClass: input } : (input as EventRegistration)
    const eventClass = spec.eventClass
    if (typeof eventClass !== 'function')
      throw new EventRegistryError(String(eventClass), 'needs an event class')
    const name = spec.name ?? eventClass.name
    if (name === '') throw new EventRegistryError('AnonymousEvent', 'an anonymous class needs a `name`')
    if (!/^[A-Za-z0-9_.-]+$/.test(name))
      throw new EventRegistryError(name, 'a wire name may hold only letters, digits, `_`, `.` and `-`')
    const version = spec.version ?? 1
    if (!Number.isInteger(version) || version < 1)
      throw new EventRegistryError(name, `version must be a whole number >= 1, got ${String(version)}`)
    if (this.byClass.has(eventClass)) throw new EventRegistryError(name, 'the class is registered twice')
    if (this.byName.has(name)) throw new EventRegistryError(name, 'two classes have this wire name')
    const prototype = eventClass.prototype as object
    const registered: Registered = {
      eventClass,
      name,
      version,
      encode:
        (spec.encode as ((event: object) => unknown) | undefined) ??
        // JSON.stringify(event) is the JSON of its own fields, unless the class has a toJSON.
        (typeof (prototype as { toJSON?: unknown }).toJSON === 'function'
          ? (event) => ({ ...event })
          : undefined),
      decode:
        spec.decode ??
        ((data) => {
          if (typeof data !== 'object' || data === null || Array.isArray(data))
            throw new TypeError('the payload must be a JSON object')
          return Object.assign(Object.create(prototype) as object, data)
        }),
    }
    this.byClass.set(eventClass, registered)
    this.byName.set(name, registered)
    return this
  }

  /** The registered classes. */
  get classes(): EventClass[] {
    return [...this.byClass.keys()]
  }

  /** The registered wire names. */
  get names(): string[] {
    return [...this.byName.keys()]
  }

  /** True when `eventClass` (exactly that class) is registered. */
  has(eventClass: EventClass): boolean {
    return this.byClass.has(eventClass)
  }

  /** The wire name, version and JSON text of `event`; an `EventRegistryError` for an unregistered class. */
  encode(event: object): { name: string; version: number; data: string } {
    const eventClass = (event as { constructor: EventClass }).constructor
    const registered = this.byClass.get(eventClass)
    if (registered === undefined)
      throw new EventRegistryError(eventClass.name || 'AnonymousEvent', 'is not registered with this bridge')
    const data = JSON.stringify(registered.encode === undefined ? event : registered.encode(event))
    if (data === undefined)
      throw new EventRegistryError(registered.name, 'encode() returned nothing JSON can hold')
    return { name: registered.name, version: registered.version, data }
  }

  /** The event a message carries; an `EventDecodeError` (never anything else) when it cannot be had. */
  decode(name: string, version: number, data: string): object {
    const registered = this.byName.get(name)
    if (registered === undefined)
      throw new EventDecodeError(
        'unknown-event',
        name,
        version,
        'no event class is registered under this name',
      )
    if (version !== registered.version) {
      throw new EventDecodeError(
        'unknown-version',
        name,
        version,
        `the registered version is ${registered.version}`,
      )
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch (error) {
      throw new EventDecodeError('bad-payload', name, version, 'the payload is not JSON', error)
    }
    try {
      const event = registered.decode(parsed)
      if (typeof event !== 'object' || event === null) throw new TypeError('decode() returned no object')
      return event
    } catch (error) {
      throw new EventDecodeError(
        'bad-payload',
        name,
        version,
        error instanceof Error ? error.message : String(error),
        error,
      )
    }
  }
}
