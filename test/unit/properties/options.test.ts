// Issue 16, "Shown by": every public options object, given arbitrary input (anything, cyclic,
// `__proto__` keys, huge numbers, misspelt keys), is accepted or refused with a TributaryError
// or a TypeError/RangeError naming the option — never another error, never a hang, never a
// changed prototype.
import BetterSqlite3 from 'better-sqlite3'
import fc from 'fast-check'
import { Kysely, SqliteDialect } from 'kysely'
import {
  AsyncEventBus,
  AsyncMetrics,
  AsyncResult,
  AsyncShardResolver,
  bulkheadPolicy,
  circuitBreakerPolicy,
  Column,
  ComponentCache,
  createPolicy,
  fallbackPolicy,
  Component,
  consulSource,
  createAsyncStore,
  databaseSource,
  envSource,
  etcdSource,
  fileSource,
  httpSource,
  Model,
  QueryStore,
  redisSource,
  resolve,
  ShardManager,
  Table,
  vaultSource,
  watch,
} from 'tributary'
import { durationProblem, specProblem, checks } from '../../../src/core/option-checks'
import {
  assertPrototypesUntouched,
  attempt,
  attemptAsync,
  edgeNumber,
  optionsOver,
  optionValue,
  RUNS,
} from './support'

class Ping {}

const QUERY_KEYS = [
  'staleTime',
  'gcTime',
  'cacheTime',
  'retry',
  'retryDelay',
  'timeout',
  'structuralSharing',
  'meta',
  'allowUndefined',
  'grace',
  'tags',
  'schema',
]

