/**
 * Mutations: run a write, show its effect at once (optimistic updates), undo exactly that
 * effect if it fails — even while other optimistic updates on the same key are pending — and
 * refetch the queries it invalidates after it succeeds.
 */
import { checkStoreOptions } from './option-specs'
import { linkSignals } from '../core/abort'
import { AsyncCancelledError } from '../core/errors'
import type { QueryKey } from './key-hash'
import { callListener, type Notifiable, type Notifier } from './notifier'
import type { QueryEntry } from './query-entry'
import { runWithRetry } from '../resilience/retry-loop'
import { defaultRetryDelay, type RetryDelayOption, type RetryOption } from './retry'

/** Performs the write. It should stop when `signal` aborts. */
export type Mutator<TVariables, TResult> = (
  variables: TVariables,
  context: { readonly signal: AbortSignal; readonly attempt: number },
) => TResult | PromiseLike<TResult>

/** An optimistic change to the cached data of `key`, applied when `mutate` is called. */
export interface OptimisticUpdate<TVariables, TData> {
  /** The query whose data changes. */
  readonly key: QueryKey
  /** The new data from the old (which is `undefined` when nothing is cached). Must not mutate `old`. */
  readonly update: (old: TData | undefined, variables: TVariables) => TData
}

/** Options for `store.mutation(mutator, options)`. */
export interface MutationOptions<TVariables, TResult, TData = unknown, TContext = unknown> {
  /** Optimistic change(s), applied at once and rolled back exactly on failure. Defaults to none. */
  optimistic?: OptimisticUpdate<TVariables, TData> | ReadonlyArray<OptimisticUpdate<TVariables, TData>>
  /** Key prefixes invalidated (observed ones refetched) after success, awaited by `wait()`. Defaults to none. */
  invalidates?: readonly QueryKey[] | ((result: TResult, variables: TVariables) => readonly QueryKey[])
  /** Retries of a failed write. Defaults to 0. */
  retry?: RetryOption
  /** Delay before a retry, in ms. Defaults to `min(1000 * 2 ** failureCount, 30_000)`. */
  retryDelay?: RetryDelayOption
  /** Per-attempt limit in ms (`AsyncTimeoutError` past it). Defaults to no limit. */
  timeout?: number
  /** Names the mutation for `store.isMutating({ mutationKey })`. Defaults to none. */
  mutationKey?: QueryKey
  /** Calls of mutations with the same scope `id` run one after another, in call order. Defaults to none (concurrent). */
  scope?: { readonly id: string }
  /**
   * Runs before the write (awaited); what it returns is the `context` given to the other
   * callbacks. Throwing fails the call. Defaults to none.
   */
  onMutate?: (variables: TVariables) => TContext | Promise<TContext>
  /** Runs after a successful write (awaited, before `invalidates`). Defaults to none. */
  onSuccess?: (data: TResult, variables: TVariables, context: TContext | undefined) => unknown
  /** Runs after a failed write (awaited), with the error. Defaults to none. */
  onError?: (error: unknown, variables: TVariables, context: TContext | undefined) => unknown
  /** Runs after either (awaited). Defaults to none. */
  onSettled?: (
    data: TResult | undefined,
    error: unknown,
    variables: TVariables,
    context: TContext | undefined,
  ) => unknown
}

/** Where a mutation (or one call of it) is. */
export type MutationStatus = 'idle' | 'pending' | 'success' | 'error'

/** A mutation's state: that of its latest `mutate` call, plus how many are running. */
export interface MutationState<TVariables, TResult> {
  readonly status: MutationStatus
  readonly data: TResult | undefined
  readonly error: unknown
  readonly variables: TVariables | undefined
  /** Calls still running. */
  readonly pending: number
  /** Failed attempts of the latest call (while retrying, or after it failed); 0 after a success. */
  readonly failureCount: number
  /** The error of the latest failed attempt counted in `failureCount`; `null` when it is 0. */
  readonly failureReason: unknown
}

