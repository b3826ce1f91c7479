// Issue 16, "Options checked everywhere": every public options object is checked when given,
// by the one shared checker (src/core/option-checks.ts): unknown keys refused with a
// suggestion, types and ranges checked, each error typed and naming where and which option.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import {
  AsyncEventBus,
  AsyncMetrics,
  AsyncResult,
  AsyncShardResolver,
  asyncAssign,
  bulkheadPolicy,
  circuitBreakerPolicy,
  Column,
  ComponentCache,
  createPolicy,
  fallbackPolicy,
  installChangeNotifier,
  isComponentOptionsError,
  recoverShardTransactions,
  shardTransaction,
  Component,
  configureDatabase,
  consulSource,
  createMysqlDatabase,
  createPostgresDatabase,
  createAsyncStore,
  databaseSource,
  envSource,
  fileSource,
  httpSource,
  isEventBusOptionsError,
  idempotent,
  isTransportOptionsError,
  natsSeenSet,
  natsTransport,
  redisSeenSet,
  redisStreamsTransport,
  isInvalidQueryError,
  isQueryStoreError,
  Model,
  QueryStore,
  dehydrate,
  redisBus,
  redisCache,
  redisSource,
  ShardedAsyncExecutor,
  ShardManager,
  Table,
  vaultSource,
  watch,
  type Transport,
} from 'tributary'

/** What `fn` threw (fails the test when it threw nothing). */
function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

