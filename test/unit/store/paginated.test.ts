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
})
