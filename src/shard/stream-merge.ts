/**
 * The streamed k-way merge of `acrossShards().stream()`: each source (a shard's reader) gives
 * its rows in order, a batch at a time; the merge yields one row at a time in the overall
 * order (a binary heap over the sources' current rows, ties kept in source order, so without
 * an order it is every shard in turn). While a source's batch is being merged its next batch
 * is already being fetched, so the shards read in parallel; at most two batches per source
 * are held. A source that fails ends the merge with `fail(index, error)`'s error; every
 * source is closed when the merge ends in any way (its fetch in flight awaited first).
 * @internal
 */
import { abortError } from '../core/abort'

/** One ordered source: its batches, oldest first. @internal */
export type BatchSource<R> = AsyncGenerator<R[], void, undefined>

type Pulled<R> =
  | { readonly ok: true; readonly result: IteratorResult<R[], void> }
  | { readonly ok: false; readonly error: unknown }

interface Head<R> {
  readonly index: number
  batch: R[]
  at: number
  /** The next batch, requested when this one became current. */
  next: Promise<Pulled<R>> | undefined
}

function pull<R>(source: BatchSource<R>): Promise<Pulled<R>> {
  return source.next().then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  )
}

/**
 * The rows of `sources` merged by `compare`. @internal
 */
export async function* mergeStreams<R>(
  sources: readonly BatchSource<R>[],
  compare: (a: R, b: R) => number,
  fail: (index: number, error: unknown) => unknown,
  signal: AbortSignal | undefined,
  operation: string,
): AsyncGenerator<R, void, undefined> {
  const heap: Head<R>[] = []
  const inFlight = new Map<number, Promise<Pulled<R>>>()
  const less = (p: Head<R>, q: Head<R>): boolean => {
    const c = compare(p.batch[p.at] as R, q.batch[q.at] as R)
    return c < 0 || (c === 0 && p.index < q.index)
  }
  const up = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!less(heap[i] as Head<R>, heap[parent] as Head<R>)) return
      ;[heap[i], heap[parent]] = [heap[parent] as Head<R>, heap[i] as Head<R>]
      i = parent
    }
  }
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l] as Head<R>, heap[m] as Head<R>)) m = l
      if (r < heap.length && less(heap[r] as Head<R>, heap[m] as Head<R>)) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m] as Head<R>, heap[i] as Head<R>]
      i = m
    }
  }
  const request = (index: number): Promise<Pulled<R>> => {
    const p = pull(sources[index] as BatchSource<R>)
    inFlight.set(index, p)
    return p
  }
  /** The source's next non-empty batch as its head, or `undefined` when it is done. */
  const settle = async (index: number, pending: Promise<Pulled<R>>): Promise<Head<R> | undefined> => {
    for (;;) {
      const pulled = await pending
      inFlight.delete(index)
      if (signal?.aborted) throw abortError(signal, operation)
      if (!pulled.ok) throw fail(index, pulled.error)
      if (pulled.result.done) return undefined
      if (pulled.result.value.length === 0) {
        pending = request(index)
        continue
      }
      return { index, batch: pulled.result.value, at: 0, next: request(index) }
    }
  }
  try {
    if (signal?.aborted) throw abortError(signal, operation)
    const first = await Promise.allSettled(sources.map((_, i) => settle(i, request(i))))
    for (const s of first) if (s.status === 'rejected') throw s.reason
    for (const s of first) {
      if (s.status === 'fulfilled' && s.value) {
        heap.push(s.value)
        up(heap.length - 1)
      }
    }
    while (heap.length > 0) {
      const top = heap[0] as Head<R>
      const row = top.batch[top.at] as R
      yield row
      if (signal?.aborted) throw abortError(signal, operation)
      top.at++
      if (top.at >= top.batch.length) {
        const next = await settle(top.index, top.next as Promise<Pulled<R>>)
        if (next) heap[0] = next
        else {
          const last = heap.pop() as Head<R>
          if (heap.length === 0) break
          heap[0] = last
        }
      }
      down(0)
    }
  } finally {
    // No new fetch: wait for those in flight, then close every source (its cursor, its connection).
    await Promise.allSettled([...inFlight.values()])
    await Promise.allSettled(sources.map((source) => source.return(undefined)))
  }
}
