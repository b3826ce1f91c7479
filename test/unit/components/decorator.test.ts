import { Component, componentsOf, isComponentOptionsError, circuitBreakerPolicy } from './tributary'

function declare(options: unknown): unknown {
  try {
    class Target {
      @Component(options as never) value!: number
    }
    return Target
  } catch (error) {
    return error
  }
}

describe('@Component options are checked when the decorator runs', () => {
  it.each([
    [
      { fetchFrom: 'env', fallbak: 1 },
      /Target\.value: unknown option "fallbak" \(did you mean "fallback"\?\)/,
    ],
    [{ fetchFrom: 'env', ttl: -1 }, /Target\.value: `ttl` must be a number of seconds >= 0, got -1/],
    [{ fetchFrom: 'env', timeout: -5 }, /Target\.value: `timeout` must be a number of milliseconds > 0/],
    [{ fetchFrom: 'env', timeout: 0 }, /`timeout` must be/],
    [
      { fetchFrom: 'env', retry: 'three' },
      /Target\.value: `retry` must be a count of retries or retry options/,
    ],
    [{ fetchFrom: 'env', retry: 1.5 }, /`retry` must be a whole number >= 0/],
    [{ fetchFrom: 'env', retry: { attempt: 3 } }, /unknown retry option "attempt"/],
    [{ fetchFrom: 'env', retry: { attempts: -1 } }, /`retry.attempts` must be a whole number/],
    [{ fetchFrom: 'env', circuitBreaker: 'yes' }, /`circuitBreaker` must be true, options or a breaker/],
    [{ fetchFrom: 'env', circuitBreaker: { threshold: 0 } }, /threshold/],
    [{ fetchFrom: '' }, /`fetchFrom` must name a source/],
    [{ key: 'X' }, /`fetchFrom` must name a source/],
    [{ fetchFrom: 'env', key: 5 }, /`key` must be a string/],
    [{ fetchFrom: 'env', secret: 'yes' }, /`secret` must be true or false/],
    [{ fetchFrom: 'env', required: 1 }, /`required` must be true or false/],
    [{ fetchFrom: 'env', validate: true }, /`validate` must be a function/],
    [{ fetchFrom: 'env', type: 'number' }, /`type` must be a function/],
    [{ fetchFrom: 'env', fallbackTo: 'fallback' }, /`fallbackTo` must be 'cache'/],
    [{ fetchFrom: 'env', dependsOn: 3 }, /`dependsOn` must be a property name/],
    [{ fetchFrom: 'env', dependsOn: 'value' }, /cannot depend on itself/],
  ])('rejects %j', (options, message) => {
    const error = declare(options)
    expect(isComponentOptionsError(error)).toBe(true)
    expect((error as Error).message).toMatch(message)
    expect(error).toMatchObject({ className: 'Target', property: 'value' })
  })

  it('accepts every valid option', () => {
    const breaker = circuitBreakerPolicy({ threshold: 2 })
    for (const options of [
      {
        fetchFrom: 'env',
        key: 'A',
        query: 'q',
        field: 'a.b',
        fallback: 1,
        fallbackTo: 'cache',
        ttl: 0,
        retry: 0,
      },
      {
        fetchFrom: 'env',
        retry: { attempts: 2, initialDelay: 10, jitter: 'none' },
        timeout: 5,
        circuitBreaker: true,
      },
      { fetchFrom: 'env', circuitBreaker: { threshold: 3, halfOpenAfter: 0 }, secret: true, required: false },
      { fetchFrom: 'env', circuitBreaker: breaker, type: Number, dependsOn: ['other'], validate: () => true },
    ]) {
      expect(declare(options)).toEqual(expect.any(Function))
    }
  })

  it('rejects a static property', () => {
    expect(() => {
      class Target {
        @Component({ fetchFrom: 'env' }) static port: number
      }
      return Target
    }).toThrow(/Target\.port: @Component goes on a non-static/)
  })
})

describe('types and inheritance', () => {
  class Base {
    @Component({ fetchFrom: 'env', key: 'HOST' }) host!: string
    @Component({ fetchFrom: 'env', key: 'PORT' }) port!: number
    @Component({ fetchFrom: 'env', key: 'URL' }) url!: URL
  }
  class Child extends Base {
    @Component({ fetchFrom: 'consul', key: 'app/port' }) override port: number = 0
    @Component({ fetchFrom: 'env', key: 'FLAG' }) flag!: boolean
  }

  it('takes the type from design:type', () => {
    const types = Object.fromEntries(componentsOf(Base).map((c) => [c.property, c.type]))
    expect(types).toEqual({ host: String, port: Number, url: URL })
  })

  it('a subclass inherits the parent components and overrides one in place', () => {
    const components = componentsOf(Child)
    expect(components.map((c) => [c.property, c.options.fetchFrom])).toEqual([
      ['host', 'env'],
      ['port', 'consul'],
      ['url', 'env'],
      ['flag', 'env'],
    ])
    expect(componentsOf(Base).map((c) => c.options.fetchFrom)).toEqual(['env', 'env', 'env'])
  })

  it('an explicit type wins over design:type', () => {
    const parse = (raw: unknown): string[] => String(raw).split(';')
    class Target {
      @Component({ fetchFrom: 'env', type: parse }) list!: unknown
    }
    expect(componentsOf(Target)[0]?.type).toBe(parse)
  })
})
