// A custom in-memory source that can watch: the contract `watch()` is coded against
// (`WatchableSource`), with every watcher's reports pushed synchronously by `set`, `delete`
// and `fail`, a log of fetches and of watch calls, and a count of the watchers still running.
import {
  SourceNotFoundError,
  delay,
  type ComponentRequest,
  type SourceContext,
  type SourceWatchOptions,
  type SourceWatcher,
  type WatchableSource,
} from 'tributary'

export interface WatchCall {
  readonly key: string
  readonly options: SourceWatchOptions
  stopped: boolean
}

export interface WatchableMemory extends WatchableSource {
  readonly values: Map<string, unknown>
  /** Every `fetch`: key and the `context.resolved` it was given. */
  readonly fetches: Array<{ key: string; resolved: Record<string, unknown> }>
  /** Every `watch` call, in order. */
  readonly calls: WatchCall[]
  /** Watchers not stopped yet. */
  readonly running: number
  /** Delay in ms (honouring the signal) before `fetch` answers. Defaults to 0. */
  fetchDelay: number
  /** Writes a value and reports it to the key's watchers (each write, even a repeated value). */
  set(key: string, value: unknown): void
  /** Deletes a key and reports the removal. */
  delete(key: string): void
  /** Reports `error` to the key's watchers. */
  fail(key: string, error: unknown): void
}

const keyOf = (request: ComponentRequest): string => request.key ?? request.query ?? request.property

/** How the memory watchers behave when they start. */
export interface WatchableMemoryOptions {
  /**
   * Like the built-in watchers: each watcher reads once when it starts (a microtask later) and
   * reports the value it finds (or a removal). Defaults to false.
   */
  readonly firstRead?: boolean
  /** Reported through `onError` synchronously inside `watch()`, as a watcher that cannot arm does. */
  readonly startError?: unknown
}

export function watchableMemory(
  name: string,
  initial: Record<string, unknown> = {},
  behaviour: WatchableMemoryOptions = {},
): WatchableMemory {
  const values = new Map(Object.entries(initial))
  const calls: WatchCall[] = []
  const live = (key: string): WatchCall[] =>
    calls.filter((c) => c.key === key && !c.stopped && !c.options.signal.aborted)
  const source: WatchableMemory = {
    name,
    values,
    fetches: [],
    calls,
    fetchDelay: 0,
    get running() {
      return calls.filter((c) => !c.stopped).length
    },
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      const key = keyOf(request)
      source.fetches.push({ key, resolved: { ...context.resolved } })
      if (source.fetchDelay > 0) await delay(source.fetchDelay, context.signal)
      if (!values.has(key)) throw new SourceNotFoundError({ source: name, key })
      return values.get(key)
    },
    watch(request: ComponentRequest, options: SourceWatchOptions): SourceWatcher {
      const call: WatchCall = { key: keyOf(request), options, stopped: false }
      calls.push(call)
      if (behaviour.startError !== undefined) options.onError(behaviour.startError)
      if (behaviour.firstRead) {
        void Promise.resolve().then(() => {
          if (call.stopped || options.signal.aborted) return
          if (values.has(call.key)) options.onChange(values.get(call.key))
          else options.onRemove()
        })
      }
      return {
        stop() {
          call.stopped = true
          return Promise.resolve()
        },
      }
    },
    set(key, value) {
      values.set(key, value)
      for (const c of live(key)) c.options.onChange(value)
    },
    delete(key) {
      values.delete(key)
      for (const c of live(key)) c.options.onRemove()
    },
    fail(key, error) {
      for (const c of live(key)) c.options.onError(error)
    },
  }
  return source
}

/** Collects what a listener hears, as short strings. */
export function describeUpdate(u: {
  kind: string
  property: string
  oldValue?: unknown
  newValue?: unknown
}): string {
  const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v))
  if (u.kind === 'updated' || u.kind === 'removed')
    return `${u.kind} ${u.property} ${show(u.oldValue)}→${show(u.newValue)}`
  if (u.kind === 'added') return `added ${u.property} ${show(u.newValue)}`
  return `error ${u.property}`
}
