import { createDebouncer, createSchedule, createThrottler } from '../../../src/live/scheduling'

describe('scheduling', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  it('debounce delivers the last value after a quiet period', () => {
    const seen: number[] = []
    const d = createDebouncer(100, (v: number) => seen.push(v))
    d.push(1)
    jest.advanceTimersByTime(60)
    d.push(2)
    jest.advanceTimersByTime(99)
    expect(seen).toEqual([])
    jest.advanceTimersByTime(1)
    expect(seen).toEqual([2])
    expect(jest.getTimerCount()).toBe(0)
  })

  it('debounce with maxWait delivers during a continuous flood', () => {
    const seen: number[] = []
    const d = createDebouncer(100, (v: number) => seen.push(v), { maxWait: 250 })
    for (let i = 0; i < 10; i++) {
      d.push(i)
      jest.advanceTimersByTime(50)
    }
    expect(seen.length).toBeGreaterThanOrEqual(1)
    expect(seen.length).toBeLessThanOrEqual(3)
    d.stop()
    expect(jest.getTimerCount()).toBe(0)
  })

  it('throttle passes a burst, then one per interval, and keeps the newest value', () => {
    const seen: string[] = []
    const t = createThrottler(1_000, (v: string) => seen.push(v), { burst: 2 })
    t.push('a')
    t.push('b')
    t.push('c')
    t.push('d')
    expect(seen).toEqual(['a', 'b'])
    jest.advanceTimersByTime(999)
    expect(seen).toEqual(['a', 'b'])
    jest.advanceTimersByTime(1)
    expect(seen).toEqual(['a', 'b', 'd'])
    expect(t.pending).toBe(false)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('1,000 pushes are bounded by debounce and by throttle', () => {
    const debounced: number[] = []
    const throttled: number[] = []
    const d = createSchedule({ debounce: 20 }, (v: number) => debounced.push(v))
    const t = createSchedule({ throttle: 100, burst: 3 }, (v: number) => throttled.push(v))
    for (let i = 0; i < 1_000; i++) {
      d.push(i)
      t.push(i)
      jest.advanceTimersByTime(1)
    }
    jest.advanceTimersByTime(1_000)
    expect(debounced).toEqual([999])
    // 1,000 ms of pushes plus the drain: burst 3 + one per 100 ms.
    expect(throttled.length).toBeLessThanOrEqual(3 + 11)
    expect(throttled.length).toBeGreaterThanOrEqual(10)
    expect(throttled.at(-1)).toBe(999)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('stop drops the waiting value and leaves no timer', () => {
    const seen: number[] = []
    const s = createSchedule({ debounce: 50, throttle: 100 }, (v: number) => seen.push(v))
    s.push(1)
    jest.advanceTimersByTime(50)
    s.push(2)
    s.push(3)
    jest.advanceTimersByTime(60)
    s.push(4)
    s.stop()
    s.push(5)
    expect(jest.getTimerCount()).toBe(0)
    jest.advanceTimersByTime(1_000)
    expect(seen).toEqual([1])
  })

  it('without options values pass at once', () => {
    const seen: number[] = []
    const s = createSchedule({}, (v: number) => seen.push(v))
    s.push(1)
    s.push(2)
    expect(seen).toEqual([1, 2])
  })

  it('rejects bad durations', () => {
    expect(() => createDebouncer(-1, () => undefined)).toThrow(/debounce/)
    expect(() => createThrottler(10, () => undefined, { burst: 0 })).toThrow(/burst/)
  })
})
