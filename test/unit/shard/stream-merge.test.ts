// The streamed k-way merge on its own: order with ties in source order, batches pulled as the
// merge needs them, every source closed when the merge ends (done, broken out of, failed).
import { mergeStreams, type BatchSource } from '../../../src/shard/stream-merge'

interface Probe {
  readonly source: BatchSource<number>
  readonly pulls: () => number
  readonly closed: () => boolean
}

function probe(batches: number[][], failAt?: number): Probe {
  let pulls = 0
  let closed = false
  const source = (async function* () {
    try {
      for (const [i, batch] of batches.entries()) {
        pulls++
        if (i === failAt) throw new Error(`batch ${i} failed`)
        yield batch
      }
    } finally {
      closed = true
    }
  })()
  return { source, pulls: () => pulls, closed: () => closed }
}

const byValue = (a: number, b: number): number => a - b
const fail = (index: number, error: unknown): Error =>
  new Error(`source ${index}: ${(error as Error).message}`)

async function collect(gen: AsyncGenerator<number>): Promise<number[]> {
  const out: number[] = []
  for await (const v of gen) out.push(v)
  return out
}

describe('mergeStreams', () => {
  it('merges ordered batches of every source in order, and closes them all', async () => {
    const probes = [
      probe([
        [1, 4],
        [7, 9],
      ]),
      probe([[2, 3], [], [8]]),
      probe([]),
    ]
    const merged = await collect(
      mergeStreams(
        probes.map((p) => p.source),
        byValue,
        fail,
        undefined,
        'test',
      ),
    )
    expect(merged).toEqual([1, 2, 3, 4, 7, 8, 9])
    expect(probes.every((p) => p.closed())).toBe(true)
  })

  it('keeps ties in source order (without an order: every source in turn)', async () => {
    const tagged = [probe([[10, 11]]), probe([[20, 21]])]
    const merged = await collect(
      mergeStreams(
        tagged.map((p) => p.source),
        () => 0,
        fail,
        undefined,
        'test',
      ),
    )
    expect(merged).toEqual([10, 11, 20, 21])
  })

  it('stops pulling when the consumer breaks out, and closes every source', async () => {
    const probes = [probe([[1], [3], [5], [7]]), probe([[2], [4], [6], [8]])]
    for await (const v of mergeStreams(
      probes.map((p) => p.source),
      byValue,
      fail,
      undefined,
      'test',
    )) {
      if (v === 2) break
    }
    // Source 0 gave [1], its current batch is [3] and [5] was fetched ahead; source 1's current
    // is [2] with [4] ahead. Nothing further is pulled once the loop breaks.
    expect(probes.map((p) => p.pulls())).toEqual([3, 2])
    expect(probes.every((p) => p.closed())).toBe(true)
  })

  it('a failing source ends the merge with its error, and the others are closed', async () => {
    const probes = [probe([[1], [5]]), probe([[2], [3]], 1), probe([[4]])]
    const error = await collect(
      mergeStreams(
        probes.map((p) => p.source),
        byValue,
        fail,
        undefined,
        'test',
      ),
    ).catch((e: unknown) => e)
    expect((error as Error).message).toBe('source 1: batch 1 failed')
    expect(probes.every((p) => p.closed())).toBe(true)
  })

  it('an aborted signal rejects with its reason', async () => {
    const controller = new AbortController()
    const reason = new Error('stop')
    const probes = [probe([[1, 2, 3]])]
    const seen: number[] = []
    const run = (async () => {
      for await (const v of mergeStreams(
        probes.map((p) => p.source),
        byValue,
        fail,
        controller.signal,
        'test',
      )) {
        seen.push(v)
        controller.abort(reason)
      }
    })()
    await expect(run).rejects.toBe(reason)
    expect(seen).toEqual([1])
    expect(probes[0]?.closed()).toBe(true)
  })
})