/** What a mutation needs from its store. @internal */
export interface MutationHost {
  entry(key: QueryKey): QueryEntry<unknown>
  /** Counts a call running (+1) or finished (-1) for `isMutating`. */
  running(key: QueryKey | undefined, change: 1 | -1): void
  /** Runs `work` after every earlier call of the scope `id` has settled. */
  inScope<T>(id: string, work: () => Promise<T>): Promise<T>
  invalidate(prefix: QueryKey): Promise<void>
  readonly notifier: Notifier
  onListenerError(error: unknown): void
  /** Aborted when the store closes. */
  readonly signal: AbortSignal
}

const noop = (): void => undefined

/**
 * One call of `mutate`: its status and a `wait()` for its result.
 *
 * @example
 * ```ts
 * const handle = save.mutate({ name: 'Ada' })
 * console.log(handle.status) // 'pending'
 * const saved = await handle.wait()
 * ```
 */
export class MutationHandle<TResult> {
  #status: MutationStatus = 'pending'
  #data: TResult | undefined
  #error: unknown = null
  readonly #promise: Promise<TResult>
  readonly #abort: () => void

  /** @internal */
  constructor(promise: Promise<TResult>, abort: () => void) {
    this.#abort = abort
    this.#promise = promise.then(
      (data) => {
        this.#status = 'success'
        this.#data = data
        return data
      },
      (error: unknown) => {
        this.#status = 'error'
        this.#error = error
        throw error
      },
    )
    this.#promise.catch(noop)
  }

  /** `pending`, then `success` or `error`. */
  get status(): MutationStatus {
    return this.#status
  }

  /** The result, once successful. */
  get data(): TResult | undefined {
    return this.#data
  }

  /** The error of the last attempt, once failed. */
  get error(): unknown {
    return this.#error
  }

  /** Resolves with the result after success (and after invalidated queries refetched); rejects on failure. */
  wait(): Promise<TResult> {
    return this.#promise
  }

  /** Aborts the write's signal; the optimistic change is rolled back. */
  cancel(): void {
    this.#abort()
  }
}

/**
 * A mutation made by `store.mutation(mutator, options)`.
 *
 * @example
 * ```ts
 * import { QueryStore } from 'tributary'
 * const store = new QueryStore()
 * const rename = store.mutation((vars: { id: number; name: string }) => api.rename(vars), {
 *   optimistic: { key: ['user', 1], update: (old: User | undefined, vars) => ({ ...old!, name: vars.name }) },
 *   invalidates: [['users']],
 * })
 * await rename.mutate({ id: 1, name: 'Ada' }).wait() // rolled back if it fails
 * ```
 */
