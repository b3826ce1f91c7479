import { QueryStore } from '../../../src'

interface Page {
  readonly items: number[]
  readonly next: number | null
}

describe('QueryStore.paginated', () => {
  let store: QueryStore
  beforeEach(() => {
    jest.useFakeTimers()
  })
  afterEach(() => {
    store.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.useRealTimers()
  })

  const pageAt = async ({ pageParam }: { pageParam: number }): Promise<Page> => ({
    items: [pageParam * 2, pageParam * 2 + 1],
    next: pageParam < 2 ? pageParam + 1 : null,
  })

  it('loads the first page, appends next pages, and stops at the end', async () => {
    store = new QueryStore()
    const fetchPage = jest.fn(pageAt)
    const feed = store.paginated(['feed'], fetchPage, {
      initialPageParam: 0,
      getNextPageParam: (last) => last.next,
    })
    await feed.fetch()
    expect(feed.state.data?.pages.map((p) => p.items)).toEqual([[0, 1]])
    expect(feed.hasNextPage).toBe(true)
    await feed.fetchNextPage()
    await feed.fetchNextPage()
    expect(feed.state.data?.pageParams).toEqual([0, 1, 2])
    expect(feed.hasNextPage).toBe(false)
    await feed.fetchNextPage()
    expect(fetchPage).toHaveBeenCalledTimes(3)
  })

  it('refetch reloads every loaded page in order', async () => {
    store = new QueryStore()
    let round = 0
    const feed = store.paginated(
      ['feed'],
      async ({ pageParam }: { pageParam: number }) => ({ ...(await pageAt({ pageParam })), round }),
      { initialPageParam: 0, getNextPageParam: (last) => last.next },
    )
    await feed.fetch()
    await feed.fetchNextPage()
    round = 1
    const data = await feed.refetch()
    expect(data.pages.map((p) => [p.items[0], p.round])).toEqual([
      [0, 1],
      [2, 1],
    ])
  })

  it('fetchPreviousPage prepends the page before the first, and hasPreviousPage says when there is one', async () => {
    store = new QueryStore()
    const feed = store.paginated(['feed'], async ({ pageParam }: { pageParam: number }) => pageParam, {
      initialPageParam: 5,
      getNextPageParam: (last) => last + 1,
      getPreviousPageParam: (first) => (first > 4 ? first - 1 : undefined),
    })
    expect(feed.hasPreviousPage).toBe(false) // nothing loaded
    await feed.fetch()
    expect(feed.hasPreviousPage).toBe(true)
    await feed.fetchPreviousPage()
    expect(feed.state.data).toEqual({ pages: [4, 5], pageParams: [4, 5] })
    expect(feed.hasPreviousPage).toBe(false)
    await feed.fetchPreviousPage()
    expect(feed.state.data?.pages).toEqual([4, 5])
  })

  it('maxPages keeps that many pages, dropping from the other end', async () => {
    store = new QueryStore()
    const feed = store.paginated(['feed'], async ({ pageParam }: { pageParam: number }) => pageParam, {
      initialPageParam: 0,
      getNextPageParam: (last) => last + 1,
      getPreviousPageParam: (first) => (first > 0 ? first - 1 : undefined),
      maxPages: 2,
    })
    await feed.fetch()
    await feed.fetchNextPage()
    await feed.fetchNextPage()
    expect(feed.state.data).toEqual({ pages: [1, 2], pageParams: [1, 2] })
    await feed.fetchPreviousPage()
    expect(feed.state.data).toEqual({ pages: [0, 1], pageParams: [0, 1] })
    expect(() =>
      store.paginated(['bad'], async () => 1, {
        initialPageParam: 0,
        getNextPageParam: () => 1,
        maxPages: 0,
      }),
    ).toThrow(/maxPages/)
  })

  it('a refetch starts from the first page kept and reloads as many', async () => {
    store = new QueryStore()
    const loaded: number[] = []
    const feed = store.paginated(
      ['feed'],
      async ({ pageParam }: { pageParam: number }) => {
        loaded.push(pageParam)
        return pageParam
      },
      { initialPageParam: 0, getNextPageParam: (last) => last + 1, maxPages: 2 },
    )
    await feed.fetch()
    await feed.fetchNextPage()
    await feed.fetchNextPage()
    loaded.length = 0
    await feed.refetch()
    expect(loaded).toEqual([1, 2])
  })

  it('a retried page load keeps its direction', async () => {
    store = new QueryStore({ retry: 1, retryDelay: 10 })
    let failNext = false
    const feed = store.paginated(
      ['feed'],
      async ({ pageParam }: { pageParam: number }) => {
        if (failNext) {
          failNext = false
          throw new Error('flaky')
        }
        return pageParam
      },
      { initialPageParam: 0, getNextPageParam: (last) => last + 1 },
    )
    await feed.fetch()
    failNext = true
    const next = feed.fetchNextPage()
    await jest.advanceTimersByTimeAsync(10)
    await expect(next).resolves.toEqual({ pages: [0, 1], pageParams: [0, 1] })
  })

  it('fetches with a null initialPageParam, and a null next param means no next page', async () => {
    store = new QueryStore()
    const fetchPage = jest.fn(async ({ pageParam }: { pageParam: string | null }) => ({ cursor: pageParam }))
    const feed = store.paginated(['feed'], fetchPage, {
      initialPageParam: null as string | null,
      getNextPageParam: () => null,
    })
    await feed.fetch()
    expect(feed.state.data?.pageParams).toEqual([null])
    expect(feed.hasNextPage).toBe(false)
    await feed.fetchNextPage()
    expect(fetchPage).toHaveBeenCalledTimes(1)
  })

  it('a page failing with retry on retries the whole reload, then settles (no endless loop)', async () => {
    store = new QueryStore({ retry: 2, retryDelay: 10 })
    const fetchPage = jest.fn(async ({ pageParam }: { pageParam: number }) => {
      if (pageParam === 1) throw new Error('page 1 is down')
      return pageParam
    })
    const feed = store.paginated(['feed'], fetchPage, { initialPageParam: 0, getNextPageParam: (n) => n + 1 })
    await feed.fetch()
    const next = feed.fetchNextPage().catch((e: unknown) => e)
    await jest.advanceTimersByTimeAsync(100)
    expect(await next).toEqual(new Error('page 1 is down'))
    expect(fetchPage).toHaveBeenCalledTimes(4) // page 0, then page 1 three times
    expect(feed.state).toMatchObject({ status: 'error', data: { pages: [0], pageParams: [0] } })
  })
})
