/**
 * Infinite lists on top of one query entry: the data is every page loaded so far; a refetch
 * reloads the same number of pages in order (from the first one kept); `fetchNextPage()`
 * appends the next one and `fetchPreviousPage()` prepends the one before, keeping at most
 * `maxPages`. Which page a fetch loads travels with the fetch, so every handle on the key
 * agrees.
 */
import { throwIfAborted } from '../core/abort'
import type { QueryKey } from './key-hash'
import type { Query } from './query'
import type { FetchDirection } from './query-entry'
import type {
  QueryFetcher,
  QueryFunctionContext,
  QueryListener,
  QueryState,
  StoreQueryOptions,
} from './options'

/** The pages loaded so far and the parameter each was loaded with. */
export interface InfiniteData<TPage, TParam> {
  readonly pages: readonly TPage[]
  readonly pageParams: readonly TParam[]
}

/** Loads one page. */
export type PageFetcher<TPage, TParam> = (
  context: QueryFunctionContext & { readonly pageParam: TParam },
) => TPage | PromiseLike<TPage>

/** Options for `store.paginated(key, fetchPage, options)`. */
export interface PaginatedOptions<TPage, TParam> extends StoreQueryOptions {
  /** The parameter of the first page. */
  initialPageParam: TParam
  /** The parameter of the page after `lastPage`, or `undefined`/`null` when there is none. */
  getNextPageParam(lastPage: TPage, pages: readonly TPage[], lastPageParam: TParam): TParam | undefined | null
  /** The parameter of the page before `firstPage`, or `undefined`/`null` when there is none. Defaults to none. */
  getPreviousPageParam?(
    firstPage: TPage,
    pages: readonly TPage[],
    firstPageParam: TParam,
  ): TParam | undefined | null
  /** Most pages kept: loading one more drops one from the other end. Defaults to no limit. */
  maxPages?: number
}

/** Builds (or finds) the entry for a paginated query and returns a handle on it. @internal */
export type PaginatedEntryFactory<TPage, TParam> = (
  fetcher: QueryFetcher<InfiniteData<TPage, TParam>>,
  options: StoreQueryOptions,
) => Query<InfiniteData<TPage, TParam>>

function orNone<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value
}

/**
 * A paginated (infinite) query made by `store.paginated`.
 *
 * @example
 * ```ts
 * import { QueryStore } from 'tributary'
 * const store = new QueryStore()
 * const feed = store.paginated(['feed'], ({ pageParam, signal }) => loadFeed(pageParam, signal), {
 *   initialPageParam: 0,
 *   getNextPageParam: (last) => last.nextCursor,
 *   maxPages: 10,
 * })
 * await feed.fetch()
 * if (feed.hasNextPage) await feed.fetchNextPage()
 * console.log(feed.state.data?.pages.length)
 * ```
 */
export class PaginatedQuery<TPage, TParam> {
  /** The handle on the underlying entry (its data is {@link InfiniteData}). */
  readonly query: Query<InfiniteData<TPage, TParam>>