export class Mutation<TVariables, TResult, TData = unknown, TContext = unknown> implements Notifiable {
  #state: MutationState<TVariables, TResult> = {
    status: 'idle',
    data: undefined,
    error: null,
    variables: undefined,
    pending: 0,
    failureCount: 0,
    failureReason: null,
  }
  #notified: MutationState<TVariables, TResult> | undefined
  #latest = 0
  readonly #listeners = new Set<(state: MutationState<TVariables, TResult>) => void>()

  /** @internal Created by `QueryStore.mutation`. */
  constructor(
    private readonly host: MutationHost,
    private readonly mutator: Mutator<TVariables, TResult>,
    private readonly options: MutationOptions<TVariables, TResult, TData, TContext>,
  ) {}

  /** The state of the latest call. */
  get state(): MutationState<TVariables, TResult> {
    return this.#state
  }

  /** Calls `listener` after each batch of state changes; returns the unsubscribe function. */
  subscribe(listener: (state: MutationState<TVariables, TResult>) => void): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  /** Starts the write. Optimistic updates apply before this returns. */
  mutate(variables: TVariables, options?: { signal?: AbortSignal }): MutationHandle<TResult> {
    checkStoreOptions('mutate', options)
    const linked = linkSignals(this.host.signal, options?.signal)
    const call = ++this.#latest
    this.#set({
      status: 'pending',
      data: undefined,
      error: null,
      variables,
      pending: this.#state.pending + 1,
      failureCount: 0,
      failureReason: null,
    })
    const { mutationKey, scope } = this.options
    this.host.running(mutationKey, 1)
    const applied = this.#applyOptimistic(variables)
    const run = (): Promise<TResult> => this.#run(call, variables, linked.signal, applied)
    const promise = scope === undefined ? run() : this.host.inScope(scope.id, run)
    promise.then(
      (data) => this.#finish(call, { status: 'success', data, error: null, variables }),
      (error: unknown) => this.#finish(call, { status: 'error', data: undefined, error, variables }),
    )
    void promise
      .finally(() => {
        linked.dispose()
        this.host.running(mutationKey, -1)
      })
      .catch(noop)
    return new MutationHandle(promise, () =>
      linked.abort(new AsyncCancelledError('QueryStore.mutation', 'cancel() was called')),
    )
  }

  /** Calls the listeners with the latest state (the store's notifier does, once per batch). */
  flushListeners(): void {
    const state = this.#state
    if (state === this.#notified) return
    this.#notified = state
    for (const listener of this.#listeners) callListener(listener, state, this.host.onListenerError)
  }

  #applyOptimistic(variables: TVariables): Array<{ query: QueryEntry<TData>; id: number }> {
    const { optimistic } = this.options
    if (!optimistic) return []
    const updates = (Array.isArray(optimistic) ? optimistic : [optimistic]) as Array<
      OptimisticUpdate<TVariables, TData>
    >
    return updates.map(({ key, update }) => {
      const query = this.host.entry(key) as QueryEntry<TData>
      return { query, id: query.addOptimistic((old) => update(old, variables)) }
    })
  }

  async #run(
    call: number,
    variables: TVariables,
    signal: AbortSignal,
    applied: Array<{ query: QueryEntry<TData>; id: number }>,
  ): Promise<TResult> {
    const { options } = this
    let context: TContext | undefined
    let result: TResult
    try {
      if (signal.aborted) throw signal.reason
      if (options.onMutate) context = await options.onMutate(variables)
      result = await runWithRetry(
        (attempt, attemptSignal) => this.mutator(variables, { signal: attemptSignal(), attempt }),
        {
          retry: options.retry ?? 0,
          retryDelay: options.retryDelay ?? defaultRetryDelay,
          timeout: options.timeout ?? Infinity,
          signal,
          operation: 'QueryStore.mutation',
          onFailure: (failureCount, _willRetry, failureReason) => {
            if (call === this.#latest) this.#set({ ...this.#state, failureCount, failureReason })
          },
        },
      )
      await options.onSuccess?.(result, variables, context)
      await options.onSettled?.(result, null, variables, context)
    } catch (error) {
      for (const { query, id } of applied) query.settleOptimistic(id, false)
      await settleQuietly(() => options.onError?.(error, variables, context))
      await settleQuietly(() => options.onSettled?.(undefined, error, variables, context))
      throw error
    }
    for (const { query, id } of applied) query.settleOptimistic(id, true)
    const invalidates =
      typeof options.invalidates === 'function'
        ? options.invalidates(result, variables)
        : (options.invalidates ?? [])
    await Promise.all(invalidates.map((prefix) => this.host.invalidate(prefix)))
    return result
  }

  #finish(
    call: number,
    state: Omit<MutationState<TVariables, TResult>, 'pending' | 'failureCount' | 'failureReason'>,
  ): void {
    const pending = this.#state.pending - 1
    if (call !== this.#latest) return this.#set({ ...this.#state, pending })
    const failed = state.status === 'error'
    this.#set({
      ...state,
      pending,
      failureCount: failed ? Math.max(1, this.#state.failureCount) : 0,
      failureReason: failed ? (this.#state.failureReason ?? state.error) : null,
    })
  }

  #set(state: MutationState<TVariables, TResult>): void {
    this.#state = state
    if (this.#listeners.size > 0) this.host.notifier.schedule(this)
  }
}

/** Runs a callback of a failed call; its own failure must not hide the call's error. */
async function settleQuietly(callback: () => unknown): Promise<void> {
  try {
    await callback()
  } catch {
    // the call's error is the one reported
  }
}
