import { commandDeadlines } from '../../../src/store/distributed/command-deadlines'
import { deferred } from './helpers'

/** The state of a promise after the microtasks run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  let state = 'pending'
  promise.then(
    (value) => void (state = `resolved ${String(value)}`),
    (error: unknown) => void (state = `rejected ${(error as Error).message}`),
  )
  await Promise.resolve()
  await Promise.resolve()
  return state
}

describe('commandDeadlines (one timer for the Redis commands of a tier)', () => {
  beforeEach(() => {
    jest.useFakeTimers()
  })
  afterEach(() => {
    jest.useRealTimers()
  })

  it('gives the reply of a command that answers in time, and no timeout after it', async () => {
    const run = commandDeadlines(1_000)
    const reply = deferred<string>()
    const result = run(reply.promise)
    jest.advanceTimersByTime(999)
    reply.resolve('OK')
    expect(await outcome(result)).toBe('resolved OK')
    jest.advanceTimersByTime(5_000)
    expect(await outcome(result)).toBe('resolved OK')
  })

  it('passes a failed command on as it failed', async () => {
    const run = commandDeadlines(1_000)
    expect(await outcome(run(Promise.reject(new Error('READONLY'))))).toBe('rejected READONLY')
  })

  it('rejects a command still running after the deadline, not a millisecond before', async () => {
    const run = commandDeadlines(1_000)
    const result = run(new Promise<string>(() => undefined))
    jest.advanceTimersByTime(999)
    expect(await outcome(result)).toBe('pending')
    jest.advanceTimersByTime(1)
    expect(await outcome(result)).toBe('rejected Redis command timed out after 1000 ms')
  })

  it('times each command from when it was sent, whatever ran before it', async () => {
    const run = commandDeadlines(1_000)
    const first = run(new Promise<string>(() => undefined))
    jest.advanceTimersByTime(300)
    const answered = deferred<string>()
    const second = run(answered.promise)
    jest.advanceTimersByTime(100)
    const third = run(new Promise<string>(() => undefined))
    answered.resolve('late enough')
    jest.advanceTimersByTime(600) // t = 1000
    expect(await outcome(first)).toBe('rejected Redis command timed out after 1000 ms')
    expect(await outcome(second)).toBe('resolved late enough')
    expect(await outcome(third)).toBe('pending')
    jest.advanceTimersByTime(399) // t = 1399
    expect(await outcome(third)).toBe('pending')
    jest.advanceTimersByTime(1) // t = 1400
    expect(await outcome(third)).toBe('rejected Redis command timed out after 1000 ms')
  })

  it('ignores the reply that arrives after the deadline', async () => {
    const run = commandDeadlines(50)
    const reply = deferred<string>()
    const result = run(reply.promise)
    jest.advanceTimersByTime(50)
    reply.resolve('too late')
    expect(await outcome(result)).toBe('rejected Redis command timed out after 50 ms')
  })

  it('keeps timing commands sent after every earlier one settled', async () => {
    const run = commandDeadlines(1_000)
    for (let i = 0; i < 3; i++) expect(await outcome(run(Promise.resolve(i)))).toBe(`resolved ${i}`)
    jest.advanceTimersByTime(400)
    const stuck = run(new Promise<string>(() => undefined))
    jest.advanceTimersByTime(999)
    expect(await outcome(stuck)).toBe('pending')
    jest.advanceTimersByTime(1)
    expect(await outcome(stuck)).toBe('rejected Redis command timed out after 1000 ms')
    expect(jest.getTimerCount()).toBe(0)
  })
})
