// core/timers: delays past 2^31-1 ms (which Node fires after 1 ms) kept with chained timers,
// as the store's gcTime, staleTime, timeout and retryDelay use them.
import { QueryStore, delay, setLongTimeout } from '../../../src'
import { MAX_TIMER_DELAY } from '../../../src/core/timers'

const DAY = 86_400_000

describe('long timers', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 })
  })
  afterEach(() => {
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  it('setLongTimeout fires once, at the due time, past 2^31-1 ms', () => {
    const fired = jest.fn()
    setLongTimeout(fired, 60 * DAY)
    jest.advanceTimersByTime(MAX_TIMER_DELAY)
    expect(fired).not.toHaveBeenCalled()
    jest.advanceTimersByTime(60 * DAY - MAX_TIMER_DELAY - 1)
    expect(fired).not.toHaveBeenCalled()
    jest.advanceTimersByTime(1)
    expect(fired).toHaveBeenCalledTimes(1)
    jest.advanceTimersByTime(100 * DAY)
    expect(fired).toHaveBeenCalledTimes(1)
  })

  it('clear() stops it, also between chained steps; Infinity never fires and holds no timer', () => {
    const fired = jest.fn()
    const timer = setLongTimeout(fired, 40 * DAY)
    jest.advanceTimersByTime(30 * DAY)
    timer.clear()
    timer.clear()
    jest.advanceTimersByTime(30 * DAY)
    expect(fired).not.toHaveBeenCalled()
    setLongTimeout(fired, Infinity)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('short delays behave like setTimeout, 0 and negative fire on the next turn', () => {
    const fired: number[] = []
    setLongTimeout(() => fired.push(Date.now()), 10)
    setLongTimeout(() => fired.push(Date.now()), -5)
    jest.advanceTimersByTime(10)
    expect(fired).toEqual([0, 10])
  })

  it('delay waits past 2^31-1 ms and rejects with the reason when its signal aborts', async () => {
    const done = jest.fn()
    void delay(30 * DAY).then(done)
    await jest.advanceTimersByTimeAsync(29 * DAY)
    expect(done).not.toHaveBeenCalled()
    await jest.advanceTimersByTimeAsync(DAY)
    expect(done).toHaveBeenCalled()
    const controller = new AbortController()
    const waiting = delay(30 * DAY, controller.signal)
    controller.abort(new Error('stop'))
    await expect(waiting).rejects.toThrow('stop')
    await expect(delay(1, controller.signal)).rejects.toThrow('stop')
  })

  it('a retryDelay of 30 days waits 30 days before the retry', async () => {
    const store = new QueryStore({ retry: 1, retryDelay: 30 * DAY })
    let calls = 0
    const result = store.fetch(['k'], async () => {
      if (++calls === 1) throw new Error('first')
      return 'second'
    })
    await jest.advanceTimersByTimeAsync(1_000)
    expect(calls).toBe(1) // was 2: the 30-day wait fired after 1 ms
    await jest.advanceTimersByTimeAsync(30 * DAY)
    await expect(result).resolves.toBe('second')
    store.close()
  })
})
