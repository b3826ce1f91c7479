/**
 * The bus's meta events: `ListenerAdded` and `ListenerRemoved`, emitted by the bus itself when
 * a handler is added or removed (as emittery's `listenerAdded` / `listenerRemoved`).
 */
import type { EventClass, EventHandler } from './types'

/**
 * Emitted by the bus after a handler is added with `on`, `onFallible`, `onAny` or `once`
 * (`eventClass` is `undefined` for `onAny`). Not emitted for handlers of the meta events
 * themselves, nor for `events()` / `anyEvent()` iterators; `onAny` handlers do not hear it.
 * Only the bus may emit it: `bus.emit(new ListenerAdded(…))` is refused.
 *
 * @example
 * ```ts
 * import { AsyncEventBus, ListenerAdded } from 'tributary'
 * const bus = new AsyncEventBus()
 * bus.on(ListenerAdded, ({ eventClass }) => console.log('now listening to', eventClass?.name))
 * ```
 */
export class ListenerAdded {
  constructor(
    /** The class the handler listens to; `undefined` for an `onAny` handler. */
    readonly eventClass: EventClass | undefined,
    /** The handler that was added. */
    readonly handler: EventHandler<never>,
  ) {}
}

/** Emitted by the bus after a handler is removed; the counterpart of {@link ListenerAdded}. */
export class ListenerRemoved {
  constructor(
    /** The class the handler listened to; `undefined` for an `onAny` handler. */
    readonly eventClass: EventClass | undefined,
    /** The handler that was removed. */
    readonly handler: EventHandler<never>,
  ) {}
}

/** True for the meta event classes. @internal */
export function isMetaEventClass(eventClass: unknown): boolean {
  return eventClass === ListenerAdded || eventClass === ListenerRemoved
}
