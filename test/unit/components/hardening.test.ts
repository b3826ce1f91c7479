// Issue "Hardening", the parts in components, core and resilience: long durations kept, a
// secret quoted by the user's own text redacted, no prototype replaced by data, no infinite
// number, and resolve's own arguments checked with messages that say what is missing.
import {
  AsyncResult,
  Component,
  isAsyncTimeoutError,
  isComponentResolutionError,
  maskUrlCredentials,
  resolve,
  timeoutPolicy,
} from './tributary'
import type { ComponentResolutionError } from './tributary'
import { memorySource } from './support'

const DAY = 86_400_000

async function failure(promise: Promise<unknown>): Promise<ComponentResolutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isComponentResolutionError(error))
    throw new Error(`expected a ComponentResolutionError, got ${String(error)}`)
  return error
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (e: unknown) => e,
  )
}

describe('durations past 2^31-1 ms are kept', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }))
  afterEach(() => {
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  it('resolve({ timeout: 30 days }) does not time out after 1 ms', async () => {
    class Slow {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
    }
    const source = memorySource('mem', { a: 'A' }, { delays: { a: 5_000 } })
    const pending = resolve(Slow, { sources: [source], timeout: 30 * DAY })
    await jest.advanceTimersByTimeAsync(5_000)
    await expect(pending).resolves.toEqual({ a: 'A' })
  })

  it('resolve({ timeout: 30 days }) still times out at 30 days', async () => {
    class Stuck {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
    }
    const source = memorySource('mem', { a: 'A' }, { delays: { a: 40 * DAY } })
    const pending = rejection(resolve(Stuck, { sources: [source], timeout: 30 * DAY }))
    await jest.advanceTimersByTimeAsync(30 * DAY - 1)
    await jest.advanceTimersByTimeAsync(1)
    const error = await pending
    expect(isAsyncTimeoutError(error) || isComponentResolutionError(error)).toBe(true)
    expect(String((error as Error).message)).toMatch(/2592000000 ms|timed out/)
  })

  it('@Component({ timeout: 30 days }) keeps its limit per attempt', async () => {
    class Slow {
      @Component({ fetchFrom: 'mem', key: 'a', timeout: 30 * DAY }) a!: string
    }
    const source = memorySource('mem', { a: 'A' }, { delays: { a: 10_000 } })
    const pending = resolve(Slow, { sources: [source] })
    await jest.advanceTimersByTimeAsync(10_000)
    await expect(pending).resolves.toEqual({ a: 'A' })
  })

  it('timeoutPolicy keeps a 30-day limit and fires at it; Infinity is no limit', async () => {
    const policy = timeoutPolicy(30 * DAY, 'job')
    const quick = policy.execute(() => new Promise((r) => setTimeout(() => r('done'), 1_000)))
    await jest.advanceTimersByTimeAsync(1_000)
    await expect(quick).resolves.toBe('done')
    let aborted = false
    const stuck = rejection(
      policy.execute(
        ({ signal }) =>
          new Promise((resolve) => {
            signal.addEventListener('abort', () => {
              aborted = true
              resolve('late')
            })
          }),
      ),
    )
    await jest.advanceTimersByTimeAsync(30 * DAY)
    const error = await stuck
    expect(isAsyncTimeoutError(error)).toBe(true)
    expect(aborted).toBe(true)
    await expect(timeoutPolicy(Infinity).execute(() => Promise.resolve(7))).resolves.toBe(7)
    expect(() => timeoutPolicy(-1)).toThrow(RangeError)
  })

  it('AsyncResult.waitWithTimeout(30 days) waits; Infinity waits without a timer; bad ms is a RangeError', async () => {
    const result = AsyncResult.from(() => new Promise<string>((r) => setTimeout(() => r('value'), 2_000)), {
      operation: 'slow.op',
    })
    const waited = result.waitWithTimeout(30 * DAY)
    await jest.advanceTimersByTimeAsync(2_000)
    await expect(waited).resolves.toBe('value')
    const never = AsyncResult.from(() => new Promise<string>(() => undefined), { operation: 'never.op' })
    void never.waitWithTimeout(Infinity)
    expect(jest.getTimerCount()).toBe(0)
    expect(() => never.waitWithTimeout(-1)).toThrow(RangeError)
    expect(() => never.waitWithTimeout(Number.NaN)).toThrow(/waitWithTimeout: ms must be/)
    never.cancel()
  })
})

describe('a secret quoted in user text is redacted', () => {
  it('in a validate message and in an error thrown by validate', async () => {
    class Secrets {
      @Component({
        fetchFrom: 'mem',
        key: 'token',
        secret: true,
        validate: (t: string) => `token ${t} is revoked`,
      })
      token!: string
      @Component({
        fetchFrom: 'mem',
        key: 'password',
        secret: true,
        validate: (p: string) => {
          throw new Error(`${p} is too weak (${p.length})`)
        },
      })
      password!: string
    }
    const source = memorySource('mem', { token: 'tok-MARKER-1234', password: 'pw-MARKER-5678' })
    const error = await failure(resolve(Secrets, { sources: [source] }))
    const text = error.errors.map((e) => e.message).join('\n') + error.message
    expect(text).not.toContain('MARKER')
    expect(error.errors[0]?.message).toMatch(/token \*\*\* is revoked/)
    expect(error.errors[1]?.message).toMatch(/\*\*\* is too weak/)
  })
})

