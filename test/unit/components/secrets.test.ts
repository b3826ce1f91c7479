import { inspect } from 'node:util'
import { Component, asyncAssign, asyncImpute, explain, isComponentError, resolve } from './tributary'
import type { ComponentFetcher, ComponentResolutionError } from './tributary'
import { memorySource } from './support'

const SECRET = 'hunter2-very-secret'

class Credentials {
  @Component({ fetchFrom: 'vault', key: 'secret/app', field: 'apiKey', secret: true }) apiKey!: string
  @Component({ fetchFrom: 'vault', key: 'secret/app', field: 'password', secret: true }) password!: string
  @Component({ fetchFrom: 'env', key: 'USER' }) user!: string
}

describe('secrets are never printed', () => {
  it('masks secrets in explain, JSON.stringify and util.inspect, but keeps the real value', async () => {
    const vault = memorySource('vault', { 'secret/app': { apiKey: SECRET, password: `${SECRET}-2` } })
    const config = await resolve(Credentials, { sources: [vault, memorySource('env', { USER: 'ann' })] })
    expect(config.apiKey).toBe(SECRET)
    expect(vault.calls).toHaveLength(2) // different fields: two fetches (same field would share one)
    const printed = [
      JSON.stringify(config),
      inspect(config),
      inspect({ nested: [config] }, { depth: 5 }),
      JSON.stringify(explain(config)),
      inspect(explain(config)),
      `${Object.keys(config).join(',')}`,
    ]
    for (const text of printed) expect(text).not.toContain(SECRET)
    expect(JSON.parse(JSON.stringify(config))).toEqual({ apiKey: '***', password: '***', user: 'ann' })
    expect(inspect(config)).toBe("Credentials { apiKey: '***', password: '***', user: 'ann' }")
    expect(explain(config).apiKey).toMatchObject({
      source: 'vault',
      key: 'secret/app',
      value: '***',
      secret: true,
    })
    expect(explain(config).user).toMatchObject({ value: 'ann', secret: false })
  })

  it('keeps a class toJSON and masks its result', async () => {
    class WithToJSON {
      @Component({ fetchFrom: 'vault', key: 'k', secret: true }) token!: string
      toJSON() {
        return { token: this.token, kind: 'custom' }
      }
    }
    const config = await resolve(WithToJSON, { sources: [memorySource('vault', { k: SECRET })] })
    expect(JSON.stringify(config)).toBe('{"token":"***","kind":"custom"}')
  })

  it('never puts a secret in an error (coercion, validation, parser)', async () => {
    class Invalid {
      @Component({ fetchFrom: 'vault', key: 'a', secret: true, validate: (v: string) => v.length > 100 })
      a!: string
      @Component({ fetchFrom: 'vault', key: 'b', secret: true }) b!: number
      @Component({ fetchFrom: 'vault', key: 'c', secret: true, type: (raw) => JSON.parse(String(raw)) })
      c!: unknown
    }
    const vault = memorySource('vault', { a: SECRET, b: SECRET, c: SECRET })
    const error = (await resolve(Invalid, { sources: [vault] }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(error.errors).toHaveLength(3)
    expect(error.errors.map((e) => e.message)).toEqual([
      'Invalid.a (source "vault", key "a"): invalid value *** for a: validate returned false',
      'Invalid.b (source "vault", key "b"): cannot convert *** to number',
      'Invalid.c (source "vault", key "c"): cannot convert *** to parser',
    ])
    const text = `${error.stack} ${inspect(error, { depth: 10 })} ${JSON.stringify(error)} ${inspect(error.instance)}`
    expect(text).not.toContain(SECRET)
  })
})

describe('asyncAssign and asyncImpute', () => {
  class Settings {
    @Component({ fetchFrom: 'env', key: 'PORT', validate: (p: number) => p > 0 }) port!: number
    @Component({ fetchFrom: 'env', key: 'TOKEN', secret: true }) token!: string
    retries?: number
  }

  it('fetches through a ComponentFetcher with the component type and records provenance', async () => {
    const settings = new Settings()
    const fetcher: ComponentFetcher<string> = { name: 'consul', fetchComponent: async () => '8080' }
    await expect(asyncAssign(settings, 'port', fetcher)).resolves.toBe(8080)
    expect(settings.port).toBe(8080)
    expect(explain(settings).port).toMatchObject({
      source: 'consul',
      key: 'PORT',
      value: 8080,
      origin: 'source',
    })
  })

  it('asyncImpute takes a value or promise and returns the instance for chaining', async () => {
    const settings = await asyncImpute(new Settings(), 'port', Promise.resolve('9090'))
    const chained = await asyncImpute(settings, 'token', SECRET)
    expect(chained).toBe(settings)
    expect(settings).toMatchObject({ port: 9090, token: SECRET })
    expect(JSON.stringify(settings)).not.toContain(SECRET)
    await asyncImpute(settings, 'retries', '3', { type: Number })
    expect(settings.retries).toBe(3)
  })

  it('fails with the same ComponentErrors', async () => {
    const settings = new Settings()
    const bad = await asyncAssign(settings, 'port', '-1').catch((e: unknown) => e)
    expect(isComponentError(bad)).toBe(true)
    expect((bad as Error).message).toBe(
      'Settings.port (source "value", key "PORT"): invalid value -1 for port: validate returned false',
    )
    const failing = { fetchComponent: () => Promise.reject(new Error('down')) }
    await expect(asyncAssign(settings, 'port', failing)).rejects.toThrow(
      'Settings.port (source "fetcher", key "PORT"): down',
    )
    const secret = await asyncAssign(
      settings,
      'token',
      Promise.resolve({ nested: SECRET } as unknown as string),
      {
        type: Number,
      },
    ).catch((e: unknown) => e)
    expect(String(secret)).toContain('cannot convert *** to number')
  })

  it('honours signal and timeout', async () => {
    jest.useFakeTimers()
    try {
      const never: ComponentFetcher = {
        fetchComponent: (signal) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      }
      const timed = asyncAssign(new Settings(), 'port', never, { timeout: 100 }).catch((e: unknown) => e)
      await jest.advanceTimersByTimeAsync(100)
      expect(String(await timed)).toContain('Settings.port timed out after 100 ms')
      const controller = new AbortController()
      const cancelled = asyncAssign(new Settings(), 'port', never, { signal: controller.signal }).catch(
        (e: unknown) => e,
      )
      controller.abort(new Error('stop'))
      expect(String(await cancelled)).toContain('stop')
    } finally {
      jest.useRealTimers()
    }
  })
})