  /** @internal Created by `QueryStore.paginated`. */
  constructor(
    entry: PaginatedEntryFactory<TPage, TParam>,
    private readonly fetchPage: PageFetcher<TPage, TParam>,
    private readonly options: PaginatedOptions<TPage, TParam>,
  ) {
    const { maxPages } = options
    if (maxPages !== undefined && !(Number.isInteger(maxPages) && maxPages >= 1)) {
      throw new RangeError(
        `QueryStore.paginated: option maxPages must be a whole number >= 1, got ${maxPages}`,
      )
    }
    this.query = entry((context) => this.#load(context), options)
  }

  /** The key of the list. */
  get key(): QueryKey {
    return this.query.key
  }

  /** The state of the list (data holds every page). */
  get state(): QueryState<InfiniteData<TPage, TParam>> {
    return this.query.state
  }

  /** True when `getNextPageParam` gives a parameter for the last loaded page (or nothing is loaded). */
  get hasNextPage(): boolean {
    const data = this.query.data
    if (!data || data.pages.length === 0) return true
    return this.#nextParam(data) !== undefined
  }

  /** True when `getPreviousPageParam` gives a parameter for the first loaded page. */
  get hasPreviousPage(): boolean {
    const data = this.query.data
    if (!data || data.pages.length === 0) return false
    return this.#previousParam(data) !== undefined
  }

  /** Subscribes to the list's state; see `Query.subscribe`. */
  subscribe(listener: QueryListener<InfiniteData<TPage, TParam>>): () => void {
    return this.query.subscribe(listener)
  }

  /** The pages if fresh, else loads (or reloads) them. */
  fetch(): Promise<InfiniteData<TPage, TParam>> {
    return this.query.fetch()
  }

  /** Reloads every loaded page, in order. */
  refetch(): Promise<InfiniteData<TPage, TParam>> {
    return this.query.refetch()
  }

  /** Loads and appends the next page (after any fetch in flight); resolves with every page. */
  fetchNextPage(): Promise<InfiniteData<TPage, TParam>> {
    return this.#fetchPage('forward')
  }

  /** Loads and prepends the page before the first (after any fetch in flight); resolves with every page. */
  fetchPreviousPage(): Promise<InfiniteData<TPage, TParam>> {
    return this.#fetchPage('backward')
  }

  async #fetchPage(direction: 'forward' | 'backward'): Promise<InfiniteData<TPage, TParam>> {
    if (this.query.isFetching) await this.query.fetch().catch(() => undefined)
    const data = this.query.data
    if (!data || data.pages.length === 0)
      return this.query.fetchDirection(undefined, { cancelRefetch: false })
    const more = direction === 'forward' ? this.hasNextPage : this.hasPreviousPage
    if (!more) return data
    return this.query.fetchDirection(direction, { cancelRefetch: false })
  }

  #nextParam(data: InfiniteData<TPage, TParam>): TParam | undefined {
    const last = data.pages.length - 1
    return orNone(
      this.options.getNextPageParam(data.pages[last] as TPage, data.pages, data.pageParams[last] as TParam),
    )
  }

  #previousParam(data: InfiniteData<TPage, TParam>): TParam | undefined {
    const previous = this.options.getPreviousPageParam
    if (previous === undefined) return undefined
    return orNone(previous(data.pages[0] as TPage, data.pages, data.pageParams[0] as TParam))
  }

  async #load(context: QueryFunctionContext): Promise<InfiniteData<TPage, TParam>> {
    const old = this.query.data
    const direction: FetchDirection = context.direction
    if (direction !== undefined && old && old.pages.length > 0) {
      const forward = direction === 'forward'
      const param = forward ? this.#nextParam(old) : this.#previousParam(old)
      if (param === undefined) return old
      const page = await this.fetchPage({ ...context, pageParam: param })
      return this.#trim(
        forward ? [...old.pages, page] : [page, ...old.pages],
        forward ? [...old.pageParams, param] : [param, ...old.pageParams],
        forward,
      )
    }
    const count = Math.max(1, old?.pages.length ?? 0)
    const pages: TPage[] = []
    const pageParams: TParam[] = []
    let param: TParam | undefined =
      old && old.pageParams.length > 0 ? (old.pageParams[0] as TParam) : this.options.initialPageParam
    while (param !== undefined && pages.length < count) {
      // a cancelled (or superseded, or timed-out) refetch stops between pages
      throwIfAborted(context.signal, `query ${this.query.hash}`)
      pages.push(await this.fetchPage({ ...context, pageParam: param }))
      pageParams.push(param)
      param = pages.length < count ? this.#nextParam({ pages, pageParams }) : undefined
    }
    return { pages, pageParams }
  }

  #trim(pages: TPage[], pageParams: TParam[], dropFirst: boolean): InfiniteData<TPage, TParam> {
    const max = this.options.maxPages
    if (max === undefined || pages.length <= max) return { pages, pageParams }
    const extra = pages.length - max
    return dropFirst
      ? { pages: pages.slice(extra), pageParams: pageParams.slice(extra) }
      : { pages: pages.slice(0, max), pageParams: pageParams.slice(0, max) }
  }
}
