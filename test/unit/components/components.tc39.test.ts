// Compiled with TC39 standard decorators (tsconfig.tc39.json): no design:type exists, so
// `type` (or a fallback that shows it) is required.
import { inspect } from 'node:util'
import { Component, componentsOf, explain, isComponentOptionsError, resolve } from './tributary'
import { memorySource } from './support'

class Base {
  @Component({ fetchFrom: 'env', key: 'HOST', type: String }) host!: string
  @Component({ fetchFrom: 'env', key: 'PORT', type: Number }) port!: number
  @Component({ fetchFrom: 'env', key: 'DEBUG', fallback: false }) debug!: boolean
  @Component({ fetchFrom: 'env', key: 'TOKEN', type: String, secret: true }) token!: string
}

class Child extends Base {
  @Component({ fetchFrom: 'consul', key: 'app/port', type: Number }) override port: number = 0
  @Component({ fetchFrom: 'env', key: 'SINCE', type: Date }) since!: Date
}

describe('@Component with TC39 standard decorators', () => {
  it('has no design:type, so takes the type from `type` or the fallback', () => {
    expect(Reflect.getMetadata('design:type', Base.prototype, 'port')).toBeUndefined()
    expect(componentsOf(Base).map((c) => [c.property, c.type])).toEqual([
      ['host', String],
      ['port', Number],
      ['debug', Boolean],
      ['token', String],
    ])
  })

  it('resolves, coerces, inherits and overrides', async () => {
    const env = memorySource('env', {
      HOST: 'h',
      PORT: '1',
      DEBUG: 'yes',
      TOKEN: 'tc39-secret',
      SINCE: '2024-01-01T00:00:00Z',
    })
    const consul = memorySource('consul', { 'app/port': '8500' })
    const config = await resolve(Child, { sources: [env, consul] })
    expect(config).toBeInstanceOf(Child)
    expect(config).toMatchObject({ host: 'h', port: 8500, debug: true, token: 'tc39-secret' })
    expect(config.since).toEqual(new Date('2024-01-01T00:00:00Z'))
    expect(explain(config).port).toMatchObject({ source: 'consul', key: 'app/port' })
    expect(inspect(config)).not.toContain('tc39-secret')
    expect(JSON.stringify(config)).not.toContain('tc39-secret')
    expect((await resolve(Base, { sources: [env] })).port).toBe(1)
  })

  it('requires `type` when nothing shows it, and checks options when the decorator runs', () => {
    let error: unknown
    try {
      class Untyped {
        @Component({ fetchFrom: 'env', key: 'X' }) x!: string
      }
      void Untyped
    } catch (e) {
      error = e
    }
    expect(isComponentOptionsError(error)).toBe(true)
    expect((error as Error).message).toMatch(/^@Component on property "x": the type is unknown: pass `type`/)
    expect(() => {
      class Misspelt {
        @Component({ fetchFrom: 'env', tll: 5, type: Number } as never) x!: number
      }
      void Misspelt
    }).toThrow('@Component on property "x": unknown option "tll" (did you mean "ttl"?)')
    expect(() => {
      class Negative {
        @Component({ fetchFrom: 'env', timeout: -1, type: Number }) x!: number
      }
      void Negative
    }).toThrow(/timeout/)
  })
})
