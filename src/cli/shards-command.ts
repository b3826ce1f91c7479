/**
 * `tributary shards <module> count <Model>` (or `sum|avg|min|max <Model> <column>`): the merged
 * answer across every shard, and a per-shard breakdown with timings.
 */
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { isInvalidQueryError } from '../model/errors'
import { ShardManager, shardManagerOf } from '../shard/shard-manager'
import type { CliIo } from './io'
import { exportedFunctions, loadModule, type ModuleExports } from './load-module'
import { displayValue, formatTable } from './table'
import { UsageError } from './usage-error'

/** The usage text of `tributary shards`. */
export const SHARDS_USAGE = `Usage: tributary shards <module> count <Model>
       tributary shards <module> sum|avg|min|max <Model> <column>

Loads <module> (a .ts or .js file exporting the model class, attached to a ShardManager
with \`Model.use(shards)\` or \`shards.attach(Model)\`; exporting the manager as well works),
runs the aggregate on every shard at once, and prints the merged answer (an average is
Σsum/Σcount, never a mean of means) with a per-shard breakdown and timings.

Options:
  --json          print JSON instead of a table
  -h, --help      show this help

Exit codes: 0 answered, 1 a shard failed (each failure printed), 2 bad arguments.`

const OPERATIONS = {
  count: 'asyncCount',
  sum: 'asyncSum',
  avg: 'asyncAvg',
  min: 'asyncMin',
  max: 'asyncMax',
} as const
type Operation = keyof typeof OPERATIONS

type Helper = (column?: string) => PromiseLike<unknown>
type ShardedModel = Record<string, unknown> & {
  readonly name: string
  acrossShards(): Record<string, Helper>
}

interface ShardRow {
  readonly shard: string
  readonly value?: unknown
  readonly rows?: unknown
  readonly ms: number
  readonly error?: unknown
}

