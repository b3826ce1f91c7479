/**
 * `ComponentUpdate`: what a live watcher reports, a union on `kind`.
 */
import { SECRET_MASK } from '../core/redact'
import { TributaryError, hasErrorKind } from '../core/errors'

/** The fields every update carries. */
export interface ComponentUpdateBase {
  /** The property that changed, e.g. `'port'` (`'*'` for an {@link UpdatesOverflowError}). */
  readonly property: string
  /** The source name the value came from, e.g. `'consul'`. */
  readonly source: string
  /** The key (or query) watched, when the component has one. */
  readonly key: string | undefined
  /** When the update was produced (`Date.now()`). */
  readonly at: number
  /**
   * True for `secret` components: their `oldValue`/`newValue` are then the mask `'***'`;
   * read the real value from `live.current`.
   */
  readonly secret: boolean
}

/**
 * A value changed (the coerced value differs, by deep equality, from the one before). (The
 * event class published on an `AsyncEventBus` is `ComponentUpdated`; it carries any update.)
 */
export interface ComponentValueUpdated extends ComponentUpdateBase {
  readonly kind: 'updated'
  readonly oldValue: unknown
  readonly newValue: unknown
}

/** A component that had no value (missing, not required) now has one. */
export interface ComponentAdded extends ComponentUpdateBase {
  readonly kind: 'added'
  readonly newValue: unknown
}

/**
 * The key was deleted in the source. The property now holds its `fallback`, or `undefined`
 * when it has none and is `required: false` (`newValue` says which). A required component
 * without a fallback keeps its last value instead, and the deletion is an `error` update.
 */
export interface ComponentRemoved extends ComponentUpdateBase {
  readonly kind: 'removed'
  readonly oldValue: unknown
  readonly newValue: unknown
}

/**
 * The watcher failed (source down, unreadable or invalid value, failed validation). The last
 * good value stays. A source that stays down produces one error update until it recovers.
 */
export interface ComponentUpdateError extends ComponentUpdateBase {
  readonly kind: 'error'
  readonly error: unknown
}

/**
 * What `watch(...).updates()` yields and `onUpdate` listeners receive.
 *
 * @example
 * ```ts
 * import { watch, type ComponentUpdate } from 'tributary'
 * const live = await watch(AppConfig, { sources })
 * live.onUpdate((u: ComponentUpdate) => {
 *   if (u.kind === 'updated') console.log(u.property, u.oldValue, '→', u.newValue)
 *   if (u.kind === 'error') console.warn(u.property, u.error)
 * })
 * ```
 */
export type ComponentUpdate = ComponentValueUpdated | ComponentAdded | ComponentRemoved | ComponentUpdateError

/** The mask shown instead of a secret value. */
export { SECRET_MASK } from '../core/redact'

/** Masks `value` when `secret` is true. */
export function maskValue(value: unknown, secret: boolean): unknown {
  return secret && value !== undefined ? SECRET_MASK : value
}

/**
 * An `updates()` consumer fell behind by more than its buffer: the oldest updates were dropped.
 * Delivered as an `error` update with property `'*'` in place of the dropped ones; re-read
 * `live.current` (or `live.snapshot()`) to catch up.
 */
export class UpdatesOverflowError extends TributaryError {
  /** The literal brand its `name` and guard use (bundlers rename classes). */
  static override readonly kind: string = 'UpdatesOverflowError'
  /** How many updates were dropped. */
  readonly dropped: number

  constructor(dropped: number, bufferSize: number) {
    super(
      `updates(): the consumer fell behind, ${dropped} oldest update(s) dropped (buffer of ${bufferSize}); re-read live.current`,
    )
    this.dropped = dropped
  }
}

/** True when `error` is an {@link UpdatesOverflowError}. */
export function isUpdatesOverflowError(error: unknown): error is UpdatesOverflowError {
  return hasErrorKind(error, 'UpdatesOverflowError')
}

/** The error update that stands for dropped updates. */
export function overflowUpdate(dropped: number, bufferSize: number): ComponentUpdateError {
  return {
    kind: 'error',
    property: '*',
    source: 'live',
    key: undefined,
    at: Date.now(),
    secret: false,
    error: new UpdatesOverflowError(dropped, bufferSize),
  }
}
