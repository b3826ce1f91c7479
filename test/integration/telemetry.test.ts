// OpenTelemetry spans of models, fan-outs, the event bus and the query store, checked with the
// SDK's in-memory exporter: a client span per model helper with the database semantic
// conventions (db.system, db.namespace, db.operation.name, db.collection.name), a fan-out span
// with a client child per shard, an emit span with a child per handler (a failing one with
// status ERROR), a store fetch span with the digest of its key and its attempts. No parameter
// value, event payload, key content or fetched data reaches a span.
import { context, trace, type Span } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, SqliteDialect } from 'kysely'
import {
  AsyncEventBus,
  Column,
  Model,
  QueryStore,
  setDatabaseNamespace,
  ShardedAsyncExecutor,
  ShardManager,
  Table,
  type Transport,
  type TransportDelivery,
} from 'tributary'

const SECRET_EMAIL = 'very-secret@example.com'
const SECRET_PAYLOAD = 'payload-s3cr3t'
const SECRET_KEY = 'key-part-s3cr3t'
const SECRET_DATA = 'data-s3cr3t'

function memoryDb(): Kysely<any> {
  return new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })
}

async function createUsers(db: Kysely<any>): Promise<void> {
  await sql`create table users (id integer primary key autoincrement, email text not null, score integer)`.execute(
    db,
  )
}

@Table('users')
class User extends Model {
  @Column({ primary: true }) id!: number
  @Column() email!: string
  @Column({ type: 'number' }) score!: number | null
}

class UserCreated {
  constructor(readonly email: string) {}
}

/** A transport in memory: each published message is delivered at once to every subscription. */
function loopback(): Transport {
  const subscribers = new Set<(delivery: TransportDelivery) => void>()
  return {
    name: 'loopback',
    async publish(message) {
      for (const deliver of subscribers)
        deliver({
          ...message,
          deliveries: 1,
          ack: async () => undefined,
          nack: async () => undefined,
          deadLetter: async () => undefined,
        })
    },
    async subscribe(_spec, onDelivery) {
      subscribers.add(onDelivery)
      return { close: async () => void subscribers.delete(onDelivery) }
    },
    deadLetters: async () => [],
    close: async () => subscribers.clear(),
  }
}

/** Every text a span carries: name, attributes, events (exceptions) and status message. */
function everything(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status]))
}

const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId
const idOf = (span: ReadableSpan): string => span.spanContext().spanId

