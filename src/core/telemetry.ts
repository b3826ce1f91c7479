/**
 * OpenTelemetry, when the application has it: spans through `@opentelemetry/api`'s global
 * tracer and an operation-duration histogram through its global meter. `@opentelemetry/api` is
 * an optional peer loaded on first use; without it, or with it but no SDK registered, every
 * helper here costs a couple of property reads and records nothing.
 */
import type {
  Attributes,
  AttributeValue,
  Context,
  Histogram,
  Meter,
  MeterProvider,
  Span,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api'
import { MissingDependencyError } from './errors'
import { requireOptional } from './optional'

type OtelApi = typeof import('@opentelemetry/api')

/** The instrumentation scope every tributary span and metric carries. */
export const INSTRUMENTATION_NAME = 'tributary'

let api: OtelApi | null | undefined
/** `api.trace`, read once (the package's CommonJS exports are getters). */
let traceApi: OtelApi['trace'] | undefined
let noopTracerProvider: TracerProvider | undefined
/**
 * Where every 1.x copy of `@opentelemetry/api` registers its global providers (the peer range is
 * 1.x). Once made, the object stays (unregistering only deletes its properties), so it is kept.
 */
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1')
let registry: { trace?: unknown } | undefined
let tracerFor: { provider: TracerProvider; tracer: Tracer } | undefined
let meterFor: { provider: MeterProvider; histogram: Histogram | undefined } | undefined

function loadApi(): OtelApi | null {
  if (api !== undefined) return api
  try {
    api = requireOptional<OtelApi>('@opentelemetry/api', 'OpenTelemetry')
    noopTracerProvider = new api.ProxyTracerProvider().getDelegate()
    traceApi = api.trace
  } catch (error) {
    if (!(error instanceof MissingDependencyError)) throw error
    api = null
  }
  return api
}

/**
 * The tracer to use now, or `undefined` when no OpenTelemetry SDK is registered (nothing is
 * then allocated for spans). @internal
 */
export function activeTracer(): Tracer | undefined {
  if (api === undefined) loadApi()
  const traces = traceApi
  if (traces === undefined) return undefined
  // The cheap answer first: no global tracer provider registered by any copy of the API.
  if (registry === undefined) {
    registry = (globalThis as { [OTEL_GLOBALS]?: { trace?: unknown } })[OTEL_GLOBALS]
    if (registry === undefined) return undefined
  }
  if (registry.trace === undefined) return undefined
  const global = traces.getTracerProvider() as TracerProvider & { getDelegate?(): TracerProvider }
  const provider = global.getDelegate ? global.getDelegate() : global
  if (provider === noopTracerProvider) return undefined
  if (tracerFor?.provider !== provider)
    tracerFor = { provider, tracer: traces.getTracer(INSTRUMENTATION_NAME) }
  return tracerFor.tracer
}

/** What {@link traced} records about a span. @internal */
export interface SpanSpec {
  /** The span name, e.g. `resolve AppConfig` or `SELECT users`. */
  readonly name: string
  /** Attributes set when the span starts (never a secret value). */
  readonly attributes?: Attributes
  /** `'client'` for calls to a database or remote source; defaults to `'internal'`. */
  readonly kind?: 'client' | 'internal' | 'producer' | 'consumer'
}

function spanKind(otel: OtelApi, kind: SpanSpec['kind']): number {
  return kind === 'client'
    ? otel.SpanKind.CLIENT
    : kind === 'producer'
      ? otel.SpanKind.PRODUCER
      : kind === 'consumer'
        ? otel.SpanKind.CONSUMER
        : otel.SpanKind.INTERNAL
}

/**
 * Starts a span on `tracer` (from {@link activeTracer}) without making it active: a child of
 * `parent` when given, else of the active context. End it with {@link endSpan}. @internal
 */
export function startSpan(tracer: Tracer, spec: SpanSpec, parent?: Context): Span {
  const otel = api as OtelApi
  return tracer.startSpan(
    spec.name,
    { kind: spanKind(otel, spec.kind), attributes: spec.attributes },
    parent ?? otel.context.active(),
  )
}

/** The active context (to parent spans started later, elsewhere). Call only while tracing. @internal */
export function activeContext(): Context {
  return (api as OtelApi).context.active()
}

/** `parent` (the active context by default) with `span` as its current span. @internal */
export function contextWith(span: Span, parent?: Context): Context {
  const otel = api as OtelApi
  return otel.trace.setSpan(parent ?? otel.context.active(), span)
}

/** Runs `fn` with `span` as the active span, so spans started inside are its children. @internal */
export function withSpan<T>(span: Span, fn: () => T): T {
  const otel = api as OtelApi
  return otel.context.with(otel.trace.setSpan(otel.context.active(), span), fn)
}

/**
 * Ends `span`: with `error` (anything but `undefined`), status ERROR, the exception recorded
 * and `error.type` set to the error's name. @internal
 */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) failSpan(span, error)
  span.end()
}