describe('data never replaces a prototype', () => {
  class Limits {
    rps = 0
    perMinute(): number {
      return this.rps * 60
    }
  }

  it('a class-typed component ignores __proto__, constructor and prototype keys, in JSON text and in parsed data', async () => {
    class Config {
      @Component({ fetchFrom: 'mem', key: 'text', type: Limits }) fromText!: Limits
      @Component({ fetchFrom: 'mem', key: 'data', type: Limits }) fromData!: Limits
      @Component({ fetchFrom: 'mem', key: 'plain' }) plain!: object
    }
    const polluted = '{"rps": 2, "__proto__": {"perMinute": 1, "polluted": true}, "constructor": {"x": 1}}'
    const source = memorySource('mem', {
      text: polluted,
      data: JSON.parse(polluted) as unknown,
      plain: '{"a": {"__proto__": {"polluted": true}, "b": 1}}',
    })
    const config = await resolve(Config, { sources: [source] })
    for (const limits of [config.fromText, config.fromData]) {
      expect(limits).toBeInstanceOf(Limits)
      expect(limits.perMinute()).toBe(120)
      expect(Object.keys(limits)).toEqual(['rps'])
    }
    expect(config.plain).toEqual({ a: { b: 1 } })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf((config.plain as { a: object }).a)).toBe(Object.prototype)
  })
})

describe('numbers are finite', () => {
  it('Infinity, -Infinity and 1e400 are refused for a number component', async () => {
    class Numbers {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: number
      @Component({ fetchFrom: 'mem', key: 'b' }) b!: number
      @Component({ fetchFrom: 'mem', key: 'c' }) c!: number
      @Component({ fetchFrom: 'mem', key: 'd' }) d!: number
    }
    const source = memorySource('mem', { a: 'Infinity', b: -Infinity, c: '1e400', d: '1e300' })
    const error = await failure(resolve(Numbers, { sources: [source] }))
    expect(error.errors.map((e) => e.property)).toEqual(['a', 'b', 'c'])
    for (const e of error.errors) expect(e.message).toMatch(/to number \(not a finite number\)/)
    expect(error.resolved).toEqual(['d'])
  })
})

describe("resolve's own arguments", () => {
  class C {
    @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
  }

  it.each([
    ['null target', null, { sources: [] }, /target must be a class with @Component properties, got null/],
    ['undefined target', undefined, undefined, /target must be a class.*got undefined/],
    ['no options', C, undefined, /resolve\(C, options\): options must be an object, got undefined/],
    ['no sources', C, {}, /resolve\(C, options\): `sources` is required/],
    ['null sources', C, { sources: null }, /`sources` is required/],
    [
      'misspelled option',
      C,
      { sources: [], timout: 5 },
      /unknown option "timout" \(did you mean "timeout"\?\)/,
    ],
    ['negative timeout', C, { sources: [], timeout: -1 }, /`timeout` must be a number of milliseconds > 0/],
    ['bad signal', C, { sources: [], signal: 'stop' }, /`signal` must be an AbortSignal/],
  ])('%s: rejects with a message that says what is wrong', async (_, target, options, message) => {
    const error = await rejection(resolve(target as never, options as never))
    expect(error instanceof TypeError || error instanceof RangeError).toBe(true)
    expect((error as Error).message).toMatch(message)
  })

  it('timeout: Infinity means no limit', async () => {
    await expect(
      resolve(C, { sources: [memorySource('mem', { a: 'A' })], timeout: Infinity }),
    ).resolves.toEqual({ a: 'A' })
  })
})

describe('credentials in a URL are masked in every message', () => {
  it('maskUrlCredentials hides the userinfo of every URL and leaves the rest', () => {
    expect(maskUrlCredentials('a postgres://app:s3cret@db:5432/x and https://tok@h.example/p?q=1')).toBe(
      'a postgres://***@db:5432/x and https://***@h.example/p?q=1',
    )
    expect(maskUrlCredentials('mail me at a@b.example, see http://h.example/@x')).toBe(
      'mail me at a@b.example, see http://h.example/@x',
    )
  })

  it("in a component's key and message, and in a source error passed through", async () => {
    class Remote {
      @Component({ fetchFrom: 'mem', key: 'https://user:hunter2@api.example/config' }) config!: string
    }
    const source = memorySource(
      'mem',
      {},
      {
        failures: {
          'https://user:hunter2@api.example/config': new Error(
            'connect ECONNREFUSED for https://user:hunter2@api.example/config',
          ),
        },
      },
    )
    const error = await failure(resolve(Remote, { sources: [source] }))
    const component = error.errors[0]
    expect(component?.key).toBe('https://***@api.example/config')
    expect(error.message + (component?.message ?? '')).not.toContain('hunter2')
    expect(component?.message).toMatch(/key "https:\/\/\*\*\*@api\.example\/config"/)
  })
})
