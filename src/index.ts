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
export { AsyncCoordinator, type AsyncOutcome } from './core/coordinator'
export { setLongTimeout, type LongTimeoutOptions, type LongTimer } from './core/timers'
export { setDatabaseNamespace } from './core/telemetry'

export {
  noopPolicy,
  wrap,
  type PolicyContext,
  type PolicyWork,
  type ResiliencePolicy,
} from './resilience/policy'
export {
  BulkheadRejectedError,
  CircuitOpenError,
  isBulkheadRejectedError,
  isCircuitOpenError,
} from './resilience/errors'
export {
  backoffDelays,
  isRetryableError,
  retryPolicy,
  type JitterKind,
  type RetryInput,
  type RetryOptions,
} from './resilience/retry'
export {
  circuitBreakerPolicy,
  isCircuitBreaker,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerState,
} from './resilience/breaker'
export { timeoutPolicy } from './resilience/timeout'
export { bulkheadPolicy, type Bulkhead, type BulkheadOptions } from './resilience/bulkhead'
export { fallbackPolicy, type FallbackOptions, type FallbackValue } from './resilience/fallback'
export { createPolicy, type ResilienceOptions } from './resilience/compose'
export {
  NETWORK_UNAVAILABLE_CODES,
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  SourceUnavailableError,
  isSourceError,
  isSourceNotFoundError,
  isSourcePermissionError,
  isSourceUnavailableError,
  selectField,
  selectJsonField,
  type ComponentRequest,
  type ComponentSource,
  type SourceContext,
  type SourceErrorDetails,
} from './sources/source'
export {
  type BusErrorListener,
  type DeadLetter,
  type DeadLetterListener,
  type DebugAction,
  type DebugLogger,
  type DebugOptions,
  type EmitOutcome,
  type EventClass,
  type EventHandler,
  type HandlerContext,
  type Unsubscribe,
} from './events/types'
export {
  BusClosedError,
  EmitError,
  EventBufferOverflowError,
  EventBusOptionsError,
  HandlerError,
  InvalidEventError,
  RateLimitError,
  isBusClosedError,
  isEmitError,
  isEventBufferOverflowError,
  isEventBusOptionsError,
  isHandlerError,
  isInvalidEventError,
  isRateLimitError,
  type EmitResult,
} from './events/errors'
export type { HandlerOptions, RateLimitOptions, RateLimitAction } from './events/handler-options'
export { EventIterator, type EventIteratorOptions, type OverflowPolicy } from './events/event-iterator'
export {
  AsyncEventBus,
  type AsyncEventBusOptions,
  type CloseOptions,
  type CloseResult,
  type EventClasses,
  type OnceOptions,
  type OncePromise,
} from './events/event-bus'
export { ListenerAdded, ListenerRemoved } from './events/meta-events'
export { deliveryOf } from './events/bridge'
export type { BridgeOptions, BusBridge, BridgeDeadLetter, DeliveryInfo } from './events/bridge'
export {
  type DeadLetterReason,
  type DeliveryMode,
  type OutgoingMessage,
  type StoredDeadLetter,
  type SubscribeSpec,
  type Transport,
  type TransportDelivery,
  type TransportSubscription,
} from './transports/transport'
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
export { EventRegistry, type EventRegistration, type EventRegistrationInput } from './transports/registry'
export {
  idempotent,
  redisSeenSet,
  type IdempotentOptions,
  type RedisSeenSetClient,
  type RedisSeenSetOptions,
  type SeenSet,
} from './transports/idempotency'
export {
  redisStreamsTransport,
  type RedisStreamsBatch,
  type RedisStreamsClient,
  type RedisStreamsReader,
  type RedisStreamsTransportOptions,
} from './transports/redis-streams/redis-streams-transport'
export {
  natsTransport,
  type NatsConnectionLike,
  type NatsTransportOptions,
} from './transports/nats/nats-transport'
export { natsSeenSet, type NatsSeenSetOptions } from './transports/nats/nats-seen-set'

