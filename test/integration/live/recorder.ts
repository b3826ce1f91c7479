import type { ComponentRequest, SourceWatchOptions } from 'tributary'

/** One thing a source watcher reported. */
export type Reported =
  { kind: 'value'; value: unknown } | { kind: 'removed' } | { kind: 'error'; error: unknown }

/** Records what a watcher reports and waits for conditions on it (real timers). */
export interface Recorder {
  readonly events: Reported[]
  readonly options: SourceWatchOptions
  readonly controller: AbortController
  /** Resolves once `predicate` holds for the events, or rejects after `timeoutMs`. */
  until(predicate: (events: readonly Reported[]) => boolean, timeoutMs?: number): Promise<void>
  /** The values reported so far. */
  values(): unknown[]
}

export function recorder(extra: Partial<SourceWatchOptions> = {}): Recorder {
  const events: Reported[] = []
  const controller = new AbortController()
  const waiters = new Set<() => void>()
  const push = (event: Reported): void => {
    events.push(event)
    for (const waiter of [...waiters]) waiter()
  }
  return {
    events,
    controller,
    options: {
      signal: controller.signal,
      backoff: { initialDelay: 20, maxDelay: 200 },
      ...extra,
      onChange: (value) => push({ kind: 'value', value }),
      onRemove: () => push({ kind: 'removed' }),
      onError: (error) => push({ kind: 'error', error }),
    },
    values: () => events.flatMap((e) => (e.kind === 'value' ? [e.value] : [])),
    until(predicate, timeoutMs = 5_000) {
      if (predicate(events)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(events)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out; events so far: ${JSON.stringify(events.map(describe))}`))
        }, timeoutMs)
        waiters.add(check)
      })
    },
  }
}

function describe(event: Reported): string {
  if (event.kind === 'value') return `value:${JSON.stringify(event.value)}`
  if (event.kind === 'error') return `error:${(event.error as Error).name}:${(event.error as Error).message}`
  return 'removed'
}

export const last = (events: readonly Reported[]): Reported | undefined => events[events.length - 1]

export const isValue =
  (value: unknown) =>
  (events: readonly Reported[]): boolean => {
    const e = last(events)
    return e?.kind === 'value' && JSON.stringify(e.value) === JSON.stringify(value)
  }

export const request = (key: string, extra: Partial<ComponentRequest> = {}): ComponentRequest => ({
  className: 'TestConfig',
  property: 'value',
  key,
  secret: false,
  ...extra,
})

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
