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
import { MinHeap } from './heap'
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
  const heap = new MinHeap<Head<R>>((p, q) => {
    const c = compare(p.batch[p.at] as R, q.batch[q.at] as R)
    return c < 0 || (c === 0 && p.index < q.index)
  })
  const inFlight = new Map<number, Promise<Pulled<R>>>()
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
      if (s.status === 'fulfilled' && s.value) heap.push(s.value)
    }
    while (heap.size > 0) {
      const top = heap.peek() as Head<R>
      const row = top.batch[top.at] as R
      yield row
      if (signal?.aborted) throw abortError(signal, operation)
      top.at++
      if (top.at < top.batch.length) heap.replaceTop()
      else {
        const next = await settle(top.index, top.next as Promise<Pulled<R>>)
        if (next) heap.replaceTop(next)
        else heap.removeTop()
      }
    }
  } finally {
    // No new fetch: wait for those in flight, then close every source (its cursor, its connection).
    await Promise.allSettled([...inFlight.values()])
    await Promise.allSettled(sources.map((source) => source.return(undefined)))
  }
}