export { Model } from './model/model'
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
export {
  InvalidColumnError,
  InvalidOperatorError,
  InvalidQueryError,
  ModelWithoutDatabaseError,
  RecordNotFoundError,
  isInvalidColumnError,
  isInvalidOperatorError,
  isInvalidQueryError,
  isModelWithoutDatabaseError,
  isRecordNotFoundError,
} from './model/errors'
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
export { Query, type Updater } from './store/query'
export {
  QuerySchemaError,
  QueryStoreError,
  isQuerySchemaError,
  isQueryStoreError,
  type InitialData,
  type QueryFetcher,
  type QueryFunctionContext,
  type QueryHandleOptions,
  type QueryListener,
  type QueryMeta,
  type QueryState,
  type QueryStatus,
  type RefetchOptions,
  type ResolvedQueryOptions,
  type SchemaOutput,
  type StoreQueryOptions,
} from './store/options'
export {
  Mutation,
  MutationHandle,
  type MutationOptions,
  type MutationState,
  type MutationStatus,
  type Mutator,
  type OptimisticUpdate,
} from './store/mutation'
export { PaginatedQuery, type InfiniteData, type PageFetcher, type PaginatedOptions } from './store/paginated'
export {
  QueryStore,
  type EnsureQueryDataOptions,
  type FetchOptions,
  type InvalidateRefetch,
  type MutationFilters,
  type QueryCacheEvent,
  type QueryCacheListener,
  type QueryStoreOptions,
  type RefetchQueriesOptions,
  type RefetchType,
} from './store/query-store'
export {
  createAsyncStore,
  type AsyncStore,
  type AsyncStoreConfig,
  type AsyncStoreFetcher,
  type Readable,
} from './store/async-store'
export type { QueryFilters, QueryTypeFilter } from './store/filters'
export {
  dehydrate,
  hydrate,
  type DehydrateOptions,
  type DehydratedQuery,
  type DehydratedState,
} from './store/hydration'
export {
  DistributedCacheError,
  L2CodecError,
  L2UnavailableError,
  StaleValueServedError,
  isDistributedCacheError,
  isL2CodecError,
  isL2UnavailableError,
  isStaleValueServedError,
} from './store/distributed/errors'
export {
  type BusMessage,
  type InvalidationBus,
  type L2Cache,
  type L2Entry,
  type L2Locks,
} from './store/distributed/l2-cache'
export type { DistributedStoreOptions } from './store/distributed/layer'
export {
  hydrationCodec,
  redisCache,
  type L2Codec,
  type RedisCacheOptions,
} from './store/distributed/redis-cache'
export {
  type RedisBatchLike,
  type RedisBusClient,
  type RedisBusSubscriberLike,
  type RedisCacheClient,
} from './store/distributed/redis-client'
export { redisBus, type RedisBusOptions } from './store/distributed/redis-bus'
export { replaceEqualDeep } from './store/structural-sharing'
export {
  ComponentError,
  ComponentOptionsError,
  ComponentResolutionError,
  ComponentSchemaError,
  isComponentError,
  isComponentOptionsError,
  isComponentResolutionError,
  isComponentSchemaError,
  type ComponentErrorDetails,
  type ComponentOptionsErrorDetails,
  type ComponentSchemaErrorDetails,
} from './components/errors'
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
export { Component, type ComponentDecorator } from './components/decorator'
export {
  ComponentCache,
  defaultComponentCache,
  type CachedComponentValue,
  type ComponentCacheFetchOptions,
  type ComponentCacheOptions,
  type ComponentValueCache,
} from './components/cache'
export { explain, type ComponentExplanation, type ComponentOrigin } from './components/explain'
export {
  fetchAllComponents,
  resolve,
  type ComponentClass,
  type ComponentSources,
  type ResolveOptions,
} from './components/resolver'
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
export { ComponentUpdated, type UpdatePublisher } from './live/component-updated'
export { watch, type LiveComponents, type WatchOptions } from './live/watch'
export { sharedWatchStats, watchShared, type SharedWatchOptions } from './live/shared-watch'
export {
  backoffDelay,
  canWatch,
  createStreamMessageReporter,
  createWatchReporter,
  createWatcherScope,
  pollLoop,
  pollingWatcher,
  readAndReport,
  type PollLoopOptions,
  type SourceWatchOptions,
  type SourceWatcher,
  type StreamMessageReporter,
  type WatchBackoff,
  type WatchReporter,
  type WatchableSource,
  type WatcherScope,
} from './sources/watch'
export {
  PreparedTransactionsDisabledError,
  ShardError,
  ShardMergeLimitError,
  ShardRoutingError,
  ShardTransactionError,
  UnknownShardError,
  UnsupportedCollationError,
  isPreparedTransactionsDisabledError,
  isShardError,
  isShardMergeLimitError,
  isShardRoutingError,
  isShardTransactionError,
  isUnknownShardError,
  isUnsupportedCollationError,
  type ShardFailure,
  type ShardTransactionOutcome,
} from './shard/errors'
export type { ValueComparator } from './shard/merge'
export {
  AsyncShardResolver,
  hashShardResolver,
  rangeShardResolver,
  type AsyncShardResolverOptions,
  type ShardKey,
  type ShardRange,
  type ShardResolver,
} from './shard/resolvers'
export { ShardManager, type ShardManagerOptions } from './shard/shard-manager'
export {
  ShardResults,
  ShardedAsyncExecutor,
  type FanOutOptions,
  type ShardContext,
  type ShardSettlement,
  type StaticFanOutOptions,
} from './shard/executor'
export {
  acrossShards,
  type AcrossShardsOptions,
  type GroupedShardScope,
  type PartialShardAnswer,
  type ShardAggregate,
  type ShardAggregateValue,
  type ShardAnswer,
  type ShardErrorMode,
  type ShardGroupRow,
  type ShardQueryOptions,
  type ShardScope,
  type ShardScopeTransaction,
  type ShardWriteResult,
} from './shard/across-shards'
export {
  shardTransaction,
  type ShardTransaction,
  type ShardTransactionOptions,
  type ShardTransactionProgress,
} from './shard/transaction'
export {
  recoverShardTransactions,
  type RecoverShardTransactionsOptions,
  type ShardRecoveryReport,
} from './shard/recovery'
export type { ShardTransactionLogOptions } from './shard/transaction-log'
import './shard/model-extension'
export { envSource, type EnvSourceOptions } from './sources/env/env-source'
export { fileSource, type FileSourceOptions } from './sources/file/file-source'
export {
  HttpNotFoundError,
  HttpPermissionError,
  HttpStatusError,
  HttpUnavailableError,
  httpSource,
  isHttpStatusError,
  type HttpSourceOptions,
  type HttpSourceStatusError,
} from './sources/http/http-source'
export {
  databaseSource,
  type DatabaseFactory,
  type DatabaseNotifyOptions,
  type DatabaseSourceOptions,
} from './sources/database/database-source'
export {
  consulSource,
  type ConsulClientLike,
  type ConsulGetOptions,
  type ConsulKvEntry,
  type ConsulSourceClientOptions,
  type ConsulSourceOptions,
} from './sources/consul/consul-source'
export {
  vaultSource,
  type VaultClientLike,
  type VaultRequestOptions,
  type VaultSourceClientOptions,
  type VaultSourceOptions,
} from './sources/vault/vault-source'
export {
  redisSource,
  type RedisClientLike,
  type RedisNotifyingClientLike,
  type RedisSourceOptions,
  type RedisSubscriberLike,
  type RedisSubscriberOverrides,
} from './sources/redis/redis-source'
export {
  EtcdOptionsError,
  etcdSource,
  isEtcdOptionsError,
  type EtcdClientLike,
  type EtcdKeyValue,
  type EtcdRangeBuilderLike,
  type EtcdRangeResponse,
  type EtcdResponseHeader,
  type EtcdSourceClientOptions,
  type EtcdSourceOptions,
  type EtcdWatchBuilderLike,
  type EtcdWatchEvent,
  type EtcdWatchResponse,
  type EtcdWatcherLike,
} from './sources/etcd/etcd-source'
export {
  redisStreamSource,
  type RedisStreamClientLike,
  type RedisStreamEntry,
  type RedisStreamRangeLike,
  type RedisStreamReadReply,
  type RedisStreamReaderLike,
  type RedisStreamReaderOverrides,
  type RedisStreamSourceOptions,
} from './sources/redis-stream/redis-stream-source'
export {
  natsStreamSource,
  type NatsStatusLike,
  type NatsStreamConnectionLike,
  type NatsStreamSourceOptions,
} from './sources/nats/nats-source'
export {
  websocketSource,
  type WebSocketClientOptions,
  type WebSocketConstructorLike,
  type WebSocketData,
  type WebSocketLike,
  type WebSocketSourceOptions,
  type WebSocketTarget,
} from './sources/websocket/websocket-source'
// The per-source watchers and their timing constants are internals (tests import them by
// path); the change-notifier trigger is the one part a user installs.
export { installChangeNotifier, type ChangeNotifierOptions } from './sources/database/database-notifier'
export type {
  ListenClientLike,
  ListenConnection,
  ListenNotification,
} from './sources/database/database-listener'
