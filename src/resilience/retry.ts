/**
 * Retry with exponential backoff, jitter and a cap. Delays come from cockatiel's backoff
 * generators; the loop is the library's one (`retry-loop.ts`), so that a cancelled caller
 * never sits out a backoff delay.
 */
import {
  decorrelatedJitterGenerator,
  fullJitterGenerator,
  halfJitterGenerator,
  noJitterGenerator,
  type GeneratorFn,
  type IExponentialBackoffOptions,
} from 'cockatiel'
import { abortError, neverAborted } from '../core/abort'
import { hasErrorKind } from '../core/errors'
import { didYouMean } from '../core/suggest'
import type { PolicyWork, ResiliencePolicy } from './policy'
import { runWithRetry } from './retry-loop'

/** How backoff delays are randomised. */
export type JitterKind = 'none' | 'full' | 'half' | 'decorrelated'

/** Options for {@link retryPolicy}. */
export interface RetryOptions {
  /** Retries after the first attempt (so `3` means up to 4 calls). Defaults to 3. */
  attempts?: number
  /** The base delay in ms. Defaults to 100. */
  initialDelay?: number
  /** The cap on any one delay in ms. Defaults to 30,000. */
  maxDelay?: number
  /** The growth factor per retry. Defaults to 2. */
  exponent?: number
  /** How delays are randomised. Defaults to `'decorrelated'` (Polly's recommended jitter). */
  jitter?: JitterKind
  /**
   * Whether to retry after `error` on attempt `attempt` (1 for the first retry). Defaults to
   * retrying every error except an open circuit, a full bulkhead, cancellation and a
   * missing optional package.
   */
  retryIf?: (error: unknown, attempt: number) => boolean
  /** Called before each backoff delay. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/** A retry count (retries after the first attempt) or full {@link RetryOptions}. */
export type RetryInput = number | RetryOptions

const generators: Record<JitterKind, GeneratorFn<unknown>> = {
  none: noJitterGenerator as GeneratorFn<unknown>,
  full: fullJitterGenerator as GeneratorFn<unknown>,
  half: halfJitterGenerator as GeneratorFn<unknown>,
  decorrelated: decorrelatedJitterGenerator as GeneratorFn<unknown>,
}

/** The default retry condition: errors that another attempt cannot fix are not retried. */
export function isRetryableError(error: unknown): boolean {
  return !(
    hasErrorKind(error, 'CircuitOpenError') ||
    hasErrorKind(error, 'BulkheadRejectedError') ||
    hasErrorKind(error, 'AsyncCancelledError') ||
    hasErrorKind(error, 'MissingDependencyError') ||
    (error instanceof Error && error.name === 'AbortError')
  )
}

const RETRY_KEYS = ['attempts', 'initialDelay', 'maxDelay', 'exponent', 'jitter', 'retryIf', 'onRetry']

/**
 * What is wrong with a {@link RetryInput} given by a user (a count, or options with known
 * keys and sane numbers), or `undefined` when it is fine or absent. Every option checker that
 * takes `retry` uses this one. @internal
 */
export function retryInputProblem(retry: unknown): string | undefined {
  if (retry === undefined) return undefined
  if (typeof retry === 'number') {
    return Number.isInteger(retry) && retry >= 0
      ? undefined
      : `\`retry\` must be a whole number >= 0, got ${retry}`
  }
  if (typeof retry !== 'object' || retry === null || Array.isArray(retry))
    return '`retry` must be a count of retries or retry options'
  const options = retry as Record<string, unknown>
  for (const name of Object.keys(options)) {
    if (!RETRY_KEYS.includes(name)) {
      return `unknown retry option ${JSON.stringify(name)}${didYouMean(name, RETRY_KEYS)}`
    }
  }
  const attempts = options.attempts
  if (
    attempts !== undefined &&
    !(typeof attempts === 'number' && Number.isInteger(attempts) && attempts >= 0)
  ) {
    return `\`retry.attempts\` must be a whole number >= 0, got ${String(attempts)}`
  }
  for (const name of ['initialDelay', 'maxDelay'] as const) {
    const value = options[name]
    if (value !== undefined && !(typeof value === 'number' && value >= 0))
      return `\`retry.${name}\` must be a number >= 0`
  }
  const exponent = options.exponent
  if (
    exponent !== undefined &&
    !(typeof exponent === 'number' && exponent >= 1 && Number.isFinite(exponent))
  ) {
    return `\`retry.exponent\` must be a number >= 1, got ${String(exponent)}`
  }
  if (options.jitter !== undefined && !Object.hasOwn(generators, String(options.jitter))) {
    return `\`retry.jitter\` must be 'none', 'full', 'half' or 'decorrelated'`
  }
  for (const name of ['retryIf', 'onRetry'] as const) {
    const value = options[name]
    if (value !== undefined && typeof value !== 'function') return `\`retry.${name}\` must be a function`
  }
  return undefined
}

/** Normalises a {@link RetryInput} to full options. */
export function retryOptions(input: RetryInput): Required<Omit<RetryOptions, 'onRetry'>> & RetryOptions {
  const options = typeof input === 'number' ? { attempts: input } : input
  return {
    attempts: options.attempts ?? 3,
    initialDelay: options.initialDelay ?? 100,
    maxDelay: options.maxDelay ?? 30_000,
    exponent: options.exponent ?? 2,
    jitter: options.jitter ?? 'decorrelated',
    retryIf: options.retryIf ?? isRetryableError,
    onRetry: options.onRetry,
  }
}

/** The delays a retry policy with these options would wait, in order (one per retry). */
export function backoffDelays(input: RetryInput): number[] {
  const options = retryOptions(input)
  const generatorOptions: IExponentialBackoffOptions<unknown> = {
    generator: generators[options.jitter],
    initialDelay: options.initialDelay,
    maxDelay: options.maxDelay,
    exponent: options.exponent,
  }
  const delays: number[] = []
  let state: unknown
  for (let i = 0; i < options.attempts; i++) {
    const [next, nextState] = generatorOptions.generator(state, generatorOptions)
    delays.push(next)
    state = nextState
  }
  return delays
}

/**
 * Retries failed work with exponential backoff. The delay is abandoned as soon as the
 * caller's signal aborts.
 *
 * @example
 * ```ts
 * import { retryPolicy } from 'tributary'
 * const policy = retryPolicy({ attempts: 5, initialDelay: 50, maxDelay: 2_000 })
 * const body = await policy.execute(({ signal }) => fetch(url, { signal }).then((r) => r.text()))
 * ```
 */
export function retryPolicy(input: RetryInput): ResiliencePolicy {
  const problem = retryInputProblem(input)
  if (problem !== undefined || input === undefined) {
    const text = `retryPolicy(input): ${problem ?? '`retry` must be a count of retries or retry options'}`
    throw typeof input === 'number' || /must be a (whole )?number/.test(text)
      ? new RangeError(text)
      : new TypeError(text)
  }
  const options = retryOptions(input)
  const generator = generators[options.jitter]
  const generatorOptions: IExponentialBackoffOptions<unknown> = {
    generator,
    initialDelay: options.initialDelay,
    maxDelay: options.maxDelay,
    exponent: options.exponent,
  }
  const retry = (failures: number, error: unknown): boolean =>
    failures < options.attempts && options.retryIf(error, failures + 1)
  return {
    execute<T>(work: PolicyWork<T>, signal: AbortSignal = neverAborted): Promise<T> {
      if (signal.aborted) return Promise.reject(abortError(signal))
      // The backoff generator's state lives for one execution.
      let state: unknown
      return runWithRetry((attempt, attemptSignal) => work({ signal: attemptSignal(), attempt }), {
        retry,
        retryDelay: (failures, error) => {
          const [wait, nextState] = generator(state, generatorOptions)
          state = nextState
          options.onRetry?.(error, failures + 1, wait)
          return wait
        },
        timeout: Infinity,
        signal,
        operation: 'retryPolicy',
        // The work decides how it ends on abort; the wait between attempts ends at once.
        settleOnAbort: false,
      })
    },
  }
}
