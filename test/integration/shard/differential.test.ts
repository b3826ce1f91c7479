// A seeded differential test: random queries (where with every operator, aggregates, groupBy
// with having/order/limit, orderBy with ties and NULLs, offsets past the end, count distinct,
// pluck/pick/find, then writes across shards and more queries) over skewed data with NULLs, negatives, decimals, bigints past 2^53, text
// past U+FFFF and sub-millisecond timestamps. Every cross-shard answer must equal — value and
// type — the model's answer on one database holding every row, and the model's scalar answers
// must equal that database's own SQL. Runs on SQLite, PostgreSQL and MySQL/MariaDB. The seed
// is printed; set TRIBUTARY_DIFF_SEED to replay (and DIFF_SHOW=n to see n differences).
import { sql, type Kysely } from 'kysely'
import {
  Column,
  hashShardResolver,
  Model,
  ShardManager,
  Table,
  toSqlNumber,
  type Scope,
  type ShardScope,
} from 'tributary'
import { testDialects } from '../../support/services'
import { createShardedTables, type ShardedTables } from './sharded-tables'

const SEED = Number(process.env.TRIBUTARY_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31))
const ROWS = 1_500
const QUERIES = 260
const WRITES = 3
const SHARDS = ['s0', 's1', 's2', 's3']

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TEXTS = [
  '😀',
  '😀a',
  'ＡＢ',
  'Ａ',
  '𝒜',
  '\uE000',
  '\uFFFD',
  'a',
  'A',
  'b',
  'Z',
  '',
  ' ',
  'é',
  'e\u0301',
  'ﬀ',
  '🎉🎉',
]

type Col = 'id' | 'shardKey' | 'txt' | 'n' | 'big' | 'dec' | 'at' | 'flag'
const COLUMNS: Col[] = ['id', 'shardKey', 'txt', 'n', 'big', 'dec', 'at', 'flag']
const NUMERIC: Col[] = ['n', 'big', 'dec']
const GROUPABLE: Col[] = ['txt', 'flag', 'shardKey', 'at', 'dec', 'n']
const SQL_NAME: Record<Col, string> = {
  id: 'id',
  shardKey: 'shard_key',
  txt: 'txt',
  n: 'n',
  big: 'big',
  dec: 'dec',
  at: 'at',
  flag: 'flag',
}

