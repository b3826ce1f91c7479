/**
 * Infinite lists on top of one query entry: the data is every page loaded so far; a refetch
 * reloads the same number of pages in order; `fetchNextPage()` appends the next one.
 */
import type { QueryKey } from './key-hash'
import type {
  Query,
  QueryFetcher,
  QueryFunctionContext,
  QueryListener,
  StoreQueryOptions,
  QueryState,
} from './query'

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
}

type Mode = 'all' | 'next'

/** Builds (or finds) the entry for a paginated query. @internal */
export type PaginatedEntryFactory<TPage, TParam> = (
  fetcher: QueryFetcher<InfiniteData<TPage, TParam>>,
  options: StoreQueryOptions,
) => Query<InfiniteData<TPage, TParam>>

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
 * })
 * await feed.fetch()
 * if (feed.hasNextPage) await feed.fetchNextPage()
 * console.log(feed.state.data?.pages.length)
 * ```
 */
export class PaginatedQuery<TPage, TParam> {
  /** The underlying entry (its data is {@link InfiniteData}). */
  readonly query: Query<InfiniteData<TPage, TParam>>
  #requested: Mode = 'all'
  #mode: Mode = 'all'

  /** @internal Created by `QueryStore.paginated`. */
  constructor(
    entry: PaginatedEntryFactory<TPage, TParam>,
    private readonly fetchPage: PageFetcher<TPage, TParam>,
    private readonly options: PaginatedOptions<TPage, TParam>,
  ) {
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
    this.#requested = 'all'
    return this.query.refetch()
  }

  /** Loads and appends the next page (after any fetch in flight); resolves with every page. */
  async fetchNextPage(): Promise<InfiniteData<TPage, TParam>> {
    if (this.query.isFetching) await this.query.fetch().catch(() => undefined)
    const data = this.query.data
    if (data && data.pages.length > 0 && !this.hasNextPage) return data
    this.#requested = data && data.pages.length > 0 ? 'next' : 'all'
    return this.query.refetch({ cancelRefetch: false })
  }

  #nextParam(data: InfiniteData<TPage, TParam>): TParam | undefined {
    const last = data.pages.length - 1
    const param = this.options.getNextPageParam(
      data.pages[last] as TPage,
      data.pages,
      data.pageParams[last] as TParam,
    )
    return param === null ? undefined : param
  }

  async #load(context: QueryFunctionContext): Promise<InfiniteData<TPage, TParam>> {
    if (context.attempt === 0) {
      this.#mode = this.#requested
      this.#requested = 'all'
    }
    const old = this.query.data
    if (this.#mode === 'next' && old && old.pages.length > 0) {
      const param = this.#nextParam(old)
      if (param === undefined) return old
      const page = await this.fetchPage({ ...context, pageParam: param })
      return { pages: [...old.pages, page], pageParams: [...old.pageParams, param] }
    }
    const count = Math.max(1, old?.pages.length ?? 0)
    const pages: TPage[] = []
    const pageParams: TParam[] = []
    let param: TParam | undefined = this.options.initialPageParam
    while (param !== undefined && pages.length < count) {
      pages.push(await this.fetchPage({ ...context, pageParam: param }))
      pageParams.push(param)
      param = pages.length < count ? this.#nextParam({ pages, pageParams }) : undefined
    }
    return { pages, pageParams }
  }
}
