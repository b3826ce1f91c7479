// OpenTelemetry through @opentelemetry/api, checked with the SDK's in-memory exporters: nothing
// is recorded before an SDK is registered; afterwards `resolve` makes a span with a client
// child per component fetch (never a secret value), failures set status ERROR, and every
// settled AsyncMetrics operation lands in the tributary.operation.duration histogram.
import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { Component, resolve } from '../components/tributary'
import { memorySource } from '../components/support'
import { AsyncMetrics } from '../../../src/core/metrics'
import { activeTracer, traced } from '../../../src/core/telemetry'

class Telemetry {
  @Component({ fetchFrom: 'mem', key: 'host' }) host!: string
  @Component({ fetchFrom: 'mem', key: 'token', secret: true }) token!: string
}

class Broken {
  @Component({ fetchFrom: 'mem', key: 'missing' }) missing!: string
}

describe('OpenTelemetry', () => {
  it('records nothing and starts no span while no SDK is registered', async () => {
    expect(activeTracer()).toBeUndefined()
    let seen: unknown = 'not called'
    const value = traced({ name: 'x' }, (span) => {
      seen = span
      return 42
    })
    expect(value).toBe(42)
    expect(seen).toBeUndefined()
    await expect(
      resolve(Telemetry, { sources: [memorySource('mem', { host: 'h', token: 't' })] }),
    ).resolves.toMatchObject({ host: 'h' })
  })

  describe('with an SDK registered', () => {
    const spans = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 3_600_000,
    })
    const meterProvider = new MeterProvider({ readers: [reader] })
    const contextManager = new AsyncLocalStorageContextManager()

    beforeAll(() => {
      context.setGlobalContextManager(contextManager.enable())
      trace.setGlobalTracerProvider(tracerProvider)
      metrics.setGlobalMeterProvider(meterProvider)
    })
    afterAll(async () => {
      await meterProvider.shutdown()
      await tracerProvider.shutdown()
      trace.disable()
      metrics.disable()
      context.disable()
    })
    beforeEach(() => spans.reset())

    it('resolve makes one span with a client child per component fetch, without secret values', async () => {
      const config = await resolve(Telemetry, {
        sources: [memorySource('mem', { host: 'db.internal', token: 's3cr3t-token' })],
      })
      expect(config.token).toBe('s3cr3t-token')
      const finished = spans.getFinishedSpans()
      const root = finished.find((s) => s.name === 'resolve Telemetry')
      expect(root).toBeDefined()
      const fetches = finished.filter((s) => s.name === 'fetch mem')
      expect(fetches.map((s) => s.attributes['tributary.component.property']).sort()).toEqual([
        'host',
        'token',
      ])
      for (const span of fetches) {
        expect(span.parentSpanContext?.spanId).toBe(root?.spanContext().spanId)
        expect(span.kind).toBe(2) // SpanKind.CLIENT
        expect(span.attributes).toMatchObject({
          'tributary.component.class': 'Telemetry',
          'tributary.source': 'mem',
        })
      }
      expect(JSON.stringify(finished.map((s) => [s.name, s.attributes, s.events]))).not.toContain(
        's3cr3t-token',
      )
    })

    it('a failed fetch and a failed resolve end with status ERROR and the error type', async () => {
      await expect(resolve(Broken, { sources: [memorySource('mem', {})] })).rejects.toThrow(/Broken/)
      const finished = spans.getFinishedSpans()
      const fetch = finished.find((s) => s.name === 'fetch mem')
      const root = finished.find((s) => s.name === 'resolve Broken')
      expect(fetch?.status.code).toBe(2) // SpanStatusCode.ERROR
      expect(fetch?.attributes['error.type']).toBe('SourceNotFoundError')
      expect(root?.status.code).toBe(2)
      expect(root?.attributes['error.type']).toBe('ComponentResolutionError')
    })

    it('every settled AsyncMetrics operation is recorded in tributary.operation.duration', async () => {
      const counter = new AsyncMetrics().operation('Telemetry.test')
      counter.end(counter.begin(), false)
      counter.end(counter.begin(), true)
      await reader.forceFlush()
      const points = metricExporter
        .getMetrics()
        .flatMap((r) => r.scopeMetrics)
        .filter((s) => s.scope.name === 'tributary')
        .flatMap((s) => s.metrics)
        .filter((m) => m.descriptor.name === 'tributary.operation.duration')
        .flatMap(
          (m) => m.dataPoints as ReadonlyArray<{ attributes: Record<string, unknown>; value: unknown }>,
        )
        .filter((p) => p.attributes['tributary.operation'] === 'Telemetry.test')
      expect(points.map((p) => p.attributes['tributary.outcome']).sort()).toEqual(['failure', 'success'])
      for (const point of points) expect((point.value as { count: number }).count).toBe(1)
    })
  })

  it('after the provider is disabled no tracer again; registered anew, a tracer again', () => {
    // The global registry is kept once seen: disabling must still turn tracing off.
    expect(activeTracer()).toBeUndefined()
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    trace.setGlobalTracerProvider(provider)
    try {
      expect(activeTracer()).toBeDefined()
      traced({ name: 'again', attributes: { 'tributary.test': 1 } }, () => undefined)
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['again'])
    } finally {
      trace.disable()
    }
    expect(activeTracer()).toBeUndefined()
  })
})
