import { Component, createCoercer, isComponentError, isComponentResolutionError, resolve } from './tributary'
import type { ComponentResolutionError } from './tributary'
import { memorySource } from './support'

class Point {
  x = 0
  y = 0
  get sum(): number {
    return this.x + this.y
  }
}
class Money {
  private constructor(readonly cents: number) {}
  static fromJSON(data: { amount: number }): Money {
    return new Money(Math.round(data.amount * 100))
  }
}

describe('createCoercer', () => {
  it.each([
    [Number, '8080', 8080],
    [Number, ' 1.5 ', 1.5],
    [Number, 42, 42],
    [String, 'text', 'text'],
    [String, 12, '12'],
    [Boolean, 'true', true],
    [Boolean, 'FALSE', false],
    [Boolean, '1', true],
    [Boolean, '0', false],
    [Boolean, 'yes', true],
    [Boolean, 'No', false],
    [Boolean, 1, true],
    [Object, '{"a":1}', { a: 1 }],
    [Object, '[1,2]', [1, 2]],
    [Object, 'plain', 'plain'],
    [Array, '["a","b"]', ['a', 'b']],
    [Array, 'a, b,c', ['a', 'b', 'c']],
    [Array, '', []],
    [BigInt, '9007199254740993', 9007199254740993n],
  ])('%p converts %j', (type, raw, expected) => {
    expect(createCoercer(type as never)(raw)).toEqual(expected)
  })

  it('converts dates from ISO text and epoch ms, and URLs', () => {
    expect(createCoercer(Date)('2024-05-01T00:00:00Z')).toEqual(new Date('2024-05-01T00:00:00Z'))
    expect(createCoercer(Date)('0')).toEqual(new Date(0))
    expect((createCoercer(URL)('http://127.0.0.1:8500/v1') as URL).port).toBe('8500')
  })

  it('builds a class from a JSON object, with fromJSON when it has one', () => {
    const point = createCoercer(Point)('{"x":2,"y":3}') as Point
    expect(point).toBeInstanceOf(Point)
    expect(point.sum).toBe(5)
    expect(createCoercer(Money)({ amount: 1.25 })).toEqual(Money.fromJSON({ amount: 1.25 }))
  })

  it('calls a parser function with the raw value', () => {
    const parse = jest.fn((raw: unknown) => String(raw).split(':'))
    expect(createCoercer(parse)('a:b')).toEqual(['a', 'b'])
    expect(parse).toHaveBeenCalledWith('a:b')
  })

  it.each([
    [Number, 'abc'],
    [Number, ''],
    [Boolean, 'maybe'],
    [Date, 'not a date'],
    [URL, 'not a url'],
    [Array, '[1,'],
    [Object, '{oops'],
    [Point, '[1,2]'],
    [String, { a: 1 }],
    [BigInt, '1.5'],
  ])('%p refuses %j', (type, raw) => {
    expect(() => createCoercer(type as never)(raw)).toThrow(/cannot convert to/)
  })
})

describe('coercion during resolve', () => {
  class Typed {
    @Component({ fetchFrom: 'mem', key: 'port' }) port!: number
    @Component({ fetchFrom: 'mem', key: 'debug' }) debug!: boolean
    @Component({ fetchFrom: 'mem', key: 'since' }) since!: Date
    @Component({ fetchFrom: 'mem', key: 'endpoint' }) endpoint!: URL
    @Component({ fetchFrom: 'mem', key: 'settings' }) settings!: { theme: string }
    @Component({ fetchFrom: 'mem', key: 'hosts' }) hosts!: string[]
    @Component({ fetchFrom: 'mem', key: 'point' }) point!: Point
    @Component({ fetchFrom: 'mem', key: 'ratio', type: (raw) => Number(raw) / 100 }) ratio!: number
  }

  it('converts each property to its type', async () => {
    const source = memorySource('mem', {
      port: '8080',
      debug: 'yes',
      since: '2024-01-02T03:04:05Z',
      endpoint: 'https://example.test/api',
      settings: '{"theme":"dark"}',
      hosts: '["a","b"]',
      point: '{"x":1,"y":4}',
      ratio: '25',
    })
    const config = await resolve(Typed, { sources: [source] })
    expect(config.port).toBe(8080)
    expect(config.debug).toBe(true)
    expect(config.since).toEqual(new Date('2024-01-02T03:04:05Z'))
    expect(config.endpoint).toBeInstanceOf(URL)
    expect(config.settings).toEqual({ theme: 'dark' })
    expect(config.hosts).toEqual(['a', 'b'])
    expect(config.point).toBeInstanceOf(Point)
    expect(config.point.sum).toBe(5)
    expect(config.ratio).toBe(0.25)
  })

  it('a value that cannot be converted is a ComponentError showing the value, masked when secret', async () => {
    class Bad {
      @Component({ fetchFrom: 'mem', key: 'port' }) port!: number
      @Component({ fetchFrom: 'mem', key: 'pin', secret: true }) pin!: number
      @Component({ fetchFrom: 'mem', key: 'blob', secret: true }) blob!: { a: number }
    }
    const source = memorySource('mem', { port: 'eighty', pin: 's3cr3t-pin', blob: '{"a": s3cr3t-json' })
    const error = (await resolve(Bad, { sources: [source] }).catch(
      (e: unknown) => e,
    )) as ComponentResolutionError
    expect(isComponentResolutionError(error)).toBe(true)
    const [port, pin, blob] = error.errors
    expect(isComponentError(port)).toBe(true)
    expect(port?.message).toBe('Bad.port (source "mem", key "port"): cannot convert "eighty" to number')
    expect(pin?.message).toBe('Bad.pin (source "mem", key "pin"): cannot convert *** to number')
    expect(blob?.message).toContain('cannot convert *** to object (not valid JSON)')
    const everything = `${error.message} ${error.stack} ${JSON.stringify(error)} ${require('node:util').inspect(error, { depth: 10 })}`
    expect(everything).not.toContain('s3cr3t')
  })
})
