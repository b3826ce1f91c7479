/**
 * Counters and latency percentiles per operation name, cheap enough to stay on by default; each
 * settled operation also goes to OpenTelemetry's `tributary.operation.duration` histogram when
 * the application registered a meter provider (see telemetry.ts).
 */
import { performance } from 'node:perf_hooks'
import { recordOperationDuration } from './telemetry'
import { checkOptions, checks } from './option-checks'

/** Latency figures for one operation, in milliseconds, over the most recent samples. */
export interface LatencyStats {
  /** How many samples the percentiles are computed from (at most the sample size). */
  readonly samples: number
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
}

/** What {@link AsyncMetrics.snapshot} reports for one operation. */
export interface OperationStats {
  /** Operations started. */
  readonly total: number
  /** Operations started and not yet settled. */
  readonly active: number
  /** Operations that settled with a value. */
  readonly succeeded: number
  /** Operations that settled with an error. */
  readonly failed: number
  /** Failed `AsyncResult`s that were garbage-collected without anyone observing the error. */
  readonly unobserved: number
  /** Latency of settled operations. */
  readonly latency: LatencyStats
}

/** A point-in-time copy of every operation's figures. */
export interface MetricsSnapshot {
  /** `Date.now()` when the snapshot was taken. */
  readonly takenAt: number
  /** Per operation name. */
  readonly operations: Readonly<Record<string, OperationStats>>
}

/** Options for {@link AsyncMetrics}. */
export interface AsyncMetricsOptions {
  /** How many recent latencies each operation keeps for percentiles. Defaults to 1024. */
  sampleSize?: number
  /** Whether anything is recorded. Defaults to `true`. */
  enabled?: boolean
}

/** Called with a failure that no one observed before its `AsyncResult` was dropped. */
export type UnobservedErrorListener = (error: unknown, operation: string) => void

/**
 * The live counters for one operation name; obtained from `AsyncMetrics.operation` and cached
 * by callers on hot paths. @internal
 */
export class OperationCounter {
  total = 0
  active = 0
  succeeded = 0
  failed = 0
  unobserved = 0
  private readonly samples: Float64Array
  private next = 0
  private filled = 0

  constructor(
    /** The operation name. */
    readonly name: string,
    sampleSize: number,
    private readonly enabled: () => boolean,
  ) {
    this.samples = new Float64Array(sampleSize)
  }

  /** Marks an operation as started and returns its start time (pass it to {@link end}). */
  begin(): number {
    if (!this.enabled()) return 0
    this.total++
    this.active++
    return performance.now()
  }

  /**
   * Marks an operation started at `startedAt` as settled, at `endedAt` (a `performance.now()`
   * the caller already took) or now.
   */
  end(startedAt: number, failed: boolean, endedAt?: number): void {
    if (startedAt === 0) return
    this.active--
    if (failed) this.failed++
    else this.succeeded++
    const elapsed = (endedAt ?? performance.now()) - startedAt
    this.samples[this.next] = elapsed
    recordOperationDuration(this.name, elapsed / 1000, failed)
    this.next = (this.next + 1) % this.samples.length
    if (this.filled < this.samples.length) this.filled++
  }

  /** The figures recorded so far. */
  stats(): OperationStats {
    const sorted = Array.from(this.samples.subarray(0, this.filled)).sort((a, b) => a - b)
    const pick = (q: number): number =>
      sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0)
    const sum = sorted.reduce((a, b) => a + b, 0)
    return {
      total: this.total,
      active: this.active,
      succeeded: this.succeeded,
      failed: this.failed,
      unobserved: this.unobserved,
      latency: {
        samples: sorted.length,
        min: sorted[0] ?? 0,
        max: sorted[sorted.length - 1] ?? 0,
        mean: sorted.length === 0 ? 0 : sum / sorted.length,
        p50: pick(0.5),
        p90: pick(0.9),
        p99: pick(0.99),
      },
    }
  }
}

/**
 * Counters (total, active, failed) and latency percentiles per operation name. Every
 * `AsyncResult` records into {@link AsyncMetrics.default} unless given another instance.
 *
 * @example
 * ```ts
 * import { AsyncMetrics } from 'tributary'
 * const { operations } = AsyncMetrics.snapshot()
 * console.log(operations['User.asyncCount']?.latency.p99)
 * ```
 */
export class AsyncMetrics {
  /** The instance used when none is given. */
  static readonly default = new AsyncMetrics()

  /** {@link AsyncMetrics.snapshot} of the default instance. */
  static snapshot(): MetricsSnapshot {
    return AsyncMetrics.default.snapshot()
  }

  /** {@link AsyncMetrics.reset} of the default instance. */
  static reset(): void {
    AsyncMetrics.default.reset()
  }

  private readonly counters = new Map<string, OperationCounter>()
  private readonly unobservedListeners = new Set<UnobservedErrorListener>()
  private readonly sampleSize: number
  /** Whether anything is recorded. */
  enabled: boolean
  private readonly isEnabled = (): boolean => this.enabled
  private resets = 0

  constructor(options: AsyncMetricsOptions = {}) {
    checkOptions('new AsyncMetrics(options)', options, {
      sampleSize: checks.integer(1, 1_000_000),
      enabled: checks.boolean,
    })
    this.sampleSize = Math.max(1, options.sampleSize ?? 1024)
    this.enabled = options.enabled ?? true
  }

  /** The counter for `name`, created on first use. @internal */
  operation(name: string): OperationCounter {
    let counter = this.counters.get(name)
    if (!counter) {
      counter = new OperationCounter(name, this.sampleSize, this.isEnabled)
      this.counters.set(name, counter)
    }
    return counter
  }

  /**
   * Records a failure nobody observed (an `AsyncResult` dropped with its error unread) and
   * tells the {@link onUnobservedError} listeners.
   */
  recordUnobserved(operation: string, error: unknown): void {
    this.operation(operation).unobserved++
    for (const listener of this.unobservedListeners) {
      try {
        listener(error, operation)
      } catch {
        // A faulty listener must not break the others.
      }
    }
  }

  /** Listens for failures nobody observed; returns an unsubscribe function. */
  onUnobservedError(listener: UnobservedErrorListener): () => void {
    this.unobservedListeners.add(listener)
    return () => this.unobservedListeners.delete(listener)
  }

  /** A copy of every operation's figures (or only those of `operation`). */
  snapshot(operation?: string): MetricsSnapshot {
    const operations: Record<string, OperationStats> = {}
    for (const [name, counter] of this.counters) {
      if (operation === undefined || operation === name) operations[name] = counter.stats()
    }
    return { takenAt: Date.now(), operations }
  }

  /** Forgets every figure; operations still running are no longer counted. */
  reset(): void {
    this.counters.clear()
    this.resets++
  }

  /**
   * How many times {@link reset} has run. A caller that caches a counter from
   * `operation()` compares this to know when to fetch it again (after a reset the old
   * counter is no longer in any snapshot).
   */
  get generation(): number {
    return this.resets
  }
}
