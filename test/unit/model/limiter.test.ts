// The per-database limit that every helper passes through: FIFO, never more than the limit at
// once, a synchronous throw is a rejection, and a failure frees its slot.
import { createLimiter } from '../../../src/model/limiter'

describe('createLimiter', () => {
  it('runs at most `concurrency` at once, the rest in the order they came', async () => {
    const limit = createLimiter(2)
    let active = 0
    let peak = 0
    const order: number[] = []
    const gates: Array<() => void> = []
    const task = (i: number) =>
      limit(async () => {
        active++
        peak = Math.max(peak, active)
        order.push(i)
        await new Promise<void>((resolve) => gates.push(resolve))
        active--
        return i
      })
    const all = Promise.all([0, 1, 2, 3, 4].map(task))
    expect(order).toEqual([0, 1]) // a free slot starts synchronously
    while (gates.length > 0 || order.length < 5) {
      gates.shift()?.()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await all).toEqual([0, 1, 2, 3, 4])
    expect(order).toEqual([0, 1, 2, 3, 4])
    expect(peak).toBe(2)
  })

  it('turns a synchronous throw into a rejection and frees the slot after a failure', async () => {
    const limit = createLimiter(1)
    await expect(
      limit(() => {
        throw new Error('sync')
      }),
    ).rejects.toThrow('sync')
    await expect(limit(() => Promise.reject(new Error('async')))).rejects.toThrow('async')
    await expect(limit(async () => 7)).resolves.toBe(7)
  })

  it('keeps 10,000 queued calls in order', async () => {
    const limit = createLimiter(3)
    const seen: number[] = []
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => limit(async () => void seen.push(i))))
    expect(seen).toEqual(Array.from({ length: 10_000 }, (_, i) => i))
  })

  it('refuses a concurrency that is not a positive integer', () => {
    expect(() => createLimiter(0)).toThrow(RangeError)
    expect(() => createLimiter(1.5)).toThrow(/positive integer/)
  })
})
