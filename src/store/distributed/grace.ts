/**
 * Grace periods: after a failed fetch, the stale L1 value, if younger than `staleTime + grace`,
 * is served and the failure reported (Bentocache's grace). With an L2, the layer also looks there.
 */
import type { QueryEntry } from '../query-entry'
import { StaleValueServedError } from './errors'

/** The L1 value within grace, reported as served; `undefined` when there is none. @internal */
export function staleWithinGrace<T>(
  entry: QueryEntry<T> | undefined,
  limitMs: number,
  error: unknown,
  report: (error: unknown) => void,
): { readonly data: T } | undefined {
  if (entry === undefined || !entry.hasData || entry.data === undefined) return undefined
  const age = Date.now() - entry.state.updatedAt
  if (!(age < limitMs)) return undefined
  report(new StaleValueServedError(entry.hash, 'l1', age, error))
  return { data: entry.data }
}
