// A query's `schema` (Standard Schema: zod, valibot): the fetched data is validated, the schema's
// output is what the entry holds, its issues fail the fetch with a QuerySchemaError (a
// QueryStoreError) naming each issue's path; retried as any failure; checked when given.
import * as v from 'valibot'
import { z } from 'zod'
import {
  isQuerySchemaError,
  isQueryStoreError,
  QuerySchemaError,
  QueryStore,
  type Query,
  type StandardSchemaV1,
} from 'tributary'

const User = z.object({
  id: z.number().int(),
  name: z.string().min(1),
  joined: z.string().transform((text) => new Date(text)),
  role: z.enum(['admin', 'user']).default('user'),
})

describe('QueryStore queries with a Standard Schema', () => {
  let store: QueryStore
  beforeEach(() => (store = new QueryStore()))
  afterEach(() => store.close())

  it('stores the schema output (transforms and defaults applied), typed from the schema', async () => {
    const raw: unknown = { id: 1, name: 'Ada', joined: '2024-05-01T00:00:00.000Z' }
    const user = await store.fetch(['user', 1], () => raw, { schema: User })
    // Typed as the schema's output: a Date and a role.
    const joined: Date = user.joined
    const role: 'admin' | 'user' = user.role
    expect(joined).toEqual(new Date('2024-05-01T00:00:00.000Z'))
    expect(role).toBe('user')
    expect(store.getData<z.output<typeof User>>(['user', 1])?.joined).toBeInstanceOf(Date)
  })

  it('a query handle: data is the output; issues become the error state and a QuerySchemaError', async () => {
    let payload: unknown = { id: 2, name: 'Grace', joined: '2024-01-01T00:00:00.000Z', role: 'admin' }
    const query: Query<z.output<typeof User>> = store.query(['user', 2], async () => payload, {
      schema: User,
    })
    expect((await query.fetch()).role).toBe('admin')
    payload = { id: 'two', name: '', joined: '2024-01-01' }
    const error: unknown = await query.refetch().catch((e: unknown) => e)
    expect(isQuerySchemaError(error)).toBe(true)
    expect(isQueryStoreError(error)).toBe(true)
    expect(error).toBeInstanceOf(QuerySchemaError)
    const schemaError = error as QuerySchemaError
    expect(schemaError.vendor).toBe('zod')
    expect(schemaError.issues.map((i) => i.path?.join('.')).sort()).toEqual(['id', 'name'])
    expect(schemaError.message).toMatch(/does not match its zod schema: .*id: /)
    expect(query.state.status).toBe('error')
    expect(query.state.error).toBe(error)
    // The last good value is kept, as for any failed refetch.
    expect(query.state.data?.name).toBe('Grace')
  })

  it('valibot, and an async schema', async () => {
    const Port = v.pipe(v.unknown(), v.transform(Number), v.number(), v.integer(), v.minValue(1))
    expect(await store.fetch(['port'], () => '8080', { schema: Port })).toBe(8080)
    const error: unknown = await store.fetch(['bad-port'], () => 'eighty', { schema: Port }).catch((e) => e)
    expect(isQuerySchemaError(error)).toBe(true)
    expect((error as QuerySchemaError).vendor).toBe('valibot')
    const Slow = z.string().refine(async (s) => s.startsWith('ok'), 'must start with ok')
    expect(await store.fetch(['slow'], () => 'ok!', { schema: Slow })).toBe('ok!')
    await expect(store.fetch(['slow-bad'], () => 'no', { schema: Slow })).rejects.toThrow(
      /must start with ok/,
    )
  })

  it('a schema failure is an attempt failure: retried per `retry`, the next value may pass', async () => {
    const values: unknown[] = [{ id: 'x' }, { id: 3, name: 'Lin', joined: '2024-02-02' }]
    let calls = 0
    const user = await store.fetch(['user', 3], () => values[calls++], {
      schema: User,
      retry: 1,
      retryDelay: 0,
    })
    expect(calls).toBe(2)
    expect(user.name).toBe('Lin')
  })

  it('setQueryDefaults gives a schema to every query under a prefix', async () => {
    store.setQueryDefaults(['user'], { schema: User })
    const error: unknown = await store.fetch(['user', 4], () => ({ id: 4 })).catch((e: unknown) => e)
    expect(isQuerySchemaError(error)).toBe(true)
    expect(await store.fetch(['other'], () => ({ id: 4 }))).toEqual({ id: 4 })
  })

  it('refuses a schema that does not implement Standard Schema', () => {
    const notASchema = { parse: (x: unknown) => x } as unknown as StandardSchemaV1
    expect(() => store.query(['x'], () => 1, { schema: notASchema })).toThrow(/Standard Schema v1/)
  })

  it('a schema that throws fails the fetch with its error', async () => {
    const throwing: StandardSchemaV1<unknown, number> = {
      '~standard': {
        version: 1,
        vendor: 'custom',
        validate: () => {
          throw new Error('validator crashed')
        },
      },
    }
    await expect(store.fetch(['crash'], () => 1, { schema: throwing })).rejects.toThrow('validator crashed')
  })
})