/** Marks `span` failed by `error` (status ERROR, the exception, `error.type`) without ending it. @internal */
export function failSpan(span: Span, error: unknown): void {
  const otel = api as OtelApi
  const described = error instanceof Error ? error : new Error(String(error))
  span.recordException(described)
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: described.message })
  if (described.name) span.setAttribute('error.type', described.name)
}

/**
 * Runs `work` inside an active span (so spans started inside it are its children) and ends the
 * span when `work` settles: an error sets status ERROR and is recorded with its type and
 * message. Without a registered SDK, `work` just runs. @internal
 */
export function traced<T>(spec: SpanSpec, work: (span: Span | undefined) => T): T {
  const tracer = activeTracer()
  if (tracer === undefined) return work(undefined)
  const otel = api as OtelApi
  const kind = spanKind(otel, spec.kind)
  return tracer.startActiveSpan(spec.name, { kind, attributes: spec.attributes }, (span) => {
    const fail = (error: unknown): void => failSpan(span, error)
    let result: T
    try {
      result = work(span)
    } catch (error) {
      fail(error)
      span.end()
      throw error
    }
    if (result !== null && typeof (result as { then?: unknown } | undefined)?.then === 'function') {
      return Promise.resolve(result).then(
        (value) => {
          span.end()
          return value
        },
        (error: unknown) => {
          fail(error)
          span.end()
          throw error
        },
      ) as T
    }
    span.end()
    return result
  })
}

/**
 * Records one settled operation in the `tributary.operation.duration` histogram (seconds, with
 * `tributary.operation` and `tributary.outcome` attributes) when a meter provider is registered.
 * Called by `AsyncMetrics` for every operation it counts. @internal
 */
export function recordOperationDuration(operation: string, seconds: number, failed: boolean): void {
  const otel = api === undefined ? loadApi() : api
  if (otel === null) return
  const provider = otel.metrics.getMeterProvider()
  if (meterFor?.provider !== provider) {
    const meter: Meter = provider.getMeter(INSTRUMENTATION_NAME)
    meterFor = {
      provider,
      // No SDK registered: the no-op meter; record nothing (and allocate nothing) per operation.
      histogram:
        meter === otel.createNoopMeter()
          ? undefined
          : meter.createHistogram('tributary.operation.duration', {
              description:
                'Duration of tributary operations (resolves, model helpers, fan-outs, emits, fetches)',
              unit: 's',
            }),
    }
  }
  meterFor.histogram?.record(seconds, {
    'tributary.operation': operation,
    'tributary.outcome': failed ? 'failure' : 'success',
  })
}

// ---- database spans --------------------------------------------------------------------------

/** The `db.system` value of a tributary dialect (OpenTelemetry's well-known names). */
function dbSystem(dialect: string): string {
  switch (dialect) {
    case 'postgres':
      return 'postgresql'
    case 'sqlite':
      return 'sqlite'
    case 'mysql':
      return 'mysql'
    default:
      return 'other_sql'
  }
}

const namespaces = new WeakMap<object, string>()

/**
 * Names the database `db` connects to, for the `db.namespace` attribute of the OpenTelemetry
 * spans of model helpers and fan-outs on it (Kysely does not tell which database a pool
 * reaches). Without it the attribute is left out. `null` forgets the name.
 *
 * @example
 * ```ts
 * import { setDatabaseNamespace } from 'tributary'
 * const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool({ database: 'app' }) }) })
 * setDatabaseNamespace(db, 'app')
 * ```
 */
export function setDatabaseNamespace(db: object, namespace: string | null): void {
  if (namespace === null) namespaces.delete(db)
  else namespaces.set(db, namespace)
}

/**
 * The OpenTelemetry database attributes of an operation on `db` (semantic conventions for
 * database client spans): `db.system` and its successor `db.system.name`, `db.namespace` when
 * named with {@link setDatabaseNamespace}, `db.operation.name` and `db.collection.name` when
 * given. Never the query text or a parameter value. Call only while tracing. @internal
 */
export function databaseAttributes(
  dialect: string,
  db: object,
  operation?: string,
  collection?: string,
): Record<string, AttributeValue> {
  const system = dbSystem(dialect)
  const attributes: Record<string, AttributeValue> = { 'db.system': system, 'db.system.name': system }
  const namespace = namespaces.get(db)
  if (namespace !== undefined) attributes['db.namespace'] = namespace
  if (operation !== undefined) attributes['db.operation.name'] = operation
  if (collection !== undefined) attributes['db.collection.name'] = collection
  return attributes
}
