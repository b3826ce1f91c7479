/**
 * The merge of a cross-shard `groupBy(...).having(...).orderBy(...).limit(...).asyncAggregate`:
 * the shards send one row per group with partial aggregates (no `having`, order or limit,
 * which are only true of whole groups); rows of equal group keys are merged exactly, then
 * `having` is applied, the groups ordered (ties by the group columns) and paged. @internal
 */
import { readValue, type SqlNumber } from '../model/coerce'
import { type ColumnMeta } from '../model/decorators'
import { type AggregateSpec, type GroupingState, type GroupTarget, type GroupTerms } from '../model/grouping'
import {
  avgExact,
  compareExact,
  readExactSum,
  sumExact,
  type KeyCodec,
  nullsSortLargest,
  type MergeDialect,
} from './merge-keys'

type Row = Record<string, unknown>

/** How to read and merge the shards' grouped rows. @internal */
export interface GroupMergePlan {
  readonly state: GroupingState
  readonly specs: readonly AggregateSpec[]
  readonly terms: GroupTerms
  /** Per group column: its codec, and the alias of its key (`k<i>` for an exact epoch, else `g<i>`). */
  readonly groupKeys: ReadonlyArray<{ readonly codec: KeyCodec; readonly alias: string }>
  /**
   * Per min/max aggregate (by `spec.i`): the codec comparing its keys, and the alias suffix of
   * the key (`k` for an exact epoch of a PostgreSQL timestamp, else `m`, the value itself).
   */
  readonly extremes: ReadonlyMap<number, { readonly codec: KeyCodec; readonly key: 'm' | 'k' }>
  readonly dialect: MergeDialect
}

interface Group {
  readonly keys: unknown[]
  readonly first: Row
  readonly rows: Row[]
}

interface Merged {
  readonly keys: unknown[]
  readonly groupValues: unknown[]
  /** Each aggregate as read (a sum over no value is `null` here). */
  readonly values: unknown[]
  /** Each aggregate exactly, as the database orders and compares it in `having`. */
  readonly exact: unknown[]
}

function identityOf(keys: readonly unknown[], plan: GroupMergePlan): string {
  return JSON.stringify(
    keys.map((k, i) =>
      k === null ? null : (plan.groupKeys[i] as GroupMergePlan['groupKeys'][number]).codec.identity(k),
    ),
    (_, v: unknown) => (typeof v === 'bigint' ? `\u0000big:${v}` : v),
  )
}

/** One merged aggregate: as read, and exactly. */
function aggregate(spec: AggregateSpec, rows: readonly Row[], plan: GroupMergePlan): [unknown, unknown] {
  const at = (suffix: string) => rows.map((r) => r[`a${spec.i}${suffix}`])
  switch (spec.fn) {
    case 'count': {
      const n = at('n').reduce((total: number, v) => total + Number(v ?? 0), 0)
      return [n, n]
    }
    case 'sum': {
      const exact = sumExact(at('s'))
      return [readExactSum(exact), exact]
    }
    case 'avg': {
      const { value, exact } = avgExact(at('s'), at('n'), plan.dialect)
      return [value, exact]
    }
    default: {
      const { codec, key: suffix } = plan.extremes.get(spec.i) as { codec: KeyCodec; key: 'm' | 'k' }
      let best: Row | undefined
      let bestKey: unknown
      for (const row of rows) {
        const raw = row[`a${spec.i}${suffix}`]
        if (raw === null || raw === undefined) continue
        const key = codec.key(raw)
        const c = best === undefined ? 0 : codec.compare(key, bestKey)
        if (best === undefined || (spec.fn === 'min' ? c < 0 : c > 0)) {
          best = row
          bestKey = key
        }
      }
      const value = readValue((spec.col as ColumnMeta).kind, best?.[`a${spec.i}m`])
      return [value, best === undefined ? null : bestKey]
    }
  }
}

/** What `having` and the order compare: an aggregate exactly, or a group column as read. */
function valueOf(target: GroupTarget, group: Merged): unknown {
  return 'spec' in target ? group.exact[target.spec.i] : group.groupValues[target.group]
}

function holds(value: unknown, operator: string, expected: unknown): boolean {
  if (operator === 'is') return value === null
  if (operator === 'is not') return value !== null
  if (value === null || value === undefined) return false
  const c = compareExact(value, expected)
  switch (operator) {
    case '=':
      return c === 0
    case '!=':
    case '<>':
      return c !== 0
    case '<':
      return c < 0
    case '<=':
      return c <= 0
    case '>':
      return c > 0
    default:
      return c >= 0
  }
}

/** Merges the grouped rows of every shard. @internal */
export function mergeGroupedRows(lists: readonly (readonly Row[])[], plan: GroupMergePlan): Row[] {
  const { state, specs, terms } = plan
  const groups = new Map<string, Group>()
  for (const list of lists) {
    for (const row of list) {
      const keys = plan.groupKeys.map(({ codec, alias }) => {
        const raw = row[alias]
        return raw === null || raw === undefined ? null : codec.key(raw)
      })
      const id = identityOf(keys, plan)
      let group = groups.get(id)
      if (!group) groups.set(id, (group = { keys, first: row, rows: [] }))
      group.rows.push(row)
    }
  }
  let merged: Merged[] = []
  for (const g of groups.values()) {
    const values: unknown[] = []
    const exact: unknown[] = []
    for (const s of specs) [values[s.i], exact[s.i]] = aggregate(s, g.rows, plan)
    merged.push({
      keys: g.keys,
      groupValues: state.groups.map((c, i) => readValue(c.kind, g.first[`g${i}`])),
      values,
      exact,
    })
  }
  if (terms.having.length > 0) {
    merged = merged.filter((g) => terms.having.every((h) => holds(valueOf(h.target, g), h.operator, h.value)))
  }
  const nullsLargest = nullsSortLargest(plan.dialect)
  merged.sort((a, b) => {
    for (const o of terms.order) {
      const group = 'group' in o.target ? o.target.group : undefined
      const x = group === undefined ? valueOf(o.target, a) : a.keys[group]
      const y = group === undefined ? valueOf(o.target, b) : b.keys[group]
      const xNull = x === null || x === undefined
      const yNull = y === null || y === undefined
      let c: number
      if (xNull || yNull) {
        c = xNull && yNull ? 0 : xNull ? 1 : -1
        if (!nullsLargest) c = -c
      } else if (group !== undefined) {
        c = (plan.groupKeys[group] as GroupMergePlan['groupKeys'][number]).codec.compare(x, y)
      } else c = compareExact(x, y)
      if (c !== 0) return o.direction === 'desc' ? -c : c
    }
    return 0
  })
  const offset = state.offset ?? 0
  const page = merged.slice(offset, state.limit === undefined ? undefined : offset + state.limit)
  return page.map((g) => {
    const out: Row = {}
    state.groups.forEach((c, i) => (out[c.property] = g.groupValues[i]))
    for (const s of specs) {
      const v = g.values[s.i]
      out[s.name] = s.fn === 'sum' && v === null ? 0 : (v as SqlNumber | null)
    }
    return out
  })
}