/** Runs `tributary shards`; returns the exit code. */
export async function shardsCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args)
  if (values.help) {
    io.out(`${SHARDS_USAGE}\n`)
    return 0
  }
  const [path, operation, modelName, column, ...extra] = positionals
  if (path === undefined) throw new UsageError('shards: missing <module>', SHARDS_USAGE)
  if (operation === undefined || !(operation in OPERATIONS)) {
    throw new UsageError(
      `shards: ${operation === undefined ? 'missing the aggregate' : `unknown aggregate ${operation}`} (count, sum, avg, min or max)`,
      SHARDS_USAGE,
    )
  }
  const op = operation as Operation
  if (modelName === undefined) throw new UsageError(`shards: missing <Model> after ${op}`, SHARDS_USAGE)
  if (op === 'count' && column !== undefined) {
    throw new UsageError(`shards: count takes no column (got ${column})`, SHARDS_USAGE)
  }
  if (op !== 'count' && column === undefined) {
    throw new UsageError(`shards: ${op} needs a <column>`, SHARDS_USAGE)
  }
  if (extra.length > 0) throw new UsageError(`shards: unexpected argument ${extra[0]}`, SHARDS_USAGE)

  const loaded = await loadModule(path)
  const model = findModel(loaded, path, modelName)
  const manager = findManager(loaded, model, path)
  const helper = OPERATIONS[op]
  const run = (): PromiseLike<unknown> => (model[helper] as Helper).call(model, column)
  try {
    const timed = async <T>(work: () => PromiseLike<T>): Promise<{ value: T; ms: number }> => {
      const started = performance.now()
      const value = await work()
      return { value, ms: performance.now() - started }
    }
    const perShard = manager.names.map(async (shard): Promise<ShardRow> => {
      const started = performance.now()
      try {
        const [value, rows] = await manager.withShard(shard, () =>
          Promise.all([run(), (model.asyncCount as Helper).call(model)]),
        )
        return { shard, value, rows, ms: performance.now() - started }
      } catch (error) {
        return { shard, error, ms: performance.now() - started }
      }
    })
    const [merged, ...rows] = await Promise.allSettled([
      timed(() => model.acrossShards()[helper]!(column)),
      ...perShard,
    ])
    const shardRows = rows.map((r) => (r as PromiseFulfilledResult<ShardRow>).value)
    const failure = merged.status === 'rejected' ? (merged.reason as unknown) : undefined
    if (isInvalidQueryError(failure)) {
      throw new UsageError(`shards: ${(failure as Error).message}`, SHARDS_USAGE)
    }
    const label = op === 'count' ? 'count(*)' : `${op}(${column})`
    const answer = merged.status === 'fulfilled' ? merged.value : undefined
    const meanOfMeans = op === 'avg' ? meanOf(shardRows) : undefined
    if (values.json) {
      io.out(
        `${JSON.stringify(
          {
            model: model.name,
            aggregate: label,
            merged: answer && { value: answer.value, ms: round(answer.ms) },
            ...(meanOfMeans === undefined ? {} : { meanOfShardMeans: meanOfMeans }),
            shards: shardRows.map((r) =>
              r.error === undefined
                ? { shard: r.shard, value: r.value, rows: r.rows, ms: round(r.ms) }
                : { shard: r.shard, error: messageOf(r.error), ms: round(r.ms) },
            ),
          },
          (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
          2,
        )}\n`,
      )
    } else {
      const table = formatTable(
        [
          ...shardRows,
          { shard: 'merged', value: answer?.value, rows: sumRows(shardRows), ms: answer?.ms ?? 0 },
        ],
        [
          { heading: 'shard', cell: (r) => r.shard },
          {
            heading: label,
            cell: (r) => (r.error === undefined ? displayValue(r.value) : 'failed'),
            right: true,
          },
          { heading: 'rows', cell: (r) => (r.rows === undefined ? '' : displayValue(r.rows)), right: true },
          { heading: 'ms', cell: (r) => r.ms.toFixed(1), right: true },
        ],
        { colour: io.colour },
      )
      io.out(`${model.name} across ${manager.names.length} shards: ${label}\n${table}`)
      if (meanOfMeans !== undefined && answer) {
        io.out(
          `\nexact average (Σsum/Σcount): ${displayValue(answer.value)}; ` +
            `mean of the shard averages would be ${displayValue(meanOfMeans)} (wrong unless every shard has as many rows)\n`,
        )
      }
    }
    const failed = shardRows.filter((r) => r.error !== undefined)
    for (const r of failed) io.err(`shard ${r.shard} failed: ${messageOf(r.error)}\n`)
    if (failure !== undefined) io.err(`merged ${label} failed: ${messageOf(failure)}\n`)
    return failed.length > 0 || failure !== undefined ? 1 : 0
  } finally {
    const dispose = (loaded.dispose ?? loaded.close) as (() => unknown) | undefined
    if (typeof dispose === 'function') await dispose()
    else await manager.close()
  }
}

function findModel(moduleExports: ModuleExports, path: string, name: string): ShardedModel {
  const models = exportedFunctions(moduleExports).filter(
    ([, value]) => typeof (value as unknown as { acrossShards?: unknown }).acrossShards === 'function',
  )
  const found = models.find(([exportName, value]) => exportName === name || value.name === name)
  if (!found) {
    throw new UsageError(
      `${path} exports no model ${name}` +
        (models.length ? ` (found: ${models.map(([n]) => n).join(', ')})` : ''),
      SHARDS_USAGE,
    )
  }
  return found[1] as unknown as ShardedModel
}

function findManager(moduleExports: ModuleExports, model: ShardedModel, path: string): ShardManager<unknown> {
  const attached = shardManagerOf(model as unknown as abstract new () => object)
  if (attached) return attached
  const exported = Object.values(moduleExports).find(
    (v): v is ShardManager<unknown> => v instanceof ShardManager,
  )
  if (exported) return exported.attach(model as unknown as abstract new () => object)
  throw new UsageError(
    `${path}: model ${model.name} is not attached to a ShardManager (call ${model.name}.use(shards) or export the manager)`,
    SHARDS_USAGE,
  )
}

function meanOf(rows: readonly ShardRow[]): number | undefined {
  const means = rows.map((r) => r.value).filter((v): v is number => typeof v === 'number')
  return means.length === 0 ? undefined : means.reduce((a, b) => a + b, 0) / means.length
}

function sumRows(rows: readonly ShardRow[]): number | undefined {
  let total = 0
  for (const r of rows) {
    if (r.error !== undefined) return undefined
    total += Number(r.rows)
  }
  return total
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (error) {
    throw new UsageError(`shards: ${(error as Error).message}`, SHARDS_USAGE)
  }
}
