import {
  Component,
  envSource,
  explain,
  isComponentResolutionError,
  isSourceError,
  isSourceNotFoundError,
  resolve,
  type ComponentResolutionError,
} from 'tributary'
import { context, request } from './request'

describe('envSource', () => {
  it('is named env (or as told) and applies fields itself', () => {
    expect(envSource().name).toBe('env')
    expect(envSource({ name: 'settings' }).name).toBe('settings')
    expect(envSource().appliesField).toBe(true)
  })

  it('reads a given record by key, or by property name without one', async () => {
    const source = envSource({ env: { APP_HOST: 'db.internal', port: '5432' } })
    expect(await source.fetch(request({ key: 'APP_HOST' }), context())).toBe('db.internal')
    expect(await source.fetch(request({ property: 'port' }), context())).toBe('5432')
  })

  it('prepends the prefix to every key', async () => {
    const source = envSource({ env: { APP_PORT: '8080', PORT: '1' }, prefix: 'APP_' })
    expect(await source.fetch(request({ key: 'PORT' }), context())).toBe('8080')
  })

  it('reads process.env by default, at every fetch', async () => {
    const name = `TRIBUTARY_ENV_TEST_${process.pid}`
    const source = envSource()
    try {
      process.env[name] = 'first'
      expect(await source.fetch(request({ key: name }), context())).toBe('first')
      process.env[name] = 'second'
      expect(await source.fetch(request({ key: name }), context())).toBe('second')
    } finally {
      delete process.env[name]
    }
  })

  it('an unset variable is a SourceNotFoundError naming the prefixed variable', async () => {
    const source = envSource({ env: { OTHER: 'x' }, prefix: 'APP_' })
    const error = await source.fetch(request({ key: 'PORT' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(error)).toBe(true)
    expect(error).toMatchObject({
      source: 'env',
      key: 'APP_PORT',
      message: 'env: variable APP_PORT is not set',
    })
  })

  it('does not read inherited properties of the record', async () => {
    const source = envSource({ env: {} })
    const error = await source.fetch(request({ key: 'toString' }), context()).catch((e: unknown) => e)
    expect(isSourceNotFoundError(error)).toBe(true)
  })

  it('parses JSON for a dotted field; a missing field or a non-JSON value is an error without the value', async () => {
    const source = envSource({
      env: { DB: '{"primary":{"url":"postgres://u:hunter2@db/app","hosts":["a","b"]}}', RAW: 'hunter2' },
    })
    expect(await source.fetch(request({ key: 'DB', field: 'primary.url' }), context())).toBe(
      'postgres://u:hunter2@db/app',
    )
    expect(await source.fetch(request({ key: 'DB', field: 'primary.hosts.1' }), context())).toBe('b')
    const missing = await source
      .fetch(request({ key: 'DB', field: 'replica.url' }), context())
      .catch((e: unknown) => e)
    expect(isSourceNotFoundError(missing)).toBe(true)
    expect((missing as Error).message).toBe('env: field "replica.url" not found in "DB"')
    const notJson = await source
      .fetch(request({ key: 'RAW', field: 'x' }), context())
      .catch((e: unknown) => e)
    expect(isSourceError(notJson)).toBe(true)
    expect((notJson as Error).message).toBe(
      'env: variable RAW is not valid JSON, so field "x" cannot be read',
    )
    expect((notJson as Error).message).not.toContain('hunter2')
  })

  it('rejects at once with the reason when the signal has aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    const source = envSource({ env: { A: '1' } })
    await expect(source.fetch(request({ key: 'A' }), context(controller.signal))).rejects.toThrow('stop')
  })

  it('resolves a class: coercion to each type, a fallback for an unset variable', async () => {
    class Settings {
      @Component({ fetchFrom: 'env', key: 'PORT' }) port!: number
      @Component({ fetchFrom: 'env', key: 'DEBUG' }) debug!: boolean
      @Component({ fetchFrom: 'env', key: 'STARTED' }) started!: Date
      @Component({ fetchFrom: 'env', key: 'ENDPOINT' }) endpoint!: URL
      @Component({ fetchFrom: 'env', key: 'HOSTS' }) hosts!: string[]
      @Component({ fetchFrom: 'env', key: 'LIMITS' }) limits!: object
      @Component({ fetchFrom: 'env', key: 'HOST', fallback: 'localhost' }) host!: string
    }
    const env = {
      APP_PORT: '8080',
      APP_DEBUG: 'yes',
      APP_STARTED: '2024-05-01T10:00:00Z',
      APP_ENDPOINT: 'https://api.example.com/v1',
      APP_HOSTS: 'a,b,c',
      APP_LIMITS: '{"rps":10}',
    }
    const config = await resolve(Settings, { sources: [envSource({ env, prefix: 'APP_' })] })
    expect(config).toMatchObject({ port: 8080, debug: true, hosts: ['a', 'b', 'c'], limits: { rps: 10 } })
    expect(config.started).toEqual(new Date('2024-05-01T10:00:00Z'))
    expect(config.endpoint).toEqual(new URL('https://api.example.com/v1'))
    expect(explain(config).host).toMatchObject({
      origin: 'fallback',
      value: 'localhost',
      reason: 'env: variable APP_HOST is not set',
    })
  })

  it('a value that cannot be coerced is a ComponentError with the raw value, masked when secret', async () => {
    class Bad {
      @Component({ fetchFrom: 'env', key: 'PORT' }) port!: number
      @Component({ fetchFrom: 'env', key: 'PIN', secret: true }) pin!: number
    }
    const env = { PORT: 'eighty', PIN: 'hunter2' }
    const error = (await resolve(Bad, { sources: [envSource({ env })] }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(isComponentResolutionError(error)).toBe(true)
    expect(error.errors.map((e) => e.message)).toEqual([
      'Bad.port (source "env", key "PORT"): cannot convert "eighty" to number',
      'Bad.pin (source "env", key "PIN"): cannot convert *** to number',
    ])
    expect(JSON.stringify(error.errors)).not.toContain('hunter2')
  })
})
