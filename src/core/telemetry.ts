/**
 * OpenTelemetry, when the application has it: spans through `@opentelemetry/api`'s global
 * tracer and an operation-duration histogram through its global meter. `@opentelemetry/api` is
 * an optional peer loaded on first use; without it, or with it but no SDK registered, every
 * helper here costs a couple of property reads and records nothing.
 */
import type {
  Attributes,
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
let noopTracerProvider: TracerProvider | undefined
let tracerFor: { provider: TracerProvider; tracer: Tracer } | undefined
let meterFor: { provider: MeterProvider; histogram: Histogram | undefined } | undefined

function loadApi(): OtelApi | null {
  if (api !== undefined) return api
  try {
    api = requireOptional<OtelApi>('@opentelemetry/api', 'OpenTelemetry')
    noopTracerProvider = new api.ProxyTracerProvider().getDelegate()
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
  const otel = loadApi()
  if (otel === null) return undefined
  const global = otel.trace.getTracerProvider() as TracerProvider & { getDelegate?(): TracerProvider }
  const provider = global.getDelegate ? global.getDelegate() : global
  if (provider === noopTracerProvider) return undefined
  if (tracerFor?.provider !== provider)
    tracerFor = { provider, tracer: otel.trace.getTracer(INSTRUMENTATION_NAME) }
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

/**
 * Runs `work` inside an active span (so spans started inside it are its children) and ends the
 * span when `work` settles: an error sets status ERROR and is recorded with its type and
 * message. Without a registered SDK, `work` just runs. @internal
 */
export function traced<T>(spec: SpanSpec, work: (span: Span | undefined) => T): T {
  const tracer = activeTracer()
  if (tracer === undefined) return work(undefined)
  const otel = api as OtelApi
  const kind =
    spec.kind === 'client'
      ? otel.SpanKind.CLIENT
      : spec.kind === 'producer'
        ? otel.SpanKind.PRODUCER
        : spec.kind === 'consumer'
          ? otel.SpanKind.CONSUMER
          : otel.SpanKind.INTERNAL
  return tracer.startActiveSpan(spec.name, { kind, attributes: spec.attributes }, (span) => {
    const fail = (error: unknown): void => {
      const described = error instanceof Error ? error : new Error(String(error))
      span.recordException(described)
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: described.message })
      if (described.name) span.setAttribute('error.type', described.name)
    }
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
