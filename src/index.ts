/**
 * tributary — the one public barrel.
 * @packageDocumentation
 */
import 'reflect-metadata'

export {
  AsyncCancelledError,
  AsyncExecutionError,
  AsyncTimeoutError,
  MissingDependencyError,
  TributaryError,
  hasErrorKind,
  isAsyncCancelledError,
  isAsyncExecutionError,
  isAsyncTimeoutError,
  isMissingDependencyError,
  isTributaryError,
  type TributaryErrorOptions,
} from './core/errors'
export { delay, throwIfAborted } from './core/abort'
export {
  AsyncMetrics,
  type AsyncMetricsOptions,
  type LatencyStats,
  type MetricsSnapshot,
  type OperationStats,
  type UnobservedErrorListener,
} from './core/metrics'
export {
  AsyncResult,
  type AsyncResultOptions,
  type AsyncResultStatus,
  type AsyncWork,
} from './core/async-result'
export * from './core/coordinator'
export { setLongTimeout, type LongTimeoutOptions, type LongTimer } from './core/timers'
export { setDatabaseNamespace } from './core/telemetry'

export * from './resilience/policy'
export * from './resilience/errors'
export {
  backoffDelays,
  isRetryableError,
  retryPolicy,
  type JitterKind,
  type RetryInput,
  type RetryOptions,
} from './resilience/retry'
export * from './resilience/breaker'
export * from './resilience/timeout'
export * from './resilience/bulkhead'
export * from './resilience/fallback'
export * from './resilience/compose'
export * from './sources/source'
export * from './events/types'
export * from './events/errors'
export type { HandlerOptions, RateLimitOptions, RateLimitAction } from './events/handler-options'
export { EventIterator, type EventIteratorOptions, type OverflowPolicy } from './events/event-iterator'
export * from './events/event-bus'
export { ListenerAdded, ListenerRemoved } from './events/meta-events'
export { deliveryOf } from './events/bridge'
export type { BridgeOptions, BusBridge, BridgeDeadLetter, DeliveryInfo } from './events/bridge'
export type * from './transports/transport'
export {
  EventDecodeError,
  EventRegistryError,
  IdempotencyBusyError,
  TransportClosedError,
  TransportError,
  TransportOptionsError,
  isEventDecodeError,
  isEventRegistryError,
  isIdempotencyBusyError,
  isTransportClosedError,
  isTransportError,
  isTransportOptionsError,
  type DecodeProblem,
} from './transports/errors'
export * from './transports/registry'
export * from './transports/idempotency'
export * from './transports/redis-streams/redis-streams-transport'
export {
  natsTransport,
  type NatsConnectionLike,
  type NatsTransportOptions,
} from './transports/nats/nats-transport'
export * from './transports/nats/nats-seen-set'

export * from './model/model'
export {
  Column,
  Table,
  type ColumnMeta,
  type ColumnOptions,
  type ColumnTypeConstructor,
  type ModelConstructor,
  type ModelMeta,
} from './model/decorators'
export type { CompiledAggregate, Scope, TouchArguments } from './model/scope'
export type {
  Attributes,
  ColumnKey,
  ComparisonOperator,
  ModelClass,
  QueryOptions,
  WhereAttributes,
} from './model/query-types'
export { DEFAULT_STREAM_BATCH_SIZE, type StreamOptions } from './model/row-stream'
export * from './model/errors'
export type { AggregateFunction } from './model/aggregates'
export type { Aggregate, AggregateValue, GroupRow, GroupedScope, HavingOperator } from './model/grouping'
export { toSqlNumber, type SqlNumber, type ColumnKind } from './model/coerce'
export { defaultModelCacheStore, type ModelCacheOptions } from './model/cache'
export {
  configureDatabase,
  withDatabase,
  type AnyKysely,
  type DatabaseOptions,
  type ModelRouter,
} from './model/connection'
export type { CompiledQuery } from './model/kysely'
export { createMysqlDatabase, type MysqlDatabaseOptions, type MysqlPoolOptions } from './model/mysql'
export {
  createPostgresDatabase,
  type PostgresDatabaseOptions,
  type PostgresErrorEmitter,
  type PostgresPoolLike,
  type PostgresPoolOptions,
} from './model/postgres'
export type { Notifiable } from './store/notifier'
export { QueryKeyError, hashKey, isQueryKeyError, type QueryKey, type QueryKeyPart } from './store/key-hash'
export { defaultRetryDelay, type RetryDelayOption, type RetryOption } from './store/retry'
export * from './store/query'
export * from './store/mutation'
export * from './store/paginated'
export * from './store/query-store'
export * from './store/async-store'
export type { QueryFilters, QueryTypeFilter } from './store/filters'
export * from './store/hydration'
export * from './store/distributed/errors'
export type * from './store/distributed/l2-cache'
export type { DistributedStoreOptions } from './store/distributed/layer'
export {
  hydrationCodec,
  redisCache,
  type L2Codec,
  type RedisCacheOptions,
} from './store/distributed/redis-cache'
export type * from './store/distributed/redis-client'
export * from './store/distributed/redis-bus'
export { replaceEqualDeep } from './store/structural-sharing'
export * from './components/errors'
export { maskUrlCredentials } from './core/redact'
export {
  isStandardSchema,
  type StandardSchemaIssue,
  type StandardSchemaResult,
  type StandardSchemaV1,
} from './core/standard-schema'
export {
  CoercionError,
  type Coercer,
  type ComponentConstructor,
  type ComponentParser,
  type ComponentType,
  type JsonFactory,
} from './components/coerce'
export type { ComponentOptions, ValidationResult, WatchCondition } from './components/options'
export type { ComponentDefinition } from './components/metadata'
export * from './components/decorator'
export * from './components/cache'
export { explain, type ComponentExplanation, type ComponentOrigin } from './components/explain'
export * from './components/resolver'
export { asyncAssign, asyncImpute, type AssignOptions, type ComponentFetcher } from './components/assign'
export {
  SECRET_MASK,
  UpdatesOverflowError,
  isUpdatesOverflowError,
  type ComponentAdded,
  type ComponentRemoved,
  type ComponentUpdate,
  type ComponentUpdateError,
  type ComponentValueUpdated,
} from './live/update'
export type { UpdateListener, UpdatesOptions } from './live/update-hub'
export * from './live/component-updated'
export * from './live/watch'
export * from './live/shared-watch'
export * from './sources/watch'
export * from './shard/errors'
export type { ValueComparator } from './shard/merge'
export * from './shard/resolvers'
export { ShardManager, type ShardManagerOptions } from './shard/shard-manager'
export * from './shard/executor'
export * from './shard/across-shards'
export * from './shard/transaction'
export * from './shard/recovery'
export type { ShardTransactionLogOptions } from './shard/transaction-log'
import './shard/model-extension'
export * from './sources/env/env-source'
export * from './sources/file/file-source'
export * from './sources/http/http-source'
export * from './sources/database/database-source'
export * from './sources/consul/consul-source'
export * from './sources/vault/vault-source'
export * from './sources/redis/redis-source'
export * from './sources/etcd/etcd-source'
export * from './sources/redis-stream/redis-stream-source'
export * from './sources/nats/nats-source'
export * from './sources/websocket/websocket-source'
// The per-source watchers and their timing constants are internals (tests import them by
// path); the change-notifier trigger is the one part a user installs.
export { installChangeNotifier, type ChangeNotifierOptions } from './sources/database/database-notifier'
export type {
  ListenClientLike,
  ListenConnection,
  ListenNotification,
} from './sources/database/database-listener'
