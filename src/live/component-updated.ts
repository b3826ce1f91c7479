/**
 * `ComponentUpdated`: the event class live updates are published as on an event bus, and the
 * small interface `watch` needs from that bus (so live does not depend on the events module).
 */
import type { ComponentUpdate } from './update'

/**
 * A live update, as an event: `watch(Class, { sources, bus })` emits one per update (every kind:
 * `updated`, `added`, `removed` and `error`) with `bus.emitAndForget`, after the handle's own
 * listeners and `updates()` consumers have it. The watcher never waits for bus handlers; their
 * failures reach `bus.onError`. Secrets are masked as in every update.
 *
 * @example
 * ```ts
 * import { AsyncEventBus, ComponentUpdated, watch } from 'tributary'
 * const bus = new AsyncEventBus()
 * bus.on(ComponentUpdated, (e) => {
 *   if (e.className === 'AppConfig' && e.update.kind === 'updated') console.log(e.property, e.update.newValue)
 * }, { concurrency: 1 })
 * const live = await watch(AppConfig, { sources, bus })
 * ```
 */
export class ComponentUpdated {
  /** The kind of the update: `'updated'`, `'added'`, `'removed'` or `'error'`. */
  readonly kind: ComponentUpdate['kind']
  /** The property the update is about. */
  readonly property: string

  constructor(
    /** The watched class, e.g. `'AppConfig'`. */
    readonly className: string,
    /** The update itself, as `live.updates()` yields it. */
    readonly update: ComponentUpdate,
  ) {
    this.kind = update.kind
    this.property = update.property
  }
}

/**
 * What `watch` needs from an event bus: `AsyncEventBus` fits, and so does any object with an
 * `emitAndForget(event)` that never throws (a throw is caught and ignored).
 *
 * @example
 * ```ts
 * import { AsyncEventBus, type UpdatePublisher } from 'tributary'
 * const bus: UpdatePublisher = new AsyncEventBus()
 * ```
 */
export interface UpdatePublisher {
  emitAndForget(event: ComponentUpdated): unknown
}