describe('options checkers on arbitrary input (issue 16)', () => {
  afterEach(() => assertPrototypesUntouched())

  it('the shared checks: durationProblem and specProblem return text or undefined, never throw', () => {
    fc.assert(
      fc.property(optionValue, fc.boolean(), fc.boolean(), (value, positive, finite) => {
        const problem = durationProblem(value, { positive, finite })
        expect(problem === undefined || typeof problem === 'string').toBe(true)
      }),
      RUNS,
    )
    const spec = {
      a: checks.integer(0),
      b: checks.nested({ c: checks.duration(), d: checks.strings }),
      e: checks.oneOf(['x', 'y']),
      f: checks.either('a function or true', checks.function, checks.boolean),
    }
    fc.assert(
      fc.property(optionsOver(['a', 'b', 'e', 'f']), (options) => {
        const problem = specProblem(options, spec)
        if (problem !== undefined) expect(typeof problem.text).toBe('string')
      }),
      RUNS,
    )
  })

  it('new QueryStore(options)', () => {
    const keys = [
      ...QUERY_KEYS,
      'maxEntries',
      'onListenerError',
      'onError',
      'lockLease',
      'lockPoll',
      'outageRetry',
    ]
    fc.assert(
      fc.property(optionsOver(keys), (options) => {
        const store = attempt(() => new QueryStore(options as never)) as QueryStore | undefined
        store?.close()
      }),
      RUNS,
    )
  })

  it('store.query, fetch, setQueryDefaults, mutation and createAsyncStore options', async () => {
    const store = new QueryStore()
    try {
      await fc.assert(
        fc.asyncProperty(
          optionsOver([...QUERY_KEYS, 'enabled', 'select', 'placeholderData', 'initialData', 'signal']),
          optionsOver([
            'optimistic',
            'invalidates',
            'retry',
            'retryDelay',
            'timeout',
            'mutationKey',
            'scope',
            'onSuccess',
          ]),
          async (queryOptions, mutationOptions) => {
            attempt(() => store.query(['q'], () => 1, queryOptions as never))
            attempt(() => store.setQueryDefaults(['d'], queryOptions as never))
            attempt(() => store.mutation(async () => 1, mutationOptions as never))
            const asyncStore = attempt(() => createAsyncStore(() => 1, {}, queryOptions as never)) as
              { close(): void } | undefined
            asyncStore?.close()
            await attemptAsync(() =>
              store.fetch(['f'], () => 1, { ...(queryOptions as object), timeout: 50 } as never),
            )
            store.clear()
          },
        ),
        RUNS,
      )
    } finally {
      store.close()
    }
  })

  it('event bus: constructor, handler and close options', async () => {
    await fc.assert(
      fc.asyncProperty(
        optionsOver(['metrics', 'closeTimeout', 'debug']),
        optionsOver([
          'name',
          'concurrency',
          'timeout',
          'retry',
          'rateLimit',
          'inherited',
          'signal',
          'partitionBy',
        ]),
        optionsOver(['timeout']),
        async (busOptions, handlerOptions, closeOptions) => {
          const bus =
            (attempt(() => new AsyncEventBus(busOptions as never)) as AsyncEventBus | undefined) ??
            new AsyncEventBus()
          attempt(() => bus.on(Ping, () => undefined, handlerOptions as never))
          attempt(() => bus.onAny(() => undefined, handlerOptions as never))
          await attemptAsync(() => bus.close(closeOptions as never))
          await bus.close({ timeout: 10 })
        },
      ),
      RUNS,
    )
  })

  it('@Component options and resolve / watch options', async () => {
    const componentKeys = [
      'fetchFrom',
      'key',
      'field',
      'fallback',
      'ttl',
      'retry',
      'timeout',
      'secret',
      'type',
      'required',
      'pollInterval',
      'debounce',
      'circuitBreaker',
    ]
    await fc.assert(
      fc.asyncProperty(
        optionsOver(componentKeys),
        optionsOver(['sources', 'timeout', 'signal', 'cache', 'backoff']),
        async (componentOptions, resolveOptions) => {
          const decorate = attempt(() => Component(componentOptions as never)) as
            ((target: object, property: string) => void) | undefined
          if (decorate) {
            class Target {}
            attempt(() => decorate(Target.prototype, 'value'))
          }
          class Config {
            @Component({ fetchFrom: 'env', key: 'H16_PROPERTY_NONE', fallback: 1 }) value!: number
          }
          await attemptAsync(() => resolve(Config, resolveOptions as never))
          const live = (await attemptAsync(() => watch(Config, resolveOptions as never))) as
            { stop(): Promise<void> } | undefined
          await live?.stop()
        },
      ),
      { numRuns: 100 },
    )
  })

  it('ShardManager and acrossShards options', () => {
    @Table('h16_property_items')
    class Item extends Model {
      @Column({ primary: true }) id!: number
    }
    const db = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    })
    const shards = new ShardManager({ a: db }, { ownsDatabases: false }).attach(Item)
    try {
      fc.assert(
        fc.property(
          optionsOver(['concurrency', 'defaultShard', 'ownsDatabases']),
          optionsOver([
            'shards',
            'onShardError',
            'failFast',
            'timeout',
            'concurrency',
            'maxDistinct',
            'compare',
            'shardKey',
          ]),
          (managerOptions, acrossOptions) => {
            const manager = attempt(
              () =>
                new ShardManager({ a: db }, { ...(managerOptions as object), ownsDatabases: false } as never),
            )
            void (manager as ShardManager<unknown> | undefined)?.close()
            attempt(() => Item.acrossShards(acrossOptions as never))
          },
        ),
        RUNS,
      )
    } finally {
      void shards.close()
      void db.destroy()
    }
  })

  it('source factories', () => {
    const redisLike = {
      get: async () => null,
      hget: async () => null,
      hgetall: async () => ({}),
      exists: async () => 0,
    }
    fc.assert(
      fc.property(
        optionsOver(['env', 'prefix', 'name', 'baseDir', 'headers', 'bearerToken', 'baseUrl']),
        optionsOver([
          'url',
          'host',
          'port',
          'secure',
          'token',
          'timeout',
          'name',
          'churnInterval',
          'endpoint',
          'namespace',
          'client',
        ]),
        optionsOver(['table', 'keyColumn', 'valueColumn', 'name', 'notify', 'hosts', 'prefix']),
        (a, b, c) => {
          attempt(() => envSource(a as never))
          attempt(() => fileSource(a as never))
          attempt(() => httpSource(a as never))
          attempt(() => redisSource(redisLike, a as never))
          attempt(() => consulSource(b as never))
          attempt(() => vaultSource(b as never))
          attempt(() => databaseSource((() => undefined) as never, c as never))
          attempt(() => etcdSource(c as never), /option|etcd/)
        },
      ),
      RUNS,
    )
  })

  it('resilience factories, metrics, results, the shard resolver, the component cache and @Column', () => {
    fc.assert(
      fc.property(
        optionsOver(['retry', 'timeout', 'circuitBreaker', 'bulkhead', 'fallback']),
        optionsOver(['threshold', 'halfOpenAfter', 'failureIf', 'limit', 'queue', 'when']),
        optionsOver(['sampleSize', 'enabled', 'operation', 'signal', 'metrics', 'maxEntries']),
        optionsOver(['lookup', 'ttl', 'maxEntries', 'name', 'now', 'table', 'keyColumn', 'shardColumn']),
        optionsOver(['name', 'primary', 'type']),
        (policy, layer, small, resolver, column) => {
          attempt(() => createPolicy(policy as never), /option|must|timeout|retry|limit|threshold/)
          attempt(() => circuitBreakerPolicy(layer as never), /option|must/)
          attempt(() => bulkheadPolicy(layer as never), /option|must/)
          attempt(() => fallbackPolicy(0, layer as never))
          attempt(() => new AsyncMetrics(small as never))
          attempt(() => AsyncResult.resolve(1, small as never))
          attempt(() => new ComponentCache(small as never), /option|maxEntries/)
          attempt(() => new AsyncShardResolver(resolver as never), /option|ttl|maxEntries/)
          attempt(() => {
            class Decorated extends Model {
              @Column(column as never) id!: number
            }
            return Decorated
          })
        },
      ),
      RUNS,
    )
  })

  it('huge and non-finite durations on every timer option are kept or refused, never fired at once', async () => {
    await fc.assert(
      fc.asyncProperty(edgeNumber, async (ms) => {
        const store = attempt(() => new QueryStore({ staleTime: ms, gcTime: ms, timeout: ms })) as
          QueryStore | undefined
        store?.close()
        const bus = new AsyncEventBus()
        attempt(() => bus.on(Ping, () => undefined, { timeout: ms }))
        await bus.close({ timeout: 10 })
      }),
      RUNS,
    )
  })
})
