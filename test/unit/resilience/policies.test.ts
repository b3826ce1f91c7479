import {
  AsyncTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  backoffDelays,
  bulkheadPolicy,
  circuitBreakerPolicy,
  createPolicy,
  fallbackPolicy,
  isAsyncTimeoutError,
  isBulkheadRejectedError,
  isCircuitOpenError,
  retryPolicy,
  timeoutPolicy,
  wrap,
} from '../../../src'

/** Lets pending promise callbacks run (fake timers do not move microtasks). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

describe('retryPolicy', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  it('retries with exponential backoff (no jitter) and succeeds', async () => {
    let calls = 0
    const attempts: number[] = []
    const policy = retryPolicy({ attempts: 3, initialDelay: 100, jitter: 'none' })
    const result = policy.execute(({ attempt }) => {
      calls++
      attempts.push(attempt)
      if (calls < 3) throw new Error(`fail ${calls}`)
      return 'ok'
    })
    await flush()
    expect(calls).toBe(1)
    await jest.advanceTimersByTimeAsync(99)
    expect(calls).toBe(1)
    await jest.advanceTimersByTimeAsync(1)
    expect(calls).toBe(2)
    await jest.advanceTimersByTimeAsync(199)
    expect(calls).toBe(2)
    await jest.advanceTimersByTimeAsync(1)
    await expect(result).resolves.toBe('ok')
    expect(attempts).toEqual([0, 1, 2])
  })

  it('gives up after the configured retries with the last error', async () => {
    let calls = 0
    const result = retryPolicy({ attempts: 2, initialDelay: 10, jitter: 'none' }).execute(() => {
      calls++
      throw new Error(`fail ${calls}`)
    })
    const settled = result.catch((e: Error) => e)
    await jest.advanceTimersByTimeAsync(1_000)
    expect(((await settled) as Error).message).toBe('fail 3')
    expect(calls).toBe(3)
  })

  it('caps delays at maxDelay and keeps jittered delays within the cap', () => {
    expect(backoffDelays({ attempts: 6, initialDelay: 100, maxDelay: 1_000, jitter: 'none' })).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ])
    for (const jitter of ['full', 'half', 'decorrelated'] as const) {
      for (const d of backoffDelays({ attempts: 20, initialDelay: 100, maxDelay: 2_000, jitter })) {
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(2_000)
      }
    }
  })

  it('respects retryIf', async () => {
    let calls = 0
    const result = retryPolicy({ attempts: 5, retryIf: (e) => (e as Error).message !== 'fatal' }).execute(
      () => {
        calls++
        throw new Error('fatal')
      },
    )
    await expect(result).rejects.toThrow('fatal')
    expect(calls).toBe(1)
  })

  it('stops waiting for a backoff as soon as the caller aborts, leaving no timer', async () => {
    const controller = new AbortController()
    let calls = 0
    const result = retryPolicy({ attempts: 3, initialDelay: 60_000, jitter: 'none' }).execute(() => {
      calls++
      throw new Error('down')
    }, controller.signal)
    const settled = result.catch((e: unknown) => e)
    await flush()
    expect(jest.getTimerCount()).toBe(1)
    controller.abort(new Error('caller gave up'))
    expect(((await settled) as Error).message).toBe('caller gave up')
    expect(jest.getTimerCount()).toBe(0)
    expect(calls).toBe(1)
  })

  it('does not retry an open circuit by default', async () => {
    let calls = 0
    const result = retryPolicy(3).execute(() => {
      calls++
      throw new CircuitOpenError('x', Date.now() + 1_000)
    })
    await expect(result).rejects.toBeInstanceOf(CircuitOpenError)
    expect(calls).toBe(1)
  })
})

describe('timeoutPolicy', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  it('aborts the work signal and rejects with AsyncTimeoutError naming the operation', async () => {
    let seen: AbortSignal | undefined
    const result = timeoutPolicy(500, 'slowQuery').execute(({ signal }) => {
      seen = signal
      return new Promise(() => undefined)
    })
    const settled = result.catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(500)
    const error = await settled
    expect(isAsyncTimeoutError(error)).toBe(true)
    expect(error).toMatchObject({ operation: 'slowQuery', timeoutMs: 500 })
    expect(seen?.aborted).toBe(true)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('passes the value through when the work is quick', async () => {
    await expect(timeoutPolicy(500).execute(() => 7)).resolves.toBe(7)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('reports the caller abort, not a timeout, when the caller cancels', async () => {
    const controller = new AbortController()
    const result = timeoutPolicy(500).execute(() => new Promise(() => undefined), controller.signal)
    controller.abort(new Error('user cancelled'))
    await expect(result).rejects.toThrow('user cancelled')
  })
})

describe('circuitBreakerPolicy', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }))
  afterEach(() => jest.useRealTimers())

  it('opens after consecutive failures, says when it will retry, half-opens, and closes on success', async () => {
    const breaker = circuitBreakerPolicy({ threshold: 3, halfOpenAfter: 5_000 }, 'consul')
    const states: string[] = []
    breaker.onStateChange((s) => states.push(s))
    let calls = 0
    const failing = (): never => {
      calls++
      throw new Error('down')
    }
    for (let i = 0; i < 3; i++) await expect(breaker.execute(failing)).rejects.toThrow('down')
    expect(breaker.state).toBe('open')
    expect(breaker.retryAt).toBe(1_005_000)
    const refused = await breaker.execute(failing).catch((e: unknown) => e)
    expect(isCircuitOpenError(refused)).toBe(true)
    expect((refused as CircuitOpenError).retryAt).toBe(1_005_000)
    expect((refused as CircuitOpenError).retryAfterMs).toBe(5_000)
    expect((refused as Error).message).toMatch(/^consul: circuit open; it will allow a trial call in 5000 ms/)
    expect(((refused as Error).cause as Error).message).toBe('down')
    expect(calls).toBe(3)
    jest.advanceTimersByTime(5_000)
    await expect(breaker.execute(() => 'recovered')).resolves.toBe('recovered')
    expect(breaker.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'closed'])
  })

  it('a failed trial call re-opens the circuit', async () => {
    const breaker = circuitBreakerPolicy({ threshold: 1, halfOpenAfter: 1_000 })
    await expect(breaker.execute(() => Promise.reject(new Error('a')))).rejects.toThrow('a')
    jest.advanceTimersByTime(1_000)
    await expect(breaker.execute(() => Promise.reject(new Error('b')))).rejects.toThrow('b')
    expect(breaker.state).toBe('open')
  })

  it('rejects invalid options', () => {
    expect(() => circuitBreakerPolicy({ threshold: 0 })).toThrow(RangeError)
  })
})

describe('bulkheadPolicy', () => {
  it('runs at most `limit` at once, queues up to `queue`, and rejects the rest clearly', async () => {
    const bulkhead = bulkheadPolicy({ limit: 2, queue: 1 }, 'vault')
    let running = 0
    let peak = 0
    const releases: Array<() => void> = []
    const task = (): Promise<void> =>
      bulkhead.execute(async () => {
        running++
        peak = Math.max(peak, running)
        await new Promise<void>((r) => releases.push(r))
        running--
      })
    const a = task()
    const b = task()
    const c = task()
    const rejected = await task().catch((e: unknown) => e)
    expect(rejected).toBeInstanceOf(BulkheadRejectedError)
    expect(isBulkheadRejectedError(rejected)).toBe(true)
    expect((rejected as Error).message).toBe('vault: bulkhead full (2 running, 1 queued); call rejected')
    expect(bulkhead.executionSlots).toBe(0)
    expect(bulkhead.queueSlots).toBe(0)
    expect(releases).toHaveLength(2)
    releases.splice(0).forEach((r) => r())
    await new Promise((r) => setImmediate(r))
    expect(releases).toHaveLength(1)
    releases.splice(0).forEach((r) => r())
    await Promise.all([a, b, c])
    expect(peak).toBe(2)
  })

  it('a queued call whose caller aborts stops waiting at once and never runs', async () => {
    const bulkhead = bulkheadPolicy({ limit: 1, queue: 1 })
    let release!: () => void
    const first = bulkhead.execute(() => new Promise<void>((r) => (release = r)))
    const controller = new AbortController()
    let ran = false
    const queued = bulkhead.execute(() => {
      ran = true
    }, controller.signal)
    controller.abort(new Error('gave up'))
    await expect(queued).rejects.toThrow('gave up')
    release()
    await first
    await new Promise((r) => setImmediate(r))
    expect(ran).toBe(false)
  })
})

describe('fallbackPolicy', () => {
  it('replaces a failure with a value or a function of the error', async () => {
    await expect(fallbackPolicy(8080).execute(() => Promise.reject(new Error('x')))).resolves.toBe(8080)
    await expect(
      fallbackPolicy((e: unknown) => `fallback for ${(e as Error).message}`).execute(() => {
        throw new Error('boom')
      }),
    ).resolves.toBe('fallback for boom')
  })

  it('does not replace the caller cancelling', async () => {
    const controller = new AbortController()
    controller.abort(new Error('cancelled'))
    await expect(
      fallbackPolicy(1).execute(() => Promise.reject(new Error('x')), controller.signal),
    ).rejects.toThrow('x')
  })
})

describe('createPolicy (composition order)', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  it('applies the timeout per attempt, retries timeouts, and falls back at the end', async () => {
    let calls = 0
    const policy = createPolicy(
      { retry: { attempts: 2, initialDelay: 10, jitter: 'none' }, timeout: 100, fallback: 'fallback' },
      'remote',
    )
    const result = policy.execute(() => {
      calls++
      return new Promise(() => undefined)
    })
    await jest.advanceTimersByTimeAsync(100)
    expect(calls).toBe(1)
    await jest.advanceTimersByTimeAsync(10 + 100)
    expect(calls).toBe(2)
    await jest.advanceTimersByTimeAsync(20 + 100)
    expect(calls).toBe(3)
    await expect(result).resolves.toBe('fallback')
  })

  it('the breaker counts timed-out attempts and then refuses without retrying', async () => {
    const policy = createPolicy(
      {
        retry: { attempts: 5, initialDelay: 1, jitter: 'none' },
        timeout: 10,
        circuitBreaker: { threshold: 2, halfOpenAfter: 60_000 },
      },
      'svc',
    )
    let calls = 0
    const result = policy.execute(() => {
      calls++
      return new Promise(() => undefined)
    })
    const settled = result.catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(1_000)
    const error = await settled
    expect(calls).toBe(2)
    expect(isCircuitOpenError(error)).toBe(true)
  })

  it('with no options runs the work once, as is', async () => {
    await expect(createPolicy({}).execute(({ attempt }) => attempt)).resolves.toBe(0)
  })

  it('wrap passes the retry attempt down to the work', async () => {
    const attempts: number[] = []
    const policy = wrap(retryPolicy({ attempts: 2, initialDelay: 1, jitter: 'none' }), timeoutPolicy(1_000))
    const result = policy.execute(({ attempt }) => {
      attempts.push(attempt)
      if (attempt < 2) throw new Error('again')
      return 'done'
    })
    await jest.advanceTimersByTimeAsync(10)
    await expect(result).resolves.toBe('done')
    expect(attempts).toEqual([0, 1, 2])
  })

  it('rejects a timed out attempt with AsyncTimeoutError when nothing else is configured', async () => {
    const result = createPolicy({ timeout: 50 }, 'only-timeout').execute(() => new Promise(() => undefined))
    const settled = result.catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(50)
    expect(await settled).toBeInstanceOf(AsyncTimeoutError)
  })
})
