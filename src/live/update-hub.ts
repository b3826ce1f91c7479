/**
 * The fan-out of live updates: every `updates()` consumer and every `onUpdate` listener gets
 * every update. A slow `updates()` consumer has a bounded buffer; see {@link UpdateHub}.
 */
import { overflowUpdate, type ComponentUpdate } from './update'

/** Options of `updates()`. */
export interface UpdatesOptions {
  /**
   * Updates kept for this consumer while it is not reading. When full, the OLDEST is dropped
   * and the consumer then receives one `error` update (an `UpdatesOverflowError` with the
   * count of dropped updates, property `'*'`) before the updates that were kept.
   * Defaults to 1_000.
   */
  readonly bufferSize?: number
  /** Ends the iteration (it returns `done`) when aborted. Defaults to none. */
  readonly signal?: AbortSignal
}

/** Receives each update synchronously; a listener that throws is ignored (the error is dropped). */
export type UpdateListener = (update: ComponentUpdate) => void

/**
 * Publishes updates to async-iterator consumers and listeners.
 *
 * @example
 * ```ts
 * import { createUpdateHub } from 'tributary'
 * const hub = createUpdateHub()
 * const off = hub.onUpdate((u) => console.log(u.kind, u.property))
 * for await (const u of hub.updates({ bufferSize: 100 })) { … }
 * hub.close()
 * ```
 */
export interface UpdateHub {
  /** Delivers `update` to every listener and consumer. Ignored after `close()`. */
  publish(update: ComponentUpdate): void
  /** An async iterable of every update published from now on; ends when the hub closes. */
  updates(options?: UpdatesOptions): AsyncIterableIterator<ComponentUpdate>
  /** Calls `listener` for every update; returns the unsubscribe function. */
  onUpdate(listener: UpdateListener): () => void
  /** Ends every consumer (after it has read what is buffered) and drops every listener. */
  close(): void
  /** True after `close()`. */
  readonly closed: boolean
}

interface Consumer {
  push(update: ComponentUpdate): void
  end(): void
}

/** Creates an {@link UpdateHub}. */
export function createUpdateHub(): UpdateHub {
  const listeners = new Set<UpdateListener>()
  const consumers = new Set<Consumer>()
  let closed = false

  return {
    publish(update) {
      if (closed) return
      for (const listener of [...listeners]) {
        try {
          listener(update)
        } catch {
          // A listener's failure must not stop the watcher or other listeners.
        }
      }
      for (const consumer of [...consumers]) consumer.push(update)
    },
    onUpdate(listener) {
      if (closed) return () => undefined
      const entry: UpdateListener = (u) => listener(u)
      listeners.add(entry)
      return () => {
        listeners.delete(entry)
      }
    },
    updates(options = {}) {
      const bufferSize = options.bufferSize ?? 1_000
      if (!Number.isInteger(bufferSize) || bufferSize < 1) {
        throw new RangeError(`bufferSize must be a whole number >= 1, got ${bufferSize}`)
      }
      const buffer: ComponentUpdate[] = []
      let dropped = 0
      let ended = closed
      let waiting: ((result: IteratorResult<ComponentUpdate>) => void) | undefined
      const signal = options.signal
      const finish = (): void => {
        if (ended && buffer.length === 0 && dropped === 0) return
        ended = true
        consumers.delete(consumer)
        signal?.removeEventListener('abort', onAbort)
        if (waiting && buffer.length === 0 && dropped === 0) {
          const w = waiting
          waiting = undefined
          w({ value: undefined, done: true })
        }
      }
      const onAbort = (): void => {
        buffer.length = 0
        dropped = 0
        finish()
        if (waiting) {
          const w = waiting
          waiting = undefined
          w({ value: undefined, done: true })
        }
      }
      const take = (): ComponentUpdate | undefined => {
        if (dropped > 0) {
          const marker = overflowUpdate(dropped, bufferSize)
          dropped = 0
          return marker
        }
        return buffer.shift()
      }
      const consumer: Consumer = {
        push(update) {
          if (ended) return
          if (waiting) {
            const w = waiting
            waiting = undefined
            w({ value: update, done: false })
            return
          }
          buffer.push(update)
          if (buffer.length > bufferSize) {
            buffer.shift()
            dropped += 1
          }
        },
        end: finish,
      }
      if (!ended) {
        if (signal?.aborted) ended = true
        else {
          consumers.add(consumer)
          signal?.addEventListener('abort', onAbort, { once: true })
        }
      }
      const iterator: AsyncIterableIterator<ComponentUpdate> = {
        next() {
          const update = take()
          if (update) return Promise.resolve({ value: update, done: false })
          if (ended) return Promise.resolve({ value: undefined, done: true })
          return new Promise((resolve) => {
            waiting = resolve
          })
        },
        return() {
          onAbort()
          return Promise.resolve({ value: undefined, done: true })
        },
        [Symbol.asyncIterator]() {
          return iterator
        },
      }
      return iterator
    },
    close() {
      if (closed) return
      closed = true
      listeners.clear()
      for (const consumer of [...consumers]) consumer.end()
      consumers.clear()
    },
    get closed() {
      return closed
    },
  }
}
