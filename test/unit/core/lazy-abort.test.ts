import { QueryStore } from '../../../src'
import { LazyAbortController } from '../../../src/core/abort'
import { runWithRetry } from '../../../src/resilience/retry-loop'

describe('LazyAbortController (a signal made only when read)', () => {
  it('is not aborted until aborted, and gives one signal however often it is read', () => {
    const lazy = new LazyAbortController()
    expect(lazy.aborted).toBe(false)
    expect(lazy.signal).toBe(lazy.signal)
    expect(lazy.read()).toBe(lazy.signal)
    expect(lazy.signal.aborted).toBe(false)
  })

  it('aborts a signal already read, with the reason', () => {
    const lazy = new LazyAbortController()
    const signal = lazy.signal
    const reason = new Error('stop')
    lazy.abort(reason)
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBe(reason)
  })

  it('makes a signal read after the abort already aborted, with the first reason', () => {
    const lazy = new LazyAbortController()
    const first = new Error('first')
    lazy.abort(first)
    lazy.abort(new Error('second'))
    expect(lazy.aborted).toBe(true)
    expect(lazy.signal.aborted).toBe(true)
    expect(lazy.signal.reason).toBe(first)
  })

  it('stops runWithRetry between attempts without the signal ever being read', async () => {
    const lazy = new LazyAbortController()
    let attempts = 0
    const run = runWithRetry(
      () => {
        attempts++
        lazy.abort(new Error('cancelled'))
        throw new Error('failed')
      },
      { retry: 3, retryDelay: 0, timeout: Infinity, signal: lazy, operation: 'test', settleOnAbort: false },
    )
    await expect(run).rejects.toThrow('failed')
    expect(attempts).toBe(1)
  })
})

describe('a query fetcher reading its signal late', () => {
  it('sees the signal aborted when the fetch was cancelled before it looked', async () => {
    const store = new QueryStore()
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let seen: AbortSignal | undefined
    const query = store.query(['late'], async (context) => {
      await gate
      seen = context.signal // read only now
      return 1
    })
    const fetching = query.refetch()
    query.cancel()
    await expect(fetching).rejects.toThrow()
    release()
    await new Promise((resolve) => setImmediate(resolve))
    expect(seen?.aborted).toBe(true)
    store.close()
  })

  it('gives a fetcher that reads it at once a live signal that aborts on cancel', async () => {
    const store = new QueryStore()
    let signal: AbortSignal | undefined
    const query = store.query(['early'], ({ signal: s }) => {
      signal = s
      return new Promise<number>(() => undefined)
    })
    const fetching = query.refetch()
    expect(signal?.aborted).toBe(false)
    query.cancel()
    await expect(fetching).rejects.toThrow()
    expect(signal?.aborted).toBe(true)
    store.close()
  })
})
