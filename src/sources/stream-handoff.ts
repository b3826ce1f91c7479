/**
 * The hand-off from a streaming source's `fetch` to a watch started right after it (what
 * `watch()` does after its first resolve): the position of the message the fetch gave, kept
 * per (key, field) for {@link STREAM_RESUME_WINDOW_MS}, so the watch reads on from there and a
 * message published in between is reported. @internal
 */
import { performance } from 'node:perf_hooks'

/** How long after a `fetch` a watch of the same key and field starts from the message it gave, in ms. */
export const STREAM_RESUME_WINDOW_MS = 30_000

/** Positions (a stream sequence, an entry id) remembered per key and field. @internal */
export interface StreamHandoff<P> {
  /** Remembers the position of the message a fetch of `key` (and `field`) gave. */
  remember(key: string, field: string | undefined, position: P): void
  /** The position remembered for `key` and `field`, if recent, taken once. */
  take(key: string, field: string | undefined): P | undefined
}

/** A new hand-off table. @internal */
export function streamHandoff<P>(): StreamHandoff<P> {
  const fetched = new Map<string, { readonly position: P; readonly at: number }>()
  const identity = (key: string, field: string | undefined): string => JSON.stringify([key, field ?? null])
  return {
    remember(key, field, position) {
      fetched.set(identity(key, field), { position, at: performance.now() })
    },
    take(key, field) {
      const id = identity(key, field)
      const last = fetched.get(id)
      fetched.delete(id)
      return last && performance.now() - last.at <= STREAM_RESUME_WINDOW_MS ? last.position : undefined
    },
  }
}
