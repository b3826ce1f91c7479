// `@Component({ schema })`: any Standard Schema v1 validator (zod and valibot here) checks the
// coerced value; its issues become a typed ComponentSchemaError, its output the value.
import { z } from 'zod'
import * as v from 'valibot'
import {
  Component,
  asyncAssign,
  isComponentError,
  isComponentOptionsError,
  isComponentResolutionError,
  isComponentSchemaError,
  isStandardSchema,
  resolve,
} from './tributary'
import type { ComponentResolutionError, StandardSchemaV1 } from './tributary'
import { memorySource } from './support'

async function failure(promise: Promise<unknown>): Promise<ComponentResolutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isComponentResolutionError(error))
    throw new Error(`expected a ComponentResolutionError, got ${String(error)}`)
  return error
}

describe('@Component({ schema })', () => {
  it('recognises zod and valibot schemas as Standard Schema v1, and nothing else', () => {
    expect(isStandardSchema(z.string())).toBe(true)
    expect(isStandardSchema(v.string())).toBe(true)
    expect(isStandardSchema({ '~standard': { version: 2, validate: () => ({ value: 1 }) } })).toBe(false)
    expect(isStandardSchema({ parse: () => 1 })).toBe(false)
    expect(isStandardSchema(null)).toBe(false)
  })

  it('runs after coercion: an env string becomes a number the zod schema accepts', async () => {
    class Config {
      @Component({ fetchFrom: 'mem', key: 'PORT', schema: z.number().int().min(1).max(65535) })
      port!: number
    }
    const config = await resolve(Config, { sources: [memorySource('mem', { PORT: '8080' })] })
    expect(config.port).toBe(8080)
  })

  it("uses the schema's output as the value (transforms and defaults apply)", async () => {
    class Config {
      @Component({
        fetchFrom: 'mem',
        key: 'limits',
        schema: z.object({ max: z.number(), unit: z.string().default('req/s') }),
      })
      limits!: { max: number; unit: string }
      @Component({ fetchFrom: 'mem', key: 'host', schema: v.pipe(v.string(), v.trim(), v.toLowerCase()) })
      host!: string
    }
    const source = memorySource('mem', { limits: '{"max":10}', host: '  DB.Example  ' })
    const config = await resolve(Config, { sources: [source] })
    expect(config.limits).toEqual({ max: 10, unit: 'req/s' })
    expect(config.host).toBe('db.example')
  })

  it('turns issues into a ComponentSchemaError naming class, property, source, key and each path', async () => {
    class Config {
      @Component({ fetchFrom: 'mem', key: 'port', schema: z.number().max(65535) }) port!: number
      @Component({
        fetchFrom: 'mem',
        key: 'limits',
        schema: v.object({ max: v.number(), hosts: v.array(v.string()) }),
      })
      limits!: object
      @Component({ fetchFrom: 'mem', key: 'ok', schema: z.string() }) ok!: string
    }
    const source = memorySource('mem', {
      port: '70000',
      limits: { max: 'ten', hosts: ['a', 2] },
      ok: 'fine',
    })
    const error = await failure(resolve(Config, { sources: [source] }))
    expect(error.resolved).toEqual(['ok'])
    const [port, limits] = error.errors
    expect(isComponentSchemaError(port)).toBe(true)
    expect(isComponentError(port)).toBe(true)
    expect(port?.message).toMatch(
      /^Config\.port \(source "mem", key "port"\): invalid value 70000 for port: /,
    )
    expect(port?.message).toMatch(/65535/)
    if (!isComponentSchemaError(limits)) throw new Error('expected a schema error')
    expect(limits.issues.map((i) => i.path?.map((p) => (typeof p === 'object' ? p.key : p)))).toEqual([
      ['max'],
      ['hosts', 1],
    ])
    expect(limits.message).toMatch(/max: .*; hosts\.1: /)
    expect(limits).toMatchObject({ className: 'Config', property: 'limits', source: 'mem', key: 'limits' })
  })

  it('runs an async schema, then `validate` on its output', async () => {
    const seen: unknown[] = []
    const slowCheck: StandardSchemaV1<unknown, string> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) =>
          typeof value === 'string' ? { value: value.toUpperCase() } : { issues: [{ message: 'not text' }] },
      },
    }
    class Config {
      @Component({
        fetchFrom: 'mem',
        key: 'mode',
        schema: slowCheck,
        validate: (mode: string) => {
          seen.push(mode)
          return mode === 'FAST' || 'must be fast'
        },
      })
      mode!: string
    }
    await expect(resolve(Config, { sources: [memorySource('mem', { mode: 'fast' })] })).resolves.toEqual({
      mode: 'FAST',
    })
    const error = await failure(resolve(Config, { sources: [memorySource('mem', { mode: 'slow' })] }))
    expect(error.errors[0]?.message).toMatch(/must be fast$/)
    expect(seen).toEqual(['FAST', 'SLOW'])
  })

  it('a schema that throws fails the component (not the resolve) with the vendor named', async () => {
    const broken: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'broken',
        validate: () => {
          throw new Error('boom')
        },
      },
    }
    class Config {
      @Component({ fetchFrom: 'mem', key: 'a', schema: broken }) a!: string
      @Component({ fetchFrom: 'mem', key: 'b' }) b!: string
    }
    const error = await failure(resolve(Config, { sources: [memorySource('mem', { a: 'x', b: 'y' })] }))
    expect(error.errors[0]?.message).toMatch(/the broken schema threw: boom/)
    expect(error.resolved).toEqual(['b'])
  })

  it("never prints a secret: the value is masked in the message and in the schema's issue messages", async () => {
    const echoing: StandardSchemaV1<unknown, string> = {
      '~standard': {
        version: 1,
        vendor: 'echo',
        validate: (value) => ({ issues: [{ message: `${String(value)} is too short`, path: ['token'] }] }),
      },
    }
    class Config {
      @Component({ fetchFrom: 'mem', key: 'token', secret: true, schema: echoing }) token!: string
      @Component({ fetchFrom: 'mem', key: 'pin', secret: true, schema: z.string().min(10) }) pin!: string
    }
    const source = memorySource('mem', { token: 's3cr3t-value', pin: 'hunter2' })
    const error = await failure(resolve(Config, { sources: [source] }))
    const text = JSON.stringify(error.errors.map((e) => [e.message, isComponentSchemaError(e) && e.issues]))
    expect(text).not.toContain('s3cr3t-value')
    expect(text).not.toContain('hunter2')
    expect(error.errors[0]?.message).toMatch(/invalid value \*\*\* for token: token: \*\*\* is too short/)
  })

  it('asyncAssign takes the schema from its options or from the @Component', async () => {
    class Config {
      @Component({ fetchFrom: 'mem', schema: z.number().positive() }) retries!: number
    }
    const config = new Config()
    const rejection = (promise: Promise<unknown>): Promise<unknown> =>
      promise.then(
        () => 'resolved',
        (e: unknown) => e,
      )
    await expect(asyncAssign(config, 'retries', 3)).resolves.toBe(3)
    expect(isComponentSchemaError(await rejection(asyncAssign(config, 'retries', -1)))).toBe(true)
    expect(
      isComponentSchemaError(
        await rejection(asyncAssign(config, 'retries', 5, { schema: z.number().max(4) })),
      ),
    ).toBe(true)
    expect(config.retries).toBe(3)
  })

  it('refuses a schema option that is not a Standard Schema, at the decorator', () => {
    const declare = (schema: unknown): unknown => {
      try {
        class Bad {
          @Component({ fetchFrom: 'mem', schema: schema as StandardSchemaV1 }) x!: number
        }
        return Bad
      } catch (error) {
        return error
      }
    }
    for (const schema of [{ parse: () => 1 }, 'zod', { '~standard': { version: 1 } }]) {
      const error = declare(schema)
      expect(isComponentOptionsError(error)).toBe(true)
      expect((error as Error).message).toMatch(/Bad\.x.*`schema` must implement Standard Schema v1/)
    }
  })
})
