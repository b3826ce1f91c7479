import {
  Component,
  SourceNotFoundError,
  SourceUnavailableError,
  explain,
  fetchAllComponents,
  isAsyncTimeoutError,
  isComponentOptionsError,
  isComponentResolutionError,
  resolve,
} from './tributary'
import type { ComponentResolutionError, ComponentSource } from './tributary'
import { memorySource } from './support'

afterEach(() => jest.useRealTimers())

async function failure(promise: Promise<unknown>): Promise<ComponentResolutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isComponentResolutionError(error))
    throw new Error(`expected a ComponentResolutionError, got ${String(error)}`)
  return error
}

describe('resolve', () => {
  it('starts every independent component at once: the total is the slowest fetch', async () => {
    jest.useFakeTimers()
    class Slow {
      @Component({ fetchFrom: 'mem', key: 'a' }) a!: string
      @Component({ fetchFrom: 'mem', key: 'b' }) b!: string
      @Component({ fetchFrom: 'mem', key: 'c' }) c!: string
    }
    const source = memorySource('mem', { a: 'A', b: 'B', c: 'C' }, { delays: { a: 100, b: 300, c: 200 } })
    let done = false
    const pending = resolve(Slow, { sources: [source] }).then((v) => {
      done = true
      return v
    })
    await jest.advanceTimersByTimeAsync(0)
    expect(source.calls.map((c) => c.key)).toEqual(['a', 'b', 'c'])
    await jest.advanceTimersByTimeAsync(299)
    expect(done).toBe(false)
    await jest.advanceTimersByTimeAsync(1)
    expect(done).toBe(true)
    expect(await pending).toMatchObject({ a: 'A', b: 'B', c: 'C' })
  })

  it('accepts sources as a record, whatever their own names', async () => {
    class Named {
      @Component({ fetchFrom: 'primary', key: 'x' }) x!: number
    }
    const config = await resolve(Named, { sources: { primary: memorySource('other', { x: '1' }) } })
    expect(config.x).toBe(1)
    expect(fetchAllComponents).toBe(resolve)
  })

  it('checks fetchFrom against the given sources at resolve time', async () => {
    class Typo {
      @Component({ fetchFrom: 'consull', key: 'x' }) x!: string
    }
    const error = await resolve(Typo, {
      sources: [memorySource('consul', {}), memorySource('env', {})],
    }).catch((e: unknown) => e)
    expect(isComponentOptionsError(error)).toBe(true)
    expect((error as Error).message).toBe(
      'Typo.x: unknown source "consull" (sources given: consul, env; did you mean "consul"?)',
    )
  })

  it('orders dependsOn and gives sources the values already resolved', async () => {
    jest.useFakeTimers()
    class Chain {
      @Component({ fetchFrom: 'mem', key: 'query', dependsOn: 'url' }) result!: string
      @Component({ fetchFrom: 'mem', key: 'url', dependsOn: ['token'] }) url!: string
      @Component({ fetchFrom: 'mem', key: 'token' }) token!: string
      @Component({ fetchFrom: 'mem', key: 'free' }) free!: string
    }
    const source = memorySource(
      'mem',
      { query: 'rows', url: 'postgres://db', token: 't', free: 'f' },
      { delays: { token: 10, url: 10 } },
    )
    const pending = resolve(Chain, { sources: [source] })
    await jest.advanceTimersByTimeAsync(0)
    expect(source.calls.map((c) => c.key)).toEqual(['token', 'free'])
    await jest.advanceTimersByTimeAsync(10)
    expect(source.calls.map((c) => c.key)).toEqual(['token', 'free', 'url'])
    await jest.advanceTimersByTimeAsync(10)
    const config = await pending
    expect(source.calls.find((c) => c.key === 'query')?.resolved).toMatchObject({
      url: 'postgres://db',
      token: 't',
    })
    expect(config).toMatchObject({ result: 'rows', url: 'postgres://db', token: 't', free: 'f' })
    expect(Object.keys(explain(config))).toEqual(['result', 'url', 'token', 'free'])
  })

  it('shares one fetch between identical components when the first waits on a dependency', async () => {
    class Shared {
      @Component({ fetchFrom: 'mem', key: 'token' }) token!: string
      // Same source and key as `plain`: one fetch for both, whichever starts first makes it.
      @Component({ fetchFrom: 'mem', key: 'region', dependsOn: 'token' }) afterToken!: string
      @Component({ fetchFrom: 'mem', key: 'region' }) plain!: string
    }
    const source = memorySource('mem', { token: 't', region: 'eu' })
    const config = await resolve(Shared, { sources: [source] })
    expect(config).toMatchObject({ token: 't', afterToken: 'eu', plain: 'eu' })
    expect(source.calls.filter((c) => c.key === 'region')).toHaveLength(1)
  })

  it('names a dependsOn cycle, and an unknown dependency', async () => {
    class Cycle {
      @Component({ fetchFrom: 'mem', dependsOn: 'c' }) a!: string
      @Component({ fetchFrom: 'mem', dependsOn: 'a' }) b!: string
      @Component({ fetchFrom: 'mem', dependsOn: 'b' }) c!: string
    }
    class Unknown {
      @Component({ fetchFrom: 'mem', dependsOn: 'nope' }) a!: string
    }
    const sources = [memorySource('mem', {})]
    await expect(resolve(Cycle, { sources })).rejects.toThrow('Cycle.a: dependsOn cycle: a → c → b → a')
    await expect(resolve(Unknown, { sources })).rejects.toThrow(
      'Unknown.a: depends on "nope", which is not a component of Unknown',
    )
  })

  it('collects every failure: three sources fail at once, the rest resolve', async () => {
    class Many {
      @Component({ fetchFrom: 'consul', key: 'app/port' }) port!: number
      @Component({ fetchFrom: 'vault', key: 'secret/app', secret: true }) apiKey!: string
      @Component({ fetchFrom: 'redis', key: 'settings' }) settings!: object
      @Component({ fetchFrom: 'env', key: 'HOST' }) host!: string
      @Component({ fetchFrom: 'env', key: 'DEBUG' }) debug!: boolean
      @Component({ fetchFrom: 'broken', key: 'x', dependsOn: 'port' }) dependent!: string
    }
    const unavailable = (source: string, key: string) => new SourceUnavailableError({ source, key })
    const sources = [
      memorySource('consul', {}, { failures: { 'app/port': unavailable('consul', 'app/port') } }),
      memorySource('vault', {}, { failures: { 'secret/app': new Error('sealed') } }),
      memorySource('redis', {}),
      memorySource('env', { HOST: 'h', DEBUG: 'no' }),
      memorySource('broken', { x: 'never read' }),
    ]
    const error = await failure(resolve(Many, { sources }))
    expect(error.errors.map((e) => [e.property, e.source, e.key, e.attempts])).toEqual([
      ['port', 'consul', 'app/port', 1],
      ['apiKey', 'vault', 'secret/app', 1],
      ['settings', 'redis', 'settings', 1],
      ['dependent', 'broken', 'x', 0],
    ])
    expect(error.errors[0]?.cause).toBeInstanceOf(SourceUnavailableError)
    expect(error.errors[2]?.cause).toBeInstanceOf(SourceNotFoundError)
    expect(error.errors[3]?.message).toContain('it depends on port, which failed')
    expect(error.resolved).toEqual(['host', 'debug'])
    expect(error.instance).toMatchObject({ host: 'h', debug: false })
    expect(error.message).toMatch(
      /^Many: 4 component\(s\) failed to resolve:\n {2}- Many\.port \(source "consul", key "app\/port"\)/,
    )
    expect(error).toBeInstanceOf(AggregateError)
  })

  it('uses the fallback when the source fails and marks it', async () => {
    class WithFallback {
      @Component({ fetchFrom: 'mem', key: 'PORT', fallback: 8080 }) port!: number
      @Component({ fetchFrom: 'mem', key: 'HOST', fallback: 'localhost' }) host!: string
      @Component({ fetchFrom: 'mem', key: 'OPTIONAL', required: false }) optional?: string
      @Component({ fetchFrom: 'mem', key: 'NULL' }) nothing!: string
    }
    const source = memorySource('mem', { HOST: 'example', NULL: null })
    const error = await failure(resolve(WithFallback, { sources: [source] }))
    expect(error.errors.map((e) => e.message)).toEqual([
      'WithFallback.nothing (source "mem", key "NULL"): the source returned no value',
    ])
    source.values.NULL = 'present'
    const config = await resolve(WithFallback, { sources: [source] })
    expect(config).toMatchObject({ port: 8080, host: 'example', nothing: 'present' })
    expect(config.optional).toBeUndefined()
    const why = explain(config)
    expect(why.port).toMatchObject({ origin: 'fallback', value: 8080, reason: 'mem: key "PORT" not found' })
    expect(why.host).toMatchObject({ origin: 'source', value: 'example', attempts: 1 })
    expect(why.optional).toMatchObject({ origin: 'missing', value: undefined })
  })

  it('validate (sync and async) rejects with a message naming the property', async () => {
    class Checked {
      @Component({
        fetchFrom: 'mem',
        key: 'port',
        validate: (p: number) => p < 65536 || 'must be below 65536',
      })
      port!: number
      @Component({ fetchFrom: 'mem', key: 'host', validate: async (h: string) => h !== 'bad' }) host!: string
      @Component({
        fetchFrom: 'mem',
        key: 'mode',
        validate: (m: string) => {
          if (!['a', 'b'].includes(m)) throw new Error('must be a or b')
        },
      })
      mode!: string
      @Component({ fetchFrom: 'mem', key: 'ok', validate: async () => true }) ok!: number
    }
    const source = memorySource('mem', { port: '70000', host: 'bad', mode: 'c', ok: '1' })
    const error = await failure(resolve(Checked, { sources: [source] }))
    expect(error.errors.map((e) => e.message)).toEqual([
      'Checked.port (source "mem", key "port"): invalid value 70000 for port: must be below 65536',
      'Checked.host (source "mem", key "host"): invalid value "bad" for host: validate returned false',
      'Checked.mode (source "mem", key "mode"): invalid value "c" for mode: must be a or b',
    ])
    expect(error.resolved).toEqual(['ok'])
  })

  it('picks a dotted field from a returned object or JSON string when the source did not', async () => {
    class Fields {
      @Component({ fetchFrom: 'mem', key: 'doc', field: 'db.port' }) port!: number
      @Component({ fetchFrom: 'mem', key: 'json', field: 'apiKey' }) apiKey!: string
      @Component({ fetchFrom: 'mem', key: 'leaf', field: 'already.picked' }) leaf!: string
    }
    const source = memorySource('mem', {
      doc: { db: { port: '5432' } },
      json: '{"apiKey":"k-1"}',
      leaf: 'picked-by-source',
    })
    expect(await resolve(Fields, { sources: [source] })).toMatchObject({
      port: 5432,
      apiKey: 'k-1',
      leaf: 'picked-by-source',
    })
  })

  it('does not pick the field again when the source applied it (appliesField)', async () => {
    class Nested {
      @Component({ fetchFrom: 'picks', key: 'doc', field: 'db' }) db!: { db: string }
      @Component({ fetchFrom: 'picks', key: 'doc', field: 'db', retry: 1 }) resilient!: { db: string }
    }
    // The field's own value holds a key of the same name: picking twice would give 'inner'.
    const picks: ComponentSource = {
      name: 'picks',
      appliesField: true,
      fetch: (request) => Promise.resolve(request.field === 'db' ? { db: 'inner' } : undefined),
    }
    const config = await resolve(Nested, { sources: [picks] })
    expect(config.db).toEqual({ db: 'inner' })
    expect(config.resilient).toEqual({ db: 'inner' })
  })

  it('records every component in explain, in declaration order, with durations and attempts', async () => {
    class Timed {
      @Component({ fetchFrom: 'mem', key: 'slow' }) slow!: string
      @Component({ fetchFrom: 'mem', key: 'fast' }) fast!: string
      @Component({ fetchFrom: 'mem', key: 'gone', fallback: 'fb' }) gone!: string
    }
    const source = memorySource('mem', { slow: 's', fast: 'f' }, { delays: { slow: 30 } })
    const explained = explain(await resolve(Timed, { sources: [source] }))
    expect(Object.keys(explained)).toEqual(['slow', 'fast', 'gone'])
    expect(explained.slow).toMatchObject({
      source: 'mem',
      key: 'slow',
      value: 's',
      attempts: 1,
      origin: 'source',
    })
    expect(explained.slow?.durationMs).toBeGreaterThanOrEqual(29)
    expect(explained.fast?.durationMs).toBeLessThan(explained.slow?.durationMs as number)
    expect(explained.gone).toMatchObject({ value: 'fb', origin: 'fallback', attempts: 1 })
  })

  it('a property that refuses the value (a throwing setter) is a ComponentError, not a crash', async () => {
    class Guarded {
      @Component({ fetchFrom: 'mem', key: 'port', type: Number }) port!: number
      @Component({ fetchFrom: 'mem', key: 'host' }) host!: string
      constructor() {
        Object.defineProperty(this, 'port', {
          set() {
            throw new Error('read-only port')
          },
        })
      }
    }
    const error = await failure(
      resolve(Guarded, { sources: [memorySource('mem', { port: '1', host: 'h' })] }),
    )
    expect(error.errors.map((e) => e.message)).toEqual([
      'Guarded.port (source "mem", key "port"): read-only port',
    ])
    expect(error.instance).toMatchObject({ host: 'h' })
  })

  it('makes an identical fetch once within a resolve', async () => {
    class Twice {
      @Component({ fetchFrom: 'mem', key: 'doc', field: 'a' }) a!: string
      @Component({ fetchFrom: 'mem', key: 'doc', field: 'a' }) again!: string
      @Component({ fetchFrom: 'mem', key: 'doc', field: 'b' }) b!: string
    }
    const source = memorySource('mem', { doc: { a: 'x', b: 'y' } })
    expect(await resolve(Twice, { sources: [source] })).toMatchObject({ a: 'x', again: 'x', b: 'y' })
    expect(source.calls).toHaveLength(2)
  })

  it('a thrown (not rejected) source error is collected too', async () => {
    class Throws {
      @Component({ fetchFrom: 'sync', key: 'k' }) k!: string
    }
    const sync: ComponentSource = {
      name: 'sync',
      fetch() {
        throw new Error('boom')
      },
    }
    const error = await failure(resolve(Throws, { sources: [sync] }))
    expect(error.errors[0]?.message).toBe('Throws.k (source "sync", key "k"): boom')
  })
})