describe.each(testDialects(['sqlite', 'postgres', 'mysql']))(
  'differential on %s: cross-shard and model answers equal one database',
  (dialect) => {
    @Table('facts')
    class Fact extends Model {
      @Column({ primary: true, type: Number }) id!: number
      @Column({ name: 'shard_key', type: Number }) shardKey!: number
      @Column({ type: String }) txt!: string | null
      @Column({ type: Number }) n!: number | null
      @Column({ type: BigInt }) big!: bigint | null
      @Column({ type: Number }) dec!: number | null
      @Column({ type: Date }) at!: Date | null
      @Column({ type: Boolean }) flag!: boolean | null
    }
    const pg = dialect === 'postgres'
    const my = dialect === 'mysql'
    /** Servers with exact decimals and native timestamps and booleans (not SQLite). */
    const server = pg || my
    // PostgreSQL has no min/max of boolean.
    const EXTREMES = pg ? COLUMNS.filter((c) => c !== 'flag') : COLUMNS
    const random = mulberry32(SEED + (pg ? 1 : my ? 2 : 0))
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
    const chance = (p: number): boolean => random() < p
    const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
    let tables: ShardedTables
    let shards: ShardManager<any>
    const pool = new Map<Col, unknown[]>()
    const resolver = hashShardResolver(SHARDS)

    beforeAll(async () => {
      console.log(`differential (${dialect}): seed ${SEED} (replay with TRIBUTARY_DIFF_SEED=${SEED})`)
      const base = Date.UTC(2024, 0, 1)
      const rows = Array.from({ length: ROWS }, (_, i) => {
        const micros = int(0, 999_999)
        const seconds = int(0, 50) // few distinct seconds: ties in ms and below
        const at = new Date(base + seconds * 1_000)
        const stamp = `${at.toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}`
        // pg decimals with cents; SQLite's REAL holds quarters exactly, so its sums are exact too.
        const cents = int(-10_000, 10_000)
        return {
          id: i + 1,
          shard_key: Math.floor(40 * random() ** 3),
          txt: chance(0.1) ? null : pick(TEXTS),
          n: chance(0.15) ? null : int(-50, 50),
          // A fifth past 2^53 (either sign), the rest small: Σ passes 2^53 but stays within int64.
          big: chance(0.1)
            ? null
            : (chance(0.2)
                ? BigInt(pick([-1, 1])) * 2n ** 54n + BigInt(int(0, 1_000))
                : BigInt(int(-1e6, 1e6))
              ).toString(),
          dec: chance(0.1) ? null : server ? (cents / 100).toFixed(2) : Math.round(cents / 25) / 4,
          at: chance(0.08)
            ? null
            : pg
              ? `${stamp.replace('T', ' ')}+00`
              : my
                ? stamp.replace('T', ' ')
                : `${stamp}Z`,
          flag: chance(0.1) ? null : pg ? chance(0.5) : chance(0.5) ? 1 : 0,
        }
      })
      const ddl = pg
        ? `create table facts (id integer primary key, shard_key integer not null, txt text, n integer,
          big bigint, dec numeric(12,2), at timestamptz, flag boolean)`
        : my
          ? // A binary NO PAD collation orders by code point, as the merge does (the default ignores
            // case and accents and is refused: mysql-merge.test.ts).
            `create table facts (id integer primary key, shard_key integer not null,
          txt varchar(16) collate utf8mb4_nopad_bin, n integer,
          big bigint, \`dec\` decimal(12,2), at datetime(6), flag boolean)`
          : `create table facts (id integer primary key, shard_key integer not null, txt text, n integer,
          big integer, dec real, at text, flag integer)`
      const sqliteRows = server
        ? rows
        : rows.map((r) => ({ ...r, big: r.big === null ? null : BigInt(r.big) }))
      tables = await createShardedTables(dialect, ddl, 'facts', sqliteRows, (row) =>
        SHARDS.indexOf(resolver.resolve(row.shard_key as number)),
      )
      Fact.use(tables.oracle)
      shards = new ShardManager(tables.shards, { ownsDatabases: false })
      const all = await Fact.asyncAll()
      for (const c of COLUMNS)
        pool.set(
          c,
          all.map((f) => f[c]),
        )
    }, 60_000)

    afterAll(async () => {
      await shards?.close()
      Fact.use(null)
      await tables?.drop()
    })

    const across = () => Fact.acrossShards({ manager: shards, shardKey: { column: 'shardKey', resolver } })
    type Across = ShardScope<Fact>
    type Single = Scope<Fact>

    /** A value for `col`: mostly one from the data, sometimes a random one. */
    const value = (col: Col): unknown => {
      const v = pick(pool.get(col) as unknown[])
      if (v === null || v === undefined || chance(0.2)) {
        switch (col) {
          case 'txt':
            return pick(TEXTS)
          case 'big':
            return 2n ** 55n + BigInt(int(-5, 5))
          case 'at':
            return new Date(Date.UTC(2024, 0, 1) + int(0, 50) * 1_000)
          case 'flag':
            return chance(0.5)
          case 'dec':
            return int(-400, 400) / 4
          default:
            return int(-60, 60)
        }
      }
      return v
    }

    type Condition = { col: Col; op: string; value: unknown; text: string }
    const condition = (): Condition => {
      const col = pick(COLUMNS)
      const roll = random()
      if (roll < 0.1) return { col, op: chance(0.5) ? 'is' : 'is not', value: null, text: '' }
      if (roll < 0.25) {
        const list = Array.from({ length: int(0, 4) }, () => value(col))
        return { col, op: chance(0.7) ? 'in' : 'not in', value: list, text: '' }
      }
      if (col === 'txt' && roll < 0.35) {
        return {
          col,
          op: chance(0.7) ? 'like' : 'not like',
          value: `${pick(['', '😀', 'Ａ', 'a'])}%`,
          text: '',
        }
      }
      const op = col === 'flag' ? pick(['=', '!=', '<>']) : pick(['=', '!=', '<>', '<', '<=', '>', '>='])
      return { col, op, value: value(col), text: '' }
    }
    const describeCondition = (c: Condition): string =>
      `${c.col} ${c.op} ${JSON.stringify(c.value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`

    function scoped(conditions: Condition[]): { a: Across; s: Single; text: string } {
      let a = across()
      let s = Fact.all()
      for (const c of conditions) {
        a = a.where(c.col, c.op as never, c.value)
        s = s.where(c.col, c.op as never, c.value)
      }
      return { a, s, text: conditions.map(describeCondition).join(' and ') || 'all' }
    }

    const failures: string[] = []
    function check(label: string, actual: unknown, expected: unknown): void {
      try {
        expect(actual).toStrictEqual(expected)
      } catch (error) {
        failures.push(`seed ${SEED} (${dialect}): ${label}\n${(error as Error).message}`)
      }
    }

    /** The single database's own answer, read as the model documents (sum over no value is 0). */
    async function oracleScalar(fn: string, col: Col | undefined, conditions: Condition[]): Promise<unknown> {
      const where =
        conditions.length === 0 ? sql`` : sql` where ${sql.join(conditions.map(conditionSql), sql` and `)}`
      const target = col === undefined ? sql`*` : sql.ref(SQL_NAME[col])
      const expr = fn === 'countDistinct' ? sql`count(distinct ${target})` : sql`${sql.raw(fn)}(${target})`
      const { rows } = await sql<{ v: unknown }>`select ${expr} as v from facts${where}`.execute(
        tables.oracle as Kysely<any>,
      )
      const v = rows[0]?.v
      if (fn === 'count' || fn === 'countDistinct') return Number(v)
      if (fn === 'sum') return v === null ? 0 : toSqlNumber(v)
      if (fn === 'avg') return v === null ? null : Number(v)
      return readLike(col as Col, v)
    }
    function readLike(col: Col, v: unknown): unknown {
      if (v === null || v === undefined) return null
      if (col === 'big') return BigInt(v as string)
      if (col === 'at') return new Date(v instanceof Date ? v.getTime() : (v as string))
      if (col === 'flag') return v === true || v === 1 || v === 1n
      if (col === 'txt') return v
      return toSqlNumber(v)
    }
    function conditionSql(c: Condition) {
      const ref = sql.ref(SQL_NAME[c.col])
      const bind = (v: unknown): unknown =>
        v instanceof Date ? (server ? v : v.toISOString()) : typeof v === 'boolean' && !server ? Number(v) : v
      if (c.op === 'is' || c.op === 'is not') return sql`${ref} ${sql.raw(c.op)} null`
      if (c.op === 'in' || c.op === 'not in') {
        const list = c.value as unknown[]
        if (list.length === 0) return c.op === 'in' ? sql`1 = 0` : sql`1 = 1`
        return sql`${ref} ${sql.raw(c.op)} (${sql.join(list.map(bind))})`
      }
      return sql`${ref} ${sql.raw(c.op)} ${bind(c.value)}`
    }

    it(`answers ${QUERIES} seeded random queries exactly, then more after ${WRITES} writes`, async () => {
      const queries = async (from: number, to: number): Promise<void> => {
        for (let q = from; q < to; q++) {
          const conditions = Array.from({ length: int(0, 2) }, condition)
          const { a, s, text } = scoped(conditions)
          const kind = pick(['scalar', 'scalar', 'rows', 'rows', 'group', 'group', 'find'])
          if (kind === 'scalar') {
            const fn = pick(['count', 'sum', 'avg', 'min', 'max', 'countDistinct', 'exists'])
            const col =
              fn === 'sum' || fn === 'avg'
                ? pick(NUMERIC)
                : pick(fn === 'min' || fn === 'max' ? EXTREMES : COLUMNS)
            const label = `#${q} ${fn}(${col}) where ${text}`
            const run = (scope: Across | Single): PromiseLike<unknown> => {
              switch (fn) {
                case 'count':
                  return scope.asyncCount()
                case 'sum':
                  return scope.asyncSum(col)
                case 'avg':
                  return scope.asyncAvg(col)
                case 'min':
                  return scope.asyncMin(col)
                case 'max':
                  return scope.asyncMax(col)
                case 'countDistinct':
                  return scope.asyncCountDistinct(col)
                default:
                  return scope.asyncExists()
              }
            }
            const single = await run(s)
            check(label, await run(a), single)
            if (fn !== 'exists') {
              check(
                `${label} (model vs SQL)`,
                single,
                await oracleScalar(fn, fn === 'count' ? undefined : col, conditions),
              )
            }
          } else if (kind === 'rows') {
            let ra = a
            let rs = s
            const order = Array.from({ length: int(1, 3) }, (): { col: Col; dir: 'asc' | 'desc' } => ({
              col: pick(COLUMNS.filter((c) => c !== 'id')),
              dir: pick(['asc', 'desc'] as const),
            }))
            const total = chance(0.5) // with id last the order is total; else read only the first order column
            if (total) order.push({ col: 'id', dir: pick(['asc', 'desc'] as const) })
            for (const o of order) {
              ra = ra.orderBy(o.col, o.dir)
              rs = rs.orderBy(o.col, o.dir)
            }
            if (chance(0.6)) {
              const n = int(0, 40)
              ra = ra.limit(n)
              rs = rs.limit(n)
            }
            if (chance(0.5)) {
              const m = chance(0.2) ? int(ROWS, ROWS + 100) : int(0, 60)
              ra = ra.offset(m)
              rs = rs.offset(m)
            }
            const first = (order[0] as { col: Col }).col
            const label = `#${q} rows where ${text} order by ${order.map((o) => `${o.col} ${o.dir}`).join(', ')}`
            if (total && chance(0.4)) check(`${label} all`, await ra.asyncAll(), await rs.asyncAll())
            else {
              const col = total ? pick(COLUMNS) : first
              check(`${label} pluck ${col}`, await ra.asyncPluck(col), await rs.asyncPluck(col))
              if (chance(0.3)) check(`${label} pick ${col}`, await ra.asyncPick(col), await rs.asyncPick(col))
            }
          } else if (kind === 'group') {
            const groups = [...new Set(Array.from({ length: int(1, 2) }, () => pick(GROUPABLE)))]
            const aggregates: Record<string, unknown> = { cnt: 'count' }
            for (const [name, fn] of [
              ['sm', 'sum'],
              ['av', 'avg'],
              ['lo', 'min'],
              ['hi', 'max'],
              ['cc', 'count'],
            ] as const) {
              if (chance(0.5)) {
                const col =
                  fn === 'sum' || fn === 'avg'
                    ? pick(NUMERIC)
                    : pick(fn === 'min' || fn === 'max' ? EXTREMES : COLUMNS)
                aggregates[name] = { [fn]: col }
              }
            }
            const names = Object.keys(aggregates)
            let ga = a.groupBy(...(groups as never[]))
            let gs = s.groupBy(...(groups as never[]))
            let label = `#${q} group by ${groups.join(', ')} ${JSON.stringify(aggregates)} where ${text}`
            if (chance(0.4)) {
              const name = pick(['cnt', 'cc', 'sm'].filter((x) => names.includes(x)))
              const op = pick(['>', '>=', '<', '=', '!='] as const)
              const v = name === 'sm' ? int(-200, 200) : int(1, 6)
              ga = ga.having(name, op, v)
              gs = gs.having(name, op, v)
              label += ` having ${name} ${op} ${v}`
            }
            if (chance(0.6)) {
              const by = pick([...names, ...groups])
              const dir = pick(['asc', 'desc'] as const)
              ga = ga.orderBy(by, dir)
              gs = gs.orderBy(by, dir)
              label += ` order by ${by} ${dir}`
            }
            if (chance(0.4)) {
              const n = int(0, 10)
              ga = ga.limit(n)
              gs = gs.limit(n)
              label += ` limit ${n}`
            }
            if (chance(0.3)) {
              const m = int(0, 30)
              ga = ga.offset(m)
              gs = gs.offset(m)
              label += ` offset ${m}`
            }
            check(
              label,
              await ga.asyncAggregate(aggregates as never),
              await gs.asyncAggregate(aggregates as never),
            )
          } else {
            const id = int(-5, ROWS + 5)
            check(`#${q} find(${id})`, await across().asyncFind(id), await Fact.asyncFind(id))
            const key = int(0, 45)
            check(
              `#${q} findBy({ shardKey: ${key} }) order by id where ${text}`,
              await a.orderBy('id').asyncFindBy({ shardKey: key }),
              await s.orderBy('id').asyncFindBy({ shardKey: key }),
            )
          }
        }
      }
      await queries(0, QUERIES)
      // Writes across shards and on the one database, then more queries over the changed rows.
      for (let w = 0; w < WRITES; w++) {
        const conditions = Array.from({ length: int(1, 2) }, condition)
        const { a, s, text } = scoped(conditions)
        const v = chance(0.2) ? null : int(-50, 50)
        const written = await a.asyncUpdate({ n: v })
        check(`write ${w}: update n = ${v} where ${text}`, written.total, await s.asyncUpdate({ n: v }))
        await queries(QUERIES + w * 30, QUERIES + (w + 1) * 30)
      }
      if (failures.length > 0) {
        throw new Error(
          `${failures.length} of ${QUERIES + WRITES * 30} queries differ:\n\n${failures.slice(0, Number(process.env.DIFF_SHOW ?? 5)).join('\n\n')}`,
        )
      }
    }, 120_000)
  },
)