async function rejected(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

class Ping {}

describe('QueryStore options (issue 16)', () => {
  const stores: QueryStore[] = []
  afterEach(() => stores.splice(0).forEach((s) => s.close()))
  const fetcher = (): number => 1

  it.each([
    [
      { retry: -1 },
      /^new QueryStore\(options\): option retry must be a count >= 0, true, false or a function/,
    ],
    [{ retry: 'yes' }, /option retry must be a count/],
    [{ retry: 1.5 }, /option retry must be a count/],
    [{ staleTim: 1 }, /unknown option "staleTim" \(did you mean "staleTime"\?\)/],
    [
      { staleTime: -5 },
      /option staleTime must be a number of milliseconds >= 0 \(or Infinity for none\), got -5/,
    ],
    [{ gcTime: Number.NaN }, /option gcTime must be a number of milliseconds/],
    [{ retryDelay: Infinity }, /option retryDelay must be a number of ms >= 0 or a function/],
    [{ maxEntries: 0 }, /option maxEntries must be an integer >= 1 \(or Infinity\), got 0/],
    [{ onError: 'log' }, /option onError must be a function, got "log"/],
    [{ tags: ['a', 1] }, /option tags must be an array of strings/],
    [{ structuralSharing: 'deep' }, /option structuralSharing must be true, false or a function/],
  ])('new QueryStore(%j) is a QueryStoreError naming the option', (options, message) => {
    const error = thrown(() => stores.push(new QueryStore(options as never)))
    expect(isQueryStoreError(error)).toBe(true)
    expect(error.message).toMatch(message)
  })

  it('accepts every documented option', () => {
    const store = new QueryStore({
      staleTime: 1_000,
      gcTime: Infinity,
      retry: 3,
      retryDelay: (n) => n * 10,
      timeout: 5_000,
      structuralSharing: false,
      meta: { a: 1 },
      allowUndefined: true,
      grace: 0,
      tags: ['t'],
      maxEntries: 100,
      onError: () => undefined,
      onListenerError: () => undefined,
    })
    stores.push(store)
    expect(store.size).toBe(0)
  })

  it('query, fetch, ensureQueryData, setQueryDefaults, paginated and mutation options are checked', async () => {
    const store = new QueryStore()
    stores.push(store)
    expect(thrown(() => store.query(['a'], fetcher, { enabeld: false } as never)).message).toMatch(
      /^QueryStore\.query: unknown option "enabeld" \(did you mean "enabled"\?\)/,
    )
    expect(thrown(() => store.query(['a'], fetcher, { select: 1 } as never)).message).toMatch(
      /QueryStore\.query: option select must be a function, got 1/,
    )
    expect(thrown(() => store.fetch(['a'], fetcher, { signal: {} } as never)).message).toMatch(
      /QueryStore\.fetch: option signal must be an AbortSignal/,
    )
    expect(thrown(() => store.fetch(['a'], fetcher, { retry: -2 })).message).toMatch(
      /QueryStore\.fetch: option retry/,
    )
    expect(
      thrown(() => store.ensureQueryData(['a'], fetcher, { revalidateIfStale: 'yes' } as never)).message,
    ).toMatch(/QueryStore\.ensureQueryData: option revalidateIfStale must be true or false/)
    expect(thrown(() => store.setQueryDefaults(['a'], { enabled: true } as never)).message).toMatch(
      /QueryStore\.setQueryDefaults: unknown option "enabled"/,
    )
    expect(
      thrown(() =>
        store.paginated(['p'], () => [], {
          initialPageParam: 0,
          getNextPageParam: () => undefined,
          maxPage: 2,
        } as never),
      ).message,
    ).toMatch(/QueryStore\.paginated: unknown option "maxPage" \(did you mean "maxPages"\?\)/)
    const mutationError = thrown(() => store.mutation(async () => 1, { onSucess: () => undefined } as never))
    expect(isQueryStoreError(mutationError)).toBe(true)
    expect(mutationError.message).toMatch(
      /QueryStore\.mutation: unknown option "onSucess" \(did you mean "onSuccess"\?\)/,
    )
    expect(thrown(() => store.mutation(async () => 1, { scope: { id: 7 } } as never)).message).toMatch(
      /option scope\.id must be a string, got 7/,
    )
    // The same options object, reused, works (and a paginated query passes its own on).
    const options = { staleTime: 10 }
    expect(await store.fetch(['b'], fetcher, options)).toBe(1)
    expect(await store.fetch(['b'], fetcher, options)).toBe(1)
    const feed = store.paginated(['feed'], () => ['x'], {
      initialPageParam: 0,
      getNextPageParam: () => undefined,
    })
    expect(feed.key).toEqual(['feed'])
  })

  it('filters and the options of setData, invalidate, invalidateQueries, cancelQueries, refetchQueries', async () => {
    const store = new QueryStore()
    stores.push(store)
    expect(thrown(() => store.findAll({ querykey: ['a'] } as never)).message).toMatch(
      /^QueryStore filters: unknown option "querykey" \(did you mean "queryKey"\?\)/,
    )
    expect(thrown(() => store.removeQueries({ type: 'idle' } as never)).message).toMatch(
      /option type must be 'all', 'active', 'inactive', got "idle"/,
    )
    expect(thrown(() => store.setData(['a'], 1, { updatedAt: Number.NaN })).message).toMatch(
      /QueryStore\.setData: option updatedAt must be a time in ms since the epoch/,
    )
    expect(thrown(() => store.invalidate(['a'], { refetch: 'some' } as never)).message).toMatch(
      /QueryStore\.invalidate: option refetch must be 'observed', 'all', 'none'/,
    )
    expect(thrown(() => store.invalidateQueries({}, { refetchTyp: 'all' } as never)).message).toMatch(
      /unknown option "refetchTyp" \(did you mean "refetchType"\?\)/,
    )
    expect(thrown(() => store.cancelQueries({}, { revert: 1 } as never))).toBeInstanceOf(Error)
    expect(thrown(() => store.refetchQueries({}, { throwOnErr: true } as never)).message).toMatch(
      /did you mean "throwOnError"/,
    )
    await store.invalidateQueries({ queryKey: ['a'], exact: true }, { refetchType: 'none' })
  })

  it('Query.refetch options are checked', async () => {
    const store = new QueryStore()
    const query = store.query(['h16', 'refetch'], async () => 1)
    const error = thrown(() => query.refetch({ cancelRefech: false } as never))
    expect(isQueryStoreError(error)).toBe(true)
    expect(error.message).toMatch(
      /^Query\.refetch: unknown option "cancelRefech" \(did you mean "cancelRefetch"\?\)/,
    )
    expect(thrown(() => query.refetch({ cancelRefetch: 'yes' } as never)).message).toMatch(/cancelRefetch/)
    expect(await query.refetch({ cancelRefetch: false })).toBe(1)
    store.close()
  })

  it('createAsyncStore config is checked', () => {
    const error = thrown(() => createAsyncStore(() => 1, {}, { stor: new QueryStore() } as never))
    expect(isQueryStoreError(error)).toBe(true)
    expect(error.message).toMatch(
      /createAsyncStore\(fetcher, params, config\): unknown option "stor" \(did you mean "store"\?\)/,
    )
  })
})

describe('event bus options (issue 16)', () => {
  it('handler options: unknown keys, types and ranges, as EventBusOptionsError', () => {
    const bus = new AsyncEventBus()
    const cases: Array<[object, RegExp]> = [
      [{ concurrence: 2 }, /concurrence.*did you mean "concurrency"/],
      [{ concurrency: 0 }, /concurrency/],
      [{ timeout: -1 }, /"timeout": must be a number of milliseconds > 0, got -1/],
      [{ name: Object.create(null) as object }, /"name": must be a string, got an object/],
      [{ rateLimit: { max: 1, windowMs: 10, onlimit: 'drop' } }, /rateLimit\.onlimit/],
    ]
    for (const [options, message] of cases) {
      const error = thrown(() => bus.on(Ping, () => undefined, options as never))
      expect(isEventBusOptionsError(error)).toBe(true)
      expect(error.message).toMatch(message)
    }
  })

  it('bridge options: unknown keys with a suggestion, types and ranges, as TransportOptionsError', async () => {
    const bus = new AsyncEventBus()
    let subscribed = 0
    const transport: Transport = {
      name: 'none',
      publish: async () => undefined,
      subscribe: async () => {
        subscribed++
        return { close: async () => undefined }
      },
      deadLetters: async () => [],
      close: async () => undefined,
    }
    const cases: Array<[object, RegExp]> = [
      [{ events: [Ping], grup: 'a' }, /grup.*did you mean "group"/],
      [{ events: [Ping], maxDeliveries: 0 }, /maxDeliveries.*integer >= 1, got 0/],
      [{ events: [Ping], ackWait: Infinity }, /ackWait/],
      [{ events: [Ping], mode: 'fanout' }, /mode/],
      [{ events: [Ping], mode: 'group' }, /group.*required/],
      [{ events: [Ping], backoff: { initialDelay: -5 } }, /backoff\.initialDelay/],
      [{ events: [Ping], backoff: { exponent: 0.5 } }, /backoff\.exponent/],
      [{ events: [Ping], backoff: { maxDelays: 1 } }, /backoff\.maxDelays.*did you mean "backoff\.maxDelay"/],
    ]
    for (const [options, message] of cases) {
      const error = (await bus.bridge(transport, options as never).catch((e: unknown) => e)) as Error
      expect(isTransportOptionsError(error)).toBe(true)
      expect(error.message).toMatch(/^bridge: /)
      expect(error.message).toMatch(message)
    }
    expect(subscribed).toBe(0)
    await bus.close()
  })

  it('transport factories and idempotent(): unknown keys with a suggestion, types and ranges', () => {
    const redisLike = { duplicate: () => redisLike } as never
    const natsLike = { publish: () => undefined, request: async () => undefined } as never
    const seen = { claim: async () => true, done: async () => undefined, release: async () => undefined }
    const cases: Array<[() => unknown, RegExp]> = [
      [
        () => redisStreamsTransport(redisLike, { prefx: 'a' } as never),
        /^redisStreamsTransport: .*prefx.*did you mean "prefix"/,
      ],
      [() => redisStreamsTransport(redisLike, { maxLength: 0 }), /maxLength.*integer >= 1/],
      [() => redisStreamsTransport(redisLike, { block: -1 }), /block/],
      [
        () => natsTransport(natsLike, { maxMessage: 5 } as never),
        /^natsTransport: .*maxMessage.*did you mean "maxMessages"/,
      ],
      [() => natsTransport(natsLike, { inactiveThreshold: 0 }), /inactiveThreshold/],
      [() => natsSeenSet(natsLike, { maxage: 1 } as never), /^natsSeenSet: .*maxage.*did you mean "maxAge"/],
      [() => redisSeenSet(redisLike, { prefix: 5 } as never), /^redisSeenSet: .*prefix/],
      [() => idempotent(() => undefined, { seen, ttl: -1 } as never), /^idempotent: .*ttl/],
      [() => idempotent(() => undefined, { seen, leese: 1 } as never), /leese.*did you mean "lease"/],
    ]
    for (const [make, message] of cases) {
      const error = thrown(make)
      expect(isTransportOptionsError(error)).toBe(true)
      expect(error.message).toMatch(message)
    }
  })
})

describe('watch options (issue 16)', () => {
  class Config {
    @Component({ fetchFrom: 'env', key: 'H16_PORT', fallback: 1 }) port!: number
  }
  const sources = [envSource({ env: {} })]

  it.each([
    [{ sources, backof: {} }, TypeError, /unknown option "backof" \(did you mean "backoff"\?\)/],
    [{ sources, backoff: 5 }, TypeError, /option backoff must be an object, got 5/],
    [{ sources, backoff: { initialDelay: -1 } }, RangeError, /option backoff\.initialDelay must be a number/],
    [{ sources, backoff: { maxDelay: 'x' } }, TypeError, /option backoff\.maxDelay must be a number/],
    [
      { sources, backoff: { maxDelays: 1 } },
      TypeError,
      /unknown option "backoff\.maxDelays" \(did you mean "backoff\.maxDelay"\?\)/,
    ],
  ])('watch(Config, %j) is refused', async (options, kind, message) => {
    const error = await rejected(watch(Config, options as never))
    expect(error).toBeInstanceOf(kind)
    expect(error.message).toMatch(/^watch\(Config, options\): /)
    expect(error.message).toMatch(message)
  })
})

describe('ShardManager and acrossShards options (issue 16)', () => {
  @Table('h16_items')
  class H16Item extends Model {
    @Column({ primary: true }) id!: number
  }
  const db = (): Kysely<unknown> =>
    new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })

  it('new ShardManager: unknown keys, types and ranges', async () => {
    const a = db()
    expect(thrown(() => new ShardManager({ a }, { concurency: 2 } as never)).message).toMatch(
      /^new ShardManager\(shards, options\): unknown option "concurency" \(did you mean "concurrency"\?\)/,
    )
    expect(thrown(() => new ShardManager({ a }, { concurrency: 0 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => new ShardManager({ a }, { ownsDatabases: 'no' } as never))).toBeInstanceOf(TypeError)
    expect(thrown(() => new ShardManager(null as never))).toBeInstanceOf(TypeError)
    await a.destroy()
  })

  it('acrossShards(options) and each helper’s options are InvalidQueryErrors naming the option', async () => {
    const shards = new ShardManager({ a: db(), b: db() }).attach(H16Item)
    try {
      const error = thrown(() => H16Item.acrossShards({ onShardErorr: 'partial' } as never))
      expect(isInvalidQueryError(error)).toBe(true)
      expect(error.message).toMatch(
        /acrossShards\(options\): unknown option "onShardErorr" \(did you mean "onShardError"\?\)/,
      )
      expect(thrown(() => H16Item.acrossShards({ timeout: -1 })).message).toMatch(
        /option timeout must be a number/,
      )
      expect(
        thrown(() => H16Item.acrossShards({ shardKey: { column: 'id', resolver: 5 } } as never)).message,
      ).toMatch(/option shardKey\.resolver must be an object, got 5/)
      const helper = thrown(() => H16Item.acrossShards().asyncCount({ timeot: 5 } as never))
      expect(isInvalidQueryError(helper)).toBe(true)
      expect(helper.message).toMatch(/acrossShards\(\)\.asyncCount\(options\): unknown option "timeot"/)
      expect(thrown(() => H16Item.acrossShards().asyncFind(1, { batch: 'no' } as never)).message).toMatch(
        /option batch must be true or false/,
      )
    } finally {
      await shards.close()
    }
  })

  it('executeAcrossShards options: unknown keys with a suggestion, ranges; a long timeout is kept, Infinity is none', async () => {
    const shards = new ShardManager({ a: db(), b: db() })
    const executor = new ShardedAsyncExecutor(shards)
    try {
      const unknown = thrown(() => executor.executeAcrossShards(undefined, () => 1, { timout: 5 } as never))
      expect(unknown).toBeInstanceOf(TypeError)
      expect(unknown.message).toMatch(
        /^executeAcrossShards\(shards, fn, options\): unknown option "timout" \(did you mean "timeout"\?\)/,
      )
      expect(thrown(() => new ShardedAsyncExecutor(shards, { concurrency: 0 }))).toBeInstanceOf(RangeError)
      expect(
        thrown(() =>
          ShardedAsyncExecutor.executeAcrossShards(['a'], () => 1, { manager: shards, failFast: 1 } as never),
        ),
      ).toBeInstanceOf(TypeError)
      jest.useFakeTimers()
      try {
        // 3e9 ms is past setTimeout's 2^31-1: kept (chained timers), not fired after 1 ms.
        for (const timeout of [3e9, Infinity]) {
          let release!: () => void
          const results = executor.executeAcrossShards(
            ['a'],
            () => new Promise<number>((r) => (release = () => r(1))),
            {
              timeout,
            },
          )
          await jest.advanceTimersByTimeAsync(10_000)
          release()
          expect(await results.collect()).toEqual(new Map([['a', 1]]))
        }
      } finally {
        jest.useRealTimers()
      }
    } finally {
      await shards.close()
    }
  })
})

describe('source factories (issue 16)', () => {
  const redisLike = {
    get: async () => null,
    hget: async () => null,
    hgetall: async () => ({}),
    exists: async () => 0,
  }
  it.each([
    [
      'envSource',
      () => envSource({ prefx: 'APP_' } as never),
      TypeError,
      /^envSource\(options\): unknown option "prefx" \(did you mean "prefix"\?\)/,
    ],
    ['envSource', () => envSource({ name: '' }), TypeError, /option name must be a non-empty string/],
    [
      'fileSource',
      () => fileSource({ baseDirectory: '.' } as never),
      TypeError,
      /^fileSource\(options\): unknown option "baseDirectory"/,
    ],
    [
      'httpSource',
      () => httpSource({ headers: { a: 1 } } as never),
      TypeError,
      /^httpSource\(options\): option headers must be an object of header names to strings/,
    ],
    ['httpSource', () => httpSource({ baseURL: 'http://x' } as never), TypeError, /did you mean "baseUrl"/],
    [
      'redisSource',
      () => redisSource(redisLike, { prefx: 'a:' } as never),
      TypeError,
      /^redisSource\(client, options\): unknown option "prefx"/,
    ],
    ['redisSource', () => redisSource(null as never), TypeError, /client must be an ioredis client/],
    [
      'consulSource',
      () => consulSource({ port: 70_000 }),
      RangeError,
      /^consulSource\(options\): option port must be an integer >= 1 and <= 65535/,
    ],
    ['consulSource', () => consulSource({ tokne: 'x' } as never), TypeError, /did you mean "token"/],
    ['consulSource', () => consulSource(42 as never), TypeError, /options must be an object, got 42/],
    [
      'vaultSource',
      () => vaultSource({ endpoint: 8200 } as never),
      TypeError,
      /^vaultSource\(options\): option endpoint must be a string, got 8200/,
    ],
    ['vaultSource', () => vaultSource({ namespce: 'a' } as never), TypeError, /did you mean "namespace"/],
    [
      'databaseSource',
      () => databaseSource((() => undefined) as never, { tabel: 'x' } as never),
      TypeError,
      /^databaseSource\(db, options\): unknown option "tabel" \(did you mean "table"\?\)/,
    ],
    [
      'databaseSource',
      () =>
        databaseSource(
          (() => undefined) as never,
          { notify: { channel: 'c', connection: {}, safetyPollInterval: 0 } } as never,
        ),
      RangeError,
      /option notify\.safetyPollInterval must be a number of milliseconds > 0/,
    ],
  ])('%s refuses bad options', (_name, make, kind, message) => {
    const error = thrown(make)
    expect(error).toBeInstanceOf(kind)
    expect(error.message).toMatch(message)
  })

  it('accepts good options', () => {
    expect(envSource({ prefix: 'APP_', name: 'env2', env: {} }).name).toBe('env2')
    expect(fileSource({ baseDir: '.' }).name).toBe('file')
    expect(httpSource({ baseUrl: 'http://127.0.0.1', headers: { a: 'b' }, bearerToken: 't' }).name).toBe(
      'http',
    )
    expect(redisSource(redisLike, { prefix: 'p:' }).name).toBe('redis')
    expect(consulSource({ host: '127.0.0.1', port: 8500, churnInterval: 10 }).name).toBe('consul')
    expect(vaultSource({ endpoint: 'http://127.0.0.1:8200', token: 't' }).name).toBe('vault')
  })
})

describe('database options (issue 16)', () => {
  it('configureDatabase, createPostgresDatabase and createMysqlDatabase check theirs', async () => {
    const db = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    })
    expect(thrown(() => configureDatabase(db, { concurrency: 0 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => configureDatabase(db, { concurency: 2 } as never)).message).toMatch(
      /^configureDatabase\(db, options\): unknown option "concurency" \(did you mean "concurrency"\?\)/,
    )
    expect(thrown(() => configureDatabase(db, undefined as never))).toBeInstanceOf(TypeError)
    expect(
      thrown(() =>
        createPostgresDatabase('postgres://127.0.0.1:1/x', { onPoolErorr: () => undefined } as never),
      ).message,
    ).toMatch(/createPostgresDatabase\(target, options\): unknown option "onPoolErorr"/)
    expect(
      thrown(() => createMysqlDatabase('mysql://127.0.0.1:1/x', { utc: 'yes' } as never)).message,
    ).toMatch(/createMysqlDatabase\(target, options\): option utc must be true or false/)
    await db.destroy()
  })
})

describe('the last unchecked options objects (issue 16)', () => {
  const sqlite = (): Kysely<unknown> =>
    new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) })

  it('@Column options: a misspelt option or a wrong type names the model and property', () => {
    const misspelt = thrown(() => {
      class Misspelt extends Model {
        @Column({ primaryKey: true } as never) id!: number
      }
      return Misspelt
    })
    expect(isInvalidQueryError(misspelt)).toBe(true)
    expect(misspelt.message).toBe(
      'Misspelt: @Column on id: unknown option "primaryKey" (did you mean "primary"?)',
    )
    expect(
      thrown(() => {
        class Typed extends Model {
          @Column({ type: 'text' } as never) name!: string
        }
        return Typed
      }).message,
    ).toMatch(/^Typed: @Column on name: option type must be one of 'number', 'string'/)
  })

  it('model helper options (signal, batch) are checked on every helper, batched or not', async () => {
    @Table('h16_helpers')
    class H16Helper extends Model {
      @Column({ primary: true }) id!: number
      @Column() name!: string
    }
    const db = sqlite()
    H16Helper.use(db)
    try {
      const count = thrown(() => H16Helper.asyncCount({ signl: undefined } as never))
      expect(isInvalidQueryError(count)).toBe(true)
      expect(count.message).toBe(
        'H16Helper: asyncCount(…, options): unknown option "signl" (did you mean "signal"?)',
      )
      expect(thrown(() => H16Helper.asyncFind(1, { batch: 'no' } as never)).message).toMatch(
        /asyncFind\(…, options\): option batch must be true or false, got "no"/,
      )
      expect(
        thrown(() => H16Helper.where({ name: 'a' }).asyncUpdate({ name: 'b' }, { signal: 5 } as never))
          .message,
      ).toMatch(/asyncUpdate\(…, options\): option signal must be an AbortSignal/)
      expect(
        thrown(() => H16Helper.asyncInsert({ id: 1, name: 'a' }, { batch: true, x: 1 } as never)).message,
      ).toMatch(/asyncInsert\(…, options\): unknown option "x"/)
    } finally {
      H16Helper.use(null)
      await db.destroy()
    }
  })

  it('asyncAssign options reject with a ComponentOptionsError naming the class and property', async () => {
    class Target {
      port = 0
    }
    const error = await rejected(asyncAssign(new Target(), 'port', 1, { timout: 5 } as never))
    expect(isComponentOptionsError(error)).toBe(true)
    expect(error.message).toMatch(
      /^Target\.port: asyncAssign\(instance, property, value, options\): unknown option "timout" \(did you mean "timeout"\?\)/,
    )
    expect((await rejected(asyncAssign(new Target(), 'port', 1, { timeout: -1 }))).message).toMatch(
      /option timeout must be a number of milliseconds > 0/,
    )
  })

  it('resilience factories: createPolicy, circuitBreakerPolicy, bulkheadPolicy, fallbackPolicy', () => {
    expect(thrown(() => createPolicy({ retyr: 3 } as never)).message).toBe(
      'createPolicy(options): unknown option "retyr" (did you mean "retry"?)',
    )
    expect(thrown(() => circuitBreakerPolicy({ treshold: 3 } as never)).message).toMatch(
      /^circuitBreakerPolicy\(options\): unknown option "treshold" \(did you mean "threshold"\?\)/,
    )
    expect(thrown(() => circuitBreakerPolicy({ failureIf: true } as never))).toBeInstanceOf(TypeError)
    expect(thrown(() => bulkheadPolicy({ limit: 2, queu: 1 } as never)).message).toMatch(
      /^bulkheadPolicy\(options\): unknown option "queu" \(did you mean "queue"\?\)/,
    )
    expect(thrown(() => fallbackPolicy(0, { when: 'always' } as never)).message).toMatch(
      /^fallbackPolicy\(value, options\): option when must be a function/,
    )
    // Good options still build.
    expect(typeof createPolicy({ retry: 1, timeout: 10, bulkhead: 2 }).execute).toBe('function')
  })

  it('new AsyncMetrics, AsyncResult, AsyncShardResolver and ComponentCache', () => {
    expect(thrown(() => new AsyncMetrics({ sampleSise: 10 } as never)).message).toMatch(
      /^new AsyncMetrics\(options\): unknown option "sampleSise" \(did you mean "sampleSize"\?\)/,
    )
    expect(thrown(() => new AsyncMetrics({ sampleSize: 0 }))).toBeInstanceOf(RangeError)
    expect(thrown(() => AsyncResult.resolve(1, { operaton: 'x' } as never)).message).toMatch(
      /^AsyncResult\(options\): unknown option "operaton"/,
    )
    expect(
      thrown(() => new AsyncShardResolver({ lookup: async () => 'a', tll: 5 } as never)).message,
    ).toMatch(/^new AsyncShardResolver\(options\): unknown option "tll" \(did you mean "ttl"\?\)/)
    expect(thrown(() => new AsyncShardResolver({} as never)).message).toMatch(
      /option lookup must be a function/,
    )
    const db = sqlite()
    expect(thrown(() => AsyncShardResolver.fromDirectory(db, { tabel: 'x' } as never)).message).toMatch(
      /^AsyncShardResolver\.fromDirectory\(db, options\): unknown option "tabel" \(did you mean "table"\?\)/,
    )
    expect(AsyncShardResolver.fromDirectory(db, { table: 'dir', ttl: 5 })).toBeInstanceOf(AsyncShardResolver)
    void db.destroy()
    expect(thrown(() => new ComponentCache({ maxEntires: 5 } as never)).message).toMatch(
      /^new ComponentCache\(options\): unknown option "maxEntires" \(did you mean "maxEntries"\?\)/,
    )
  })

  it('shardTransaction, recoverShardTransactions and installChangeNotifier', async () => {
    const shards = new ShardManager({ a: sqlite() })
    try {
      expect(
        (await rejected(shardTransaction(shards, async () => 1, { onProgres: () => undefined } as never)))
          .message,
      ).toMatch(
        /^shardTransaction\(manager, fn, options\): unknown option "onProgres" \(did you mean "onProgress"\?\)/,
      )
      expect(
        (await rejected(shardTransaction(shards, async () => 1, { log: { tabel: 'x' } } as never))).message,
      ).toMatch(/^shardTransaction: log: unknown option "tabel" \(did you mean "table"\?\)/)
      const recovery = await rejected(recoverShardTransactions(shards, { minAge: -1 }))
      expect(recovery).toBeInstanceOf(RangeError)
      expect(recovery.message).toMatch(
        /^recoverShardTransactions\(manager, options\): option minAge must be a number of milliseconds >= 0/,
      )
      expect(
        (await rejected(installChangeNotifier(sqlite(), { channel: 'c', tabel: 'x' } as never))).message,
      ).toMatch(/^installChangeNotifier\(db, options\): unknown option "tabel" \(did you mean "table"\?\)/)
    } finally {
      await shards.close()
    }
  })

  it('query handles, mutations, dehydrate, redisCache and redisBus: QueryStoreErrors naming the option', async () => {
    const store = new QueryStore()
    try {
      const query = store.query(['user', 1], async () => 1)
      const invalidate = thrown(() => void query.invalidate({ refech: true } as never))
      expect(isQueryStoreError(invalidate)).toBe(true)
      expect(invalidate.message).toBe('Query.invalidate: unknown option "refech" (did you mean "refetch"?)')
      expect(thrown(() => query.setData(2, { updatedAt: 'now' } as never)).message).toMatch(
        /^Query\.setData: option updatedAt must be a time in ms since the epoch/,
      )
      expect(query.setData(3, { updatedAt: Date.now() })).toBe(3)
      const save = store.mutation(async (n: number) => n)
      expect(thrown(() => save.mutate(1, { signl: undefined } as never)).message).toBe(
        'Mutation.mutate: unknown option "signl" (did you mean "signal"?)',
      )
      expect(thrown(() => save.mutate(1, { signal: 'stop' } as never)).message).toMatch(
        /^Mutation\.mutate: option signal must be an AbortSignal/,
      )
      await save.mutate(2).wait()
      expect(thrown(() => dehydrate(store, { shouldDehydrate: () => true } as never)).message).toBe(
        'dehydrate(options): unknown option "shouldDehydrate" (did you mean "shouldDehydrateQuery"?)',
      )
      expect(dehydrate(store).queries).toHaveLength(1)
    } finally {
      store.close()
    }
    // The client is not touched before the options are checked.
    const client = {} as never
    expect(thrown(() => redisCache(client, { prefx: 'a:' } as never)).message).toBe(
      'redisCache(options): unknown option "prefx" (did you mean "prefix"?)',
    )
    expect(thrown(() => redisCache(client, { commandTimeout: 0 })).message).toMatch(
      /^redisCache\(options\): option commandTimeout must be a number of milliseconds > 0/,
    )
    expect(thrown(() => redisBus(client, { prefix: 7 } as never)).message).toMatch(
      /^redisBus\(options\): option prefix must be a string, got 7/,
    )
    expect(isQueryStoreError(thrown(() => redisBus(client, null as never)))).toBe(true)
  })
})
