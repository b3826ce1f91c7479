/**
 * What each options object of the query store may hold, checked with the shared checker
 * (`core/option-checks.ts`) when it is given: unknown keys are refused with a suggestion,
 * types and ranges are checked, and the problem is a {@link QueryStoreError} naming the method
 * and the option. Each call's options are checked (a pass walks only the keys given); a
 * paginated query's options, checked there, are not checked again by the `query` it makes.
 */
import { checks, formatOptionProblem, specProblem, type OptionSpec } from '../core/option-checks'
import { QueryStoreError } from './options'

const retry = checks.either(
  'a count >= 0, true, false or a function (failureCount, error) => boolean',
  checks.limit(0),
  checks.boolean,
  checks.function,
)
const retryDelay = checks.either(
  'a number of ms >= 0 or a function (failureCount, error) => number',
  checks.duration({ finite: true }),
  checks.function,
)
const key = checks.either('an array (a query key)', (value) =>
  Array.isArray(value) ? undefined : 'not an array',
)

/** The entry options (`StoreQueryOptions`). */
const QUERY: OptionSpec = {
  staleTime: checks.duration(),
  gcTime: checks.duration(),
  cacheTime: checks.duration(),
  retry,
  retryDelay,
  timeout: checks.duration(),
  structuralSharing: checks.either('true, false or a function', checks.boolean, checks.function),
  meta: checks.object,
  allowUndefined: checks.boolean,
  grace: checks.duration(),
  tags: checks.strings,
  // Checked where it is resolved (it must implement Standard Schema v1).
  schema: true,
}

const STORE: OptionSpec = {
  ...QUERY,
  maxEntries: checks.limit(1),
  onListenerError: checks.function,
  onError: checks.function,
  l2: checks.object,
  bus: checks.object,
  lockLease: checks.duration({ positive: true, finite: true }),
  lockPoll: checks.duration({ positive: true, finite: true }),
  outageRetry: checks.duration({ positive: true, finite: true }),
}

const initialDataUpdatedAt = checks.either(
  'a time in ms since the epoch or a function',
  (value) => (typeof value === 'number' && Number.isFinite(value) ? undefined : 'no'),
  checks.function,
)

const FETCH: OptionSpec = {
  ...QUERY,
  initialData: true,
  initialDataUpdatedAt,
  signal: checks.signal,
}

const ENSURE: OptionSpec = { ...FETCH, revalidateIfStale: checks.boolean }

const HANDLE: OptionSpec = {
  ...QUERY,
  enabled: checks.boolean,
  select: checks.function,
  placeholderData: true,
  initialData: true,
  initialDataUpdatedAt,
}

const PAGINATED: OptionSpec = {
  ...QUERY,
  initialPageParam: true,
  getNextPageParam: checks.function,
  getPreviousPageParam: checks.function,
  maxPages: checks.integer(1),
}

const ASYNC_STORE: OptionSpec = { ...QUERY, store: checks.object, key: checks.function }

const MUTATION: OptionSpec = {
  optimistic: true,
  invalidates: checks.either('an array of query keys or a function', key, checks.function),
  retry,
  retryDelay,
  timeout: checks.duration(),
  mutationKey: key,
  scope: checks.nested({ id: checks.string }),
  onMutate: checks.function,
  onSuccess: checks.function,
  onError: checks.function,
  onSettled: checks.function,
}

const SET_DATA: OptionSpec = {
  updatedAt: (value) =>
    typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a time in ms since the epoch',
}

const FILTERS: OptionSpec = {
  queryKey: key,
  exact: checks.boolean,
  type: checks.oneOf(['all', 'active', 'inactive']),
  stale: checks.boolean,
  fetchStatus: checks.oneOf(['fetching', 'idle']),
  predicate: checks.function,
}

/** The options objects of the store's methods, by the name shown in the error. */
const SPECS = {
  'new QueryStore': STORE,
  query: HANDLE,
  fetch: FETCH,
  prefetch: FETCH,
  ensureQueryData: ENSURE,
  setQueryDefaults: QUERY,
  paginated: PAGINATED,
  createAsyncStore: ASYNC_STORE,
  mutation: MUTATION,
  setData: SET_DATA,
  invalidate: { refetch: checks.oneOf(['observed', 'all', 'none']) },
  invalidateQueries: { refetchType: checks.oneOf(['active', 'inactive', 'all', 'none']) },
  cancelQueries: { revert: checks.boolean },
  refetchQueries: { cancelRefetch: checks.boolean, throwOnError: checks.boolean },
  refetch: { cancelRefetch: checks.boolean },
  'Query.invalidate': { refetch: checks.boolean },
  'Query.setData': SET_DATA,
  mutate: { signal: checks.signal },
  dehydrate: { shouldDehydrateQuery: checks.function },
  redisCache: {
    prefix: checks.string,
    codec: checks.object,
    commandTimeout: checks.duration({ positive: true, finite: true }),
  },
  redisBus: { prefix: checks.string, commandTimeout: checks.duration({ positive: true, finite: true }) },
  filters: FILTERS,
} as const satisfies Record<string, OptionSpec>

/** How an error names the sites that are not a `QueryStore` method (`QueryStore.<site>`) or a `Query.` one. */
const SITE_NAMES: Partial<Record<keyof typeof SPECS, string>> = {
  'new QueryStore': 'new QueryStore(options)',
  createAsyncStore: 'createAsyncStore(fetcher, params, config)',
  filters: 'QueryStore filters',
  refetch: 'Query.refetch',
  mutate: 'Mutation.mutate',
  dehydrate: 'dehydrate(options)',
  redisCache: 'redisCache(options)',
  redisBus: 'redisBus(options)',
}

/** Where options are given: `new QueryStore`, or a method of the store. @internal */
export type StoreOptionsSite = keyof typeof SPECS

/**
 * Options objects a site passes on to another whose spec is narrower (a paginated query's to
 * its entry's `query`): not checked again there. Other objects are checked on every call (the
 * check allocates nothing when they pass; remembering every literal would cost more).
 */
const passedOn = new Map<StoreOptionsSite, WeakSet<object>>()

/**
 * Checks `options` given to `site` (nothing to check when `undefined`); throws a
 * {@link QueryStoreError} naming the site and the option. @internal
 */
export function checkStoreOptions(site: StoreOptionsSite, options: unknown): void {
  // These two take options that are not optional; for the others, none given is fine.
  if (options === undefined && site !== 'setQueryDefaults' && site !== 'paginated') return
  if (options === undefined) throw new QueryStoreError(`QueryStore.${site}: options are required`)
  if (typeof options === 'object' && options !== null && passedOn.get(site)?.has(options) === true) return
  const problem = specProblem(options, SPECS[site])
  if (problem !== undefined) {
    const where = SITE_NAMES[site] ?? (site.startsWith('Query.') ? site : `QueryStore.${site}`)
    throw new QueryStoreError(`${where}: ${formatOptionProblem(problem)}`)
  }
  // Both pass their options on to `query`, whose spec is narrower.
  if (site === 'paginated' || site === 'createAsyncStore') checkStoreOptionsPassed('query', options as object)
}

function checkStoreOptionsPassed(site: StoreOptionsSite, options: object): void {
  let passed = passedOn.get(site)
  if (passed === undefined) passedOn.set(site, (passed = new WeakSet()))
  passed.add(options)
}