describe('OpenTelemetry spans of models, shards, events and the store', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const contextManager = new AsyncLocalStorageContextManager()
  let db: Kysely<any>

  beforeAll(async () => {
    db = memoryDb()
    await createUsers(db)
    User.use(db)
  })
  afterAll(async () => {
    User.use(null)
    await db.destroy()
    await provider.shutdown()
    trace.disable()
    context.disable()
  })
  beforeEach(() => exporter.reset())

  it('records no span while no SDK is registered', async () => {
    await User.asyncInsert({ email: SECRET_EMAIL, score: 1 })
    expect(await User.where({ email: SECRET_EMAIL }).asyncCount()).toBe(1)
    const bus = new AsyncEventBus()
    bus.on(UserCreated, () => undefined)
    await bus.emit(new UserCreated(SECRET_PAYLOAD))
    const store = new QueryStore()
    await store.fetch(['user', SECRET_KEY], () => SECRET_DATA)
    store.close()
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    // Registered from here on.
    context.setGlobalContextManager(contextManager.enable())
    trace.setGlobalTracerProvider(provider)
  })

  describe('model helpers', () => {
    it('a client span per helper with the database conventions, never a value', async () => {
      setDatabaseNamespace(db, 'main')
      try {
        await User.asyncInsert([{ email: 'a@example.com', score: 5 }])
        expect(await User.where({ email: SECRET_EMAIL }).asyncCount()).toBe(1)
        expect(await User.where('score', '>', 4).asyncSum('score')).toBe(5)
        expect(await User.where({ email: SECRET_EMAIL }).asyncUpdate({ score: 7 })).toBe(1)
        expect(await User.where({ email: 'nobody@example.com' }).asyncDelete()).toBe(0)
      } finally {
        setDatabaseNamespace(db, null)
      }
      const spans = exporter.getFinishedSpans()
      expect(spans.map((s) => s.name)).toEqual([
        'INSERT users',
        'SELECT users',
        'SELECT users',
        'UPDATE users',
        'DELETE users',
      ])
      expect(spans.map((s) => s.attributes['tributary.model.helper'])).toEqual([
        'asyncInsert',
        'asyncCount',
        'asyncSum',
        'asyncUpdate',
        'asyncDelete',
      ])
      for (const span of spans) {
        expect(span.kind).toBe(2) // SpanKind.CLIENT
        expect(span.status.code).not.toBe(2)
        expect(span.attributes).toMatchObject({
          'db.system': 'sqlite',
          'db.system.name': 'sqlite',
          'db.namespace': 'main',
          'db.collection.name': 'users',
          'tributary.model': 'User',
        })
      }
      expect(spans.map((s) => s.attributes['db.operation.name'])).toEqual([
        'INSERT',
        'SELECT',
        'SELECT',
        'UPDATE',
        'DELETE',
      ])
      expect(everything(spans)).not.toContain(SECRET_EMAIL)
    })

    it('no db.namespace unless named; a batched find says so; the span is the active context', async () => {
      const outer = trace.getTracer('test')
      await outer.startActiveSpan('request', async (request: Span) => {
        const [found] = await Promise.all([User.asyncFind(1), User.asyncFind(2)])
        expect(found?.email).toBe(SECRET_EMAIL)
        request.end()
      })
      const spans = exporter.getFinishedSpans()
      const request = spans.find((s) => s.name === 'request') as ReadableSpan
      const finds = spans.filter((s) => s.attributes['tributary.model.helper'] === 'asyncFind')
      expect(finds).toHaveLength(2)
      for (const find of finds) {
        expect(parentOf(find)).toBe(idOf(request))
        expect(find.attributes['tributary.batched']).toBe(true)
        expect(find.attributes['db.namespace']).toBeUndefined()
        expect(find.attributes['db.operation.name']).toBe('SELECT')
      }
    })

    it('stream(): one span from the first row to the end, also when left early', async () => {
      const seen: string[] = []
      for await (const user of User.orderBy('id').stream({ batchSize: 1 })) {
        seen.push(user.email)
        if (seen.length === 2) break
      }
      expect(seen).toEqual([SECRET_EMAIL, 'a@example.com'])
      const [span, ...others] = exporter.getFinishedSpans()
      expect(others).toHaveLength(0)
      expect(span?.name).toBe('SELECT users')
      expect(span?.attributes).toMatchObject({
        'tributary.model.helper': 'stream',
        'db.response.returned_rows': 2,
        'db.collection.name': 'users',
      })
      expect(everything(exporter.getFinishedSpans())).not.toContain(SECRET_EMAIL)
    })

    it('a failed helper ends with status ERROR and the error type', async () => {
      @Table('missing_table')
      class Missing extends Model {
        @Column({ primary: true }) id!: number
      }
      Missing.use(db)
      await expect(Missing.asyncCount()).rejects.toThrow(/Missing\.asyncCount/)
      const [span] = exporter.getFinishedSpans()
      expect(span?.name).toBe('SELECT missing_table')
      expect(span?.status.code).toBe(2) // SpanStatusCode.ERROR
      expect(span?.attributes['error.type']).toBe('AsyncExecutionError')
      expect(span?.events.map((e) => e.name)).toEqual(['exception'])
    })
  })

  describe('a fan-out across two SQLite shards', () => {
    let shards: ShardManager<any>
    const eu = memoryDb()
    const us = memoryDb()

    beforeAll(async () => {
      for (const shard of [eu, us]) await createUsers(shard)
      await eu.insertInto('users').values({ email: SECRET_EMAIL, score: 1 }).execute()
      await us
        .insertInto('users')
        .values([
          { email: 'b@example.com', score: 2 },
          { email: 'c@example.com', score: 3 },
        ])
        .execute()
      shards = new ShardManager({ eu, us }).attach(User)
      setDatabaseNamespace(eu, 'eu_db')
    })
    afterAll(async () => {
      shards?.detach(User)
      await shards?.close()
    })

    it('one fan-out span, a client child per shard, the helpers inside each shard below it', async () => {
      const perShard = new ShardedAsyncExecutor(shards).executeAcrossShards(undefined, () =>
        User.where({ email: SECRET_EMAIL }).asyncCount(),
      )
      expect(Object.fromEntries(await perShard.collect())).toEqual({ eu: 1, us: 0 })
      await new Promise((resolve) => setImmediate(resolve)) // the fan-out span ends after the shards
      const spans = exporter.getFinishedSpans()
      const root = spans.find((s) => s.name === 'executeAcrossShards') as ReadableSpan
      expect(root).toBeDefined()
      expect(root.attributes).toMatchObject({ 'tributary.shard.count': 2, 'tributary.shard.failed': 0 })
      const shardSpans = spans.filter((s) => s.attributes['tributary.shard'] !== undefined)
      expect(shardSpans.map((s) => s.name).sort()).toEqual([
        'executeAcrossShards eu',
        'executeAcrossShards us',
      ])
      for (const span of shardSpans) {
        expect(parentOf(span)).toBe(idOf(root))
        expect(span.kind).toBe(2)
        expect(span.attributes['db.system']).toBe('sqlite')
        const helper = spans.find((s) => s.name === 'SELECT users' && parentOf(s) === idOf(span))
        expect(helper?.attributes['tributary.model.helper']).toBe('asyncCount')
      }
      const euSpan = shardSpans.find((s) => s.attributes['tributary.shard'] === 'eu')
      expect(euSpan?.attributes['db.namespace']).toBe('eu_db')
      expect(
        shardSpans.find((s) => s.attributes['tributary.shard'] === 'us')?.attributes['db.namespace'],
      ).toBeUndefined()
      expect(everything(spans)).not.toContain(SECRET_EMAIL)
    })

    it('a failing shard: its span and the fan-out span end with status ERROR', async () => {
      const perShard = new ShardedAsyncExecutor(shards).executeAcrossShards(['eu', 'us'], ({ shard }) => {
        if (shard === 'us') throw new Error('us is down')
        return 1
      })
      await expect(perShard.collect()).rejects.toThrow(/us/)
      await new Promise((resolve) => setImmediate(resolve))
      const spans = exporter.getFinishedSpans()
      const root = spans.find((s) => s.name === 'executeAcrossShards') as ReadableSpan
      expect(root.status.code).toBe(2)
      expect(root.attributes['tributary.shard.failed']).toBe(1)
      const us = spans.find((s) => s.name === 'executeAcrossShards us')
      const eu = spans.find((s) => s.name === 'executeAcrossShards eu')
      expect(us?.status.code).toBe(2)
      expect(us?.events[0]?.attributes?.['exception.message']).toBe('us is down')
      expect(eu?.status.code).not.toBe(2)
    })

    it('acrossShards() helpers: one fan-out span with a client child per shard, no row data', async () => {
      const total = await User.acrossShards({ manager: shards }).asyncCount()
      expect(total).toBeGreaterThan(0)
      await new Promise((resolve) => setImmediate(resolve))
      const spans = exporter.getFinishedSpans()
      const root = spans.find(
        (s) => s.attributes['tributary.shard.count'] === 2 && s.attributes['tributary.shard'] === undefined,
      ) as ReadableSpan
      expect(root).toBeDefined()
      expect(root.name).toMatch(/asyncCount/)
      expect(root.attributes['tributary.shard.failed']).toBe(0)
      const children = spans.filter((s) => parentOf(s) === idOf(root))
      expect(children.map((s) => s.attributes['tributary.shard']).sort()).toEqual(['eu', 'us'])
      for (const child of children) {
        expect(child.kind).toBe(2)
        expect(child.attributes['db.system']).toBe('sqlite')
      }
      expect(everything(spans)).not.toContain(SECRET_EMAIL)
    })
  })

  describe('the event bus', () => {
    it('a bridged emit: a producer span publish <Event>, the delivery traced as an emit; no payload', async () => {
      const bus = new AsyncEventBus()
      const handled: string[] = []
      bus.on(UserCreated, function welcome(event) {
        handled.push(event.email)
      })
      const bridge = await bus.bridge(loopback(), { events: [UserCreated] })
      await bus.emit(new UserCreated(SECRET_PAYLOAD))
      for (let i = 0; i < 20 && handled.length === 0; i++) await new Promise((r) => setImmediate(r))
      await bridge.close()
      expect(handled).toEqual([SECRET_PAYLOAD])
      const spans = exporter.getFinishedSpans()
      const publish = spans.find((s) => s.name === 'publish UserCreated') as ReadableSpan
      expect(publish.kind).toBe(3) // PRODUCER
      expect(publish.attributes).toMatchObject({
        'tributary.event': 'UserCreated',
        'tributary.emit.method': 'emit',
      })
      expect(spans.some((s) => s.name === 'handle UserCreated')).toBe(true)
      expect(everything(spans)).not.toContain(SECRET_PAYLOAD)
    })

    it('an emit span with a child per handler; a failing handler with status ERROR; no payload', async () => {
      const bus = new AsyncEventBus()
      bus.on(UserCreated, async function welcome() {
        await User.asyncCount()
      })
      bus.on(UserCreated, function audit() {
        throw new Error('audit store unavailable')
      })
      bus.onFallible(UserCreated, async function notify() {
        throw new Error('no mail today')
      })
      await expect(bus.emit(new UserCreated(SECRET_PAYLOAD))).rejects.toThrow(/audit/)
      const spans = exporter.getFinishedSpans()
      const emit = spans.find((s) => s.name === 'emit UserCreated') as ReadableSpan
      expect(emit.attributes).toMatchObject({
        'tributary.event': 'UserCreated',
        'tributary.emit.method': 'emit',
        'tributary.handled': 1,
        'tributary.failed': 2,
      })
      expect(emit.status.code).toBe(2)
      expect(emit.attributes['error.type']).toBe('EmitError')
      const handlers = spans.filter((s) => s.name === 'handle UserCreated')
      expect(handlers.map((s) => s.attributes['tributary.handler']).sort()).toEqual([
        'audit',
        'notify',
        'welcome',
      ])
      const byName = (name: string): ReadableSpan =>
        handlers.find((s) => s.attributes['tributary.handler'] === name) as ReadableSpan
      for (const handler of handlers) expect(parentOf(handler)).toBe(idOf(emit))
      expect(byName('welcome').attributes['tributary.outcome']).toBe('success')
      expect(byName('welcome').status.code).not.toBe(2)
      expect(byName('audit').attributes['tributary.outcome']).toBe('failure')
      expect(byName('audit').status.code).toBe(2)
      expect(byName('audit').attributes['error.type']).toBe('Error')
      expect(byName('notify').status.code).toBe(2)
      expect(byName('notify').attributes['tributary.handler.fallible']).toBe(true)
      // The handler's own model helper is a child of its handler span.
      const count = spans.find((s) => s.attributes['tributary.model.helper'] === 'asyncCount')
      expect(parentOf(count as ReadableSpan)).toBe(idOf(byName('welcome')))
      expect(everything(spans)).not.toContain(SECRET_PAYLOAD)
      await bus.close()
    })

    it('emitSerial and emitAndForget are traced too; a fallible failure alone leaves the emit OK', async () => {
      const bus = new AsyncEventBus()
      bus.onFallible(UserCreated, function flaky() {
        throw new Error('flaky')
      })
      const result = await bus.emitSerial(new UserCreated(SECRET_PAYLOAD))
      expect(result.errors).toHaveLength(1)
      const reported: unknown[] = []
      bus.onError((error) => reported.push(error))
      bus.emitAndForget(new UserCreated(SECRET_PAYLOAD))
      await new Promise((resolve) => setImmediate(resolve))
      expect(reported).toHaveLength(1)
      const emits = exporter.getFinishedSpans().filter((s) => s.name === 'emit UserCreated')
      expect(emits.map((s) => s.attributes['tributary.emit.method'])).toEqual(['emitSerial', 'emitAndForget'])
      expect(emits[0]?.status.code).not.toBe(2) // the awaited emit resolved
      expect(emits[1]?.status.code).toBe(2) // nobody awaited: the failure was reported
      await bus.close()
    })
  })

  describe('the query store', () => {
    it('a span per fetch with the key digest, attempts and outcome; no key part, no data', async () => {
      const store = new QueryStore({ retryDelay: 1 })
      let calls = 0
      const data = await store.fetch(
        ['user', SECRET_KEY],
        async () => {
          calls++
          if (calls < 3) throw new Error('try again')
          await User.asyncCount()
          return SECRET_DATA
        },
        { retry: 3 },
      )
      expect(data).toBe(SECRET_DATA)
      await expect(
        store.fetch(['broken', SECRET_KEY], () => Promise.reject(new Error('backend down'))),
      ).rejects.toThrow('backend down')
      store.close()
      const spans = exporter.getFinishedSpans()
      const fetches = spans.filter((s) => s.name === 'QueryStore fetch')
      expect(fetches).toHaveLength(2)
      const [ok, failed] = fetches as [ReadableSpan, ReadableSpan]
      expect(ok.attributes).toMatchObject({ 'tributary.query.attempts': 3, 'tributary.outcome': 'success' })
      expect(ok.attributes['tributary.query.key_hash']).toMatch(/^[0-9a-f]{16}$/)
      expect(ok.status.code).not.toBe(2)
      expect(failed.attributes).toMatchObject({
        'tributary.query.attempts': 1,
        'tributary.outcome': 'failure',
      })
      expect(failed.attributes['tributary.query.key_hash']).not.toBe(
        ok.attributes['tributary.query.key_hash'],
      )
      expect(failed.status.code).toBe(2)
      // The fetcher runs inside the fetch span.
      const count = spans.find((s) => s.attributes['tributary.model.helper'] === 'asyncCount')
      expect(parentOf(count as ReadableSpan)).toBe(idOf(ok))
      const text = everything(spans)
      expect(text).not.toContain(SECRET_KEY)
      expect(text).not.toContain(SECRET_DATA)
    })

    it('a cancelled fetch ends its span as cancelled', async () => {
      const store = new QueryStore()
      const query = store.query(
        ['slow'],
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      )
      const pending = query.fetch()
      query.cancel()
      await expect(pending).rejects.toThrow()
      await new Promise((resolve) => setImmediate(resolve))
      store.close()
      const [span] = exporter.getFinishedSpans().filter((s) => s.name === 'QueryStore fetch')
      expect(span?.attributes['tributary.outcome']).toBe('cancelled')
    })
  })
})