describe('resolve timeout and cancellation', () => {
  class Mixed {
    @Component({ fetchFrom: 'mem', key: 'fast' }) fast!: string
    @Component({ fetchFrom: 'mem', key: 'slow' }) slow!: string
    @Component({ fetchFrom: 'mem', key: 'slower', fallback: 'unused' }) slower!: string
  }

  it('the whole-resolution timeout cancels what still runs and reports it', async () => {
    jest.useFakeTimers()
    const signals: AbortSignal[] = []
    const source = memorySource(
      'mem',
      { fast: 'f', slow: 's', slower: 'z' },
      { delays: { slow: 5_000, slower: 9_000 } },
    )
    const inner = source.fetch.bind(source)
    source.fetch = (request, context) => {
      signals.push(context.signal)
      return inner(request, context)
    }
    const pending = failure(resolve(Mixed, { sources: [source], timeout: 1_000 }))
    await jest.advanceTimersByTimeAsync(1_000)
    const error = await pending
    expect(error.errors.map((e) => e.property)).toEqual(['slow', 'slower'])
    expect(isAsyncTimeoutError(error.errors[0]?.cause)).toBe(true)
    expect(error.errors[0]?.message).toBe(
      'Mixed.slow (source "mem", key "slow"): resolve Mixed timed out after 1000 ms',
    )
    expect(error.resolved).toEqual(['fast'])
    expect(signals.every((s) => s.aborted)).toBe(true)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('an aborted signal rejects with its reason', async () => {
    jest.useFakeTimers()
    const source = memorySource('mem', { fast: 'f', slow: 's', slower: 'z' }, { delays: { slow: 5_000 } })
    const controller = new AbortController()
    const pending = resolve(Mixed, { sources: [source], signal: controller.signal }).catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(10)
    controller.abort(new Error('shutting down'))
    expect(await pending).toEqual(new Error('shutting down'))
    expect(jest.getTimerCount()).toBe(0)
    await expect(resolve(Mixed, { sources: [source], signal: controller.signal })).rejects.toThrow(
      'shutting down',
    )
  })

  it('rejects a bad timeout', async () => {
    await expect(resolve(Mixed, { sources: [memorySource('mem', {})], timeout: -1 })).rejects.toThrow(
      RangeError,
    )
  })
})
