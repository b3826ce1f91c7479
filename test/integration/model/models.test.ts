// Every model helper, on every dialect from testDialects(), checked against hand-written SQL on
// the same data.
import { sql, type Kysely, type KyselyPlugin } from 'kysely'
import {
  AsyncCoordinator,
  AsyncMetrics,
  isAsyncExecutionError,
  isInvalidColumnError,
  isInvalidOperatorError,
  isInvalidQueryError,
  isModelWithoutDatabaseError,
  isRecordNotFoundError,
  withDatabase,
} from 'tributary'
import { createTestDatabase, type TestDatabase } from '../../support/database'
import { testDialects } from '../../support/services'
import { createSchema, defineModels, seedRows } from './fixtures'

async function scalar(db: Kysely<any>, text: string): Promise<unknown> {
  const { rows } = await sql.raw<{ v: unknown }>(text).execute(db)
  return rows[0]?.v
}

async function column(db: Kysely<any>, text: string): Promise<unknown[]> {
  const { rows } = await sql.raw<{ v: unknown }>(text).execute(db)
  return rows.map((r) => r.v)
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

describe.each(testDialects(['sqlite', 'postgres', 'mysql']))('models on %s', (dialect) => {
  const { User, Order } = defineModels()
  let test: TestDatabase
  let db: Kysely<any>
  const built: string[] = []
  // Records every query built through Kysely, to prove refused inputs never reach SQL.
  const recorder: KyselyPlugin = {
    transformQuery: (args) => {
      built.push(args.node.kind)
      return args.node
    },
    transformResult: async (args) => args.result,
  }

  beforeAll(async () => {
    test = await createTestDatabase(dialect, 'tributary_models')
    db = test.db
    await createSchema(db, dialect)
    User.use(db.withPlugin(recorder))
    Order.use(db)
  })

  afterAll(async () => {
    User.use(null)
    Order.use(null)
    await test.drop()
  })

  const reseed = async (): Promise<void> => {
    if (dialect === 'postgres') {
      await sql`truncate users, orders restart identity`.execute(db)
    } else if (dialect === 'mysql') {
      await sql`truncate table users`.execute(db)
      await sql`truncate table orders`.execute(db)
    } else {
      await sql`delete from users`.execute(db)
      await sql`delete from orders`.execute(db)
      await sql`delete from sqlite_sequence`.execute(db)
    }
    await User.asyncInsert(seedRows())
  }

  describe('on an empty table', () => {
    beforeAll(async () => {
      await sql`delete from users`.execute(db)
    })

    it('gives 0, null, empty and undefined (pick gives null, as Rails gives nil)', async () => {
      expect(await User.asyncCount()).toBe(0)
      expect(await User.asyncSum('score')).toBe(0)
      expect(await User.asyncAvg('score')).toBeNull()
      expect(await User.asyncMin('score')).toBeNull()
      expect(await User.asyncMax('updatedAt')).toBeNull()
      expect(await User.asyncPluck('email')).toEqual([])
      expect(await User.asyncPick('email')).toBeNull()
      expect(await User.asyncAll()).toEqual([])
      expect(await User.asyncExists()).toBe(false)
      expect(await User.asyncFind(1)).toBeUndefined()
      expect(await User.asyncFindBy({ email: 'nobody' })).toBeUndefined()
      expect(await User.asyncUpdate({ score: 1 })).toBe(0)
      expect(await User.asyncDelete()).toBe(0)
    })
  })

  describe('with data', () => {
    beforeAll(reseed)

    it('aggregates match hand-written SQL, past 2^31', async () => {
      const [count, active, sum, big, avg, min, max] = await Promise.all([
        User.asyncCount(),
        User.where({ active: true }).asyncCount(),
        User.asyncSum('score'),
        User.asyncSum('big'),
        User.asyncAvg('score'),
        User.asyncMin('score'),
        User.asyncMax('big'),
      ])
      expect(count).toBe(num(await scalar(db, 'select count(*) as v from users')))
      expect(active).toBe(num(await scalar(db, 'select count(*) as v from users where active')))
      expect(sum).toBe(num(await scalar(db, 'select sum(score) as v from users')))
      expect(big).toBe(num(await scalar(db, 'select sum(big) as v from users')))
      expect(big).toBeGreaterThan(2 ** 36)
      expect(typeof big).toBe('number')
      expect(avg).toBeCloseTo(num(await scalar(db, 'select avg(score) as v from users')) as number, 6)
      expect(min).toBe(num(await scalar(db, 'select min(score) as v from users')))
      expect(max).toBe(num(await scalar(db, 'select max(big) as v from users')))
      expect(max).toBeGreaterThan(2 ** 31)
    })

    it('scoped aggregates match SQL with operators, limit and offset', async () => {
      expect(await User.where('score', '>', 100).asyncCount()).toBe(
        num(await scalar(db, 'select count(*) as v from users where score > 100')),
      )
      expect(await User.where('email', 'like', 'user1%').asyncSum('score')).toBe(
        num(await scalar(db, "select sum(score) as v from users where email like 'user1%'")),
      )
      expect(await User.where('id', 'in', [1, 2, 3, 99]).asyncCount()).toBe(3)
      expect(await User.where('id', 'not in', [1, 2]).asyncCount()).toBe(38)
      expect(await User.where('id', 'in', []).asyncCount()).toBe(0)
      expect(await User.where({ id: [4, 5] }).asyncPluck('id')).toEqual([4, 5])
      expect(await User.orderBy('id').limit(5).asyncCount()).toBe(5)
      expect(await User.orderBy('id').limit(3).offset(2).asyncSum('big')).toBe(
        num(
          await scalar(
            db,
            'select sum(big) as v from (select big from users order by id limit 3 offset 2) t',
          ),
        ),
      )
      expect(await User.orderBy('id').offset(38).asyncPluck('id')).toEqual([39, 40])
      expect(await User.where({ active: false }).where('score', '>=', 21).asyncAvg('score')).toBeCloseTo(
        num(await scalar(db, 'select avg(score) as v from users where not active and score >= 21')) as number,
      )
    })

    it('aggregates of an ordered scope run on PostgreSQL too (the order is dropped without a limit)', async () => {
      const total = await User.asyncCount()
      expect(await User.orderBy('email').asyncCount()).toBe(total)
      expect(await User.orderBy('email', 'desc').asyncSum('score')).toBe(await User.asyncSum('score'))
      expect(await User.orderBy('score').asyncAvg('score')).toBe(await User.asyncAvg('score'))
      expect(await User.orderBy('id').asyncMin('email')).toBe(await User.asyncMin('email'))
      expect(await User.orderBy('id').asyncMax('score')).toBe(await User.asyncMax('score'))
      expect(await User.orderBy('email').asyncCountDistinct('active')).toBe(2)
      // With a limit the order still picks the rows.
      expect(await User.orderBy('id', 'desc').limit(2).asyncSum('id')).toBe(79)
    })

    it('groupBy with having, order and limit, and countDistinct, match SQL', async () => {
      expect(await User.asyncCountDistinct('score')).toBe(
        num(await scalar(db, 'select count(distinct score) as v from users')),
      )
      expect(await User.where('id', '<=', 10).asyncCountDistinct('active')).toBe(2)
      const grouped = await User.groupBy('active')
        .having('n', '>', 0)
        .orderBy('total', 'desc')
        .asyncAggregate({
          n: 'count',
          total: { sum: 'score' },
          mean: { avg: 'score' },
          top: { max: 'email' },
        })
      const rows = (
        await sql
          .raw<Record<string, unknown>>(
            `select active, count(*) as n, sum(score) as total, avg(score) as mean, max(email) as top
           from users group by active having count(*) > 0 order by sum(score) desc, active`,
          )
          .execute(db)
      ).rows
      expect(grouped).toEqual(
        rows.map((r) => ({
          active: r.active === true || r.active === 1,
          n: Number(r.n),
          total: Number(r.total ?? 0),
          mean: num(r.mean),
          top: r.top,
        })),
      )
      const page = await User.where('score', 'is not', null)
        .groupBy('score')
        .orderBy('n', 'desc')
        .limit(3)
        .offset(1)
        .asyncAggregate({ n: 'count' })
      expect(page.map((g) => g.score)).toEqual(
        (
          await column(
            db,
            'select score as v from users where score is not null group by score order by count(*) desc, score limit 3 offset 1',
          )
        ).map(num),
      )
      expect(() => User.groupBy('active').having('n', 'like' as never, 1)).toThrow(/not an allowed operator/)
      expect(() => User.groupBy('active').asyncAggregate({ bad: { total: 'score' } as never })).toThrow(
        /aggregate bad/,
      )
      expect(() => User.groupBy('active').orderBy('nope').asyncAggregate({ n: 'count' })).toThrow(
        expect.objectContaining({ model: 'User', property: 'nope' }),
      )
    })

    it('treats nulls as SQL does', async () => {
      expect(await User.where({ score: null }).asyncCount()).toBe(
        num(await scalar(db, 'select count(*) as v from users where score is null')),
      )
      expect(await User.where('score', '!=', null).asyncCount()).toBe(
        num(await scalar(db, 'select count(*) as v from users where score is not null')),
      )
      const scores = await User.orderBy('id').asyncPluck('score')
      expect(scores).toEqual((await column(db, 'select score as v from users order by id')).map(num))
      expect(scores[0]).toBeNull()
    })

    it('returns rows as model instances with columns mapped and coerced', async () => {
      const user = await User.asyncFind(2)
      expect(user).toBeInstanceOf(User)
      expect(user).toEqual(
        Object.assign(new User(), {
          id: 2,
          email: 'user1@example.com',
          active: true,
          score: 7,
          big: 2 ** 31 + 1_000_003,
          updatedAt: new Date(Date.UTC(2024, 0, 2)),
        }),
      )
      expect(await User.asyncFind(1)).toMatchObject({ active: false, score: null })
      expect(await User.asyncFind(999)).toBeUndefined()
      expect(await User.asyncFindBy({ email: 'user3@example.com' })).toMatchObject({ id: 4, active: false })
      const all = await User.where({ active: true }).orderBy('id', 'desc').asyncAll()
      expect(all.map((u) => u.id)).toEqual(
        (await column(db, 'select id as v from users where active order by id desc')).map(num),
      )
      expect(
        all.every((u) => u instanceof User && typeof u.active === 'boolean' && u.updatedAt instanceof Date),
      ).toBe(true)
      expect(await User.orderBy('id', 'desc').asyncPick('email')).toBe('user39@example.com')
      expect(await User.asyncMin('updatedAt')).toEqual(new Date(Date.UTC(2024, 0, 1)))
      expect(await User.asyncExists()).toBe(true)
      expect(await User.where({ email: 'none' }).asyncExists()).toBe(false)
    })

    it('asyncFindOrFail rejects with a RecordNotFoundError naming the model', async () => {
      expect(await User.asyncFindOrFail(3)).toMatchObject({ id: 3 })
      const error = await User.asyncFindOrFail(12345).catch((e: unknown) => e)
      expect(isRecordNotFoundError(error)).toBe(true)
      expect(error).toMatchObject({ model: 'User', key: 'id', value: 12345 })
    })
  })

  describe('writes', () => {
    beforeEach(reseed)

    it('asyncUpdate, asyncDelete and asyncTouchAll return the rows affected, like SQL', async () => {
      const inactive = num(await scalar(db, 'select count(*) as v from users where not active'))
      expect(await User.where({ active: false }).asyncUpdate({ score: 1 })).toBe(inactive)
      expect(await User.where({ score: 1 }).asyncCount()).toBe(inactive)
      const before = Date.now()
      expect(await User.where('id', '<=', 4).asyncTouchAll()).toBe(4)
      const touched = await User.where('id', '<=', 4).asyncPluck('updatedAt')
      expect(touched.every((d) => d instanceof Date && d.getTime() >= before - 1_000)).toBe(true)
      expect(await User.orderBy('id', 'desc').limit(2).asyncTouchAll('updatedAt', {})).toBe(2)
      expect(await User.orderBy('id', 'desc').limit(3).asyncDelete()).toBe(3)
      expect(await User.asyncMax('id')).toBe(37)
      const active = num(await scalar(db, 'select count(*) as v from users where active'))
      expect(await User.where({ active: true }).asyncDelete()).toBe(active)
      expect(await User.asyncCount()).toBe(num(await scalar(db, 'select count(*) as v from users')))
    })

    it('asyncInsert returns instances and fills attributes from the scope', async () => {
      const [row] = await User.where({ active: true, score: 5 }).asyncInsert({ email: 'new@example.com' })
      expect(row).toBeInstanceOf(User)
      expect(row).toMatchObject({ email: 'new@example.com', active: true, score: 5, big: 0, updatedAt: null })
      expect(await scalar(db, "select score as v from users where email = 'new@example.com'")).toBe(5)
    })
  })

  describe('hostile input', () => {
    beforeAll(reseed)

    const hostileColumns = [
      'id; drop table users; --',
      "email\" = '' or 1=1 --",
      'constructor',
      '__proto__',
      'users.id',
    ]

    it.each(hostileColumns)('refuses column %j before any SQL is built', async (name) => {
      built.length = 0
      expect(() => User.where({ [name]: 1 } as never)).toThrow(
        expect.objectContaining({ name: 'InvalidColumnError' }),
      )
      expect(() => User.where(name as never, '=', 1)).toThrow(
        expect.objectContaining({ name: 'InvalidColumnError' }),
      )
      expect(() => User.orderBy(name as never)).toThrow(
        expect.objectContaining({ name: 'InvalidColumnError' }),
      )
      for (const result of [
        User.asyncSum(name as never),
        User.asyncMin(name as never),
        User.asyncPluck(name as never),
        User.asyncUpdate({ [name]: 1 } as never),
        User.asyncInsert({ [name]: 1 } as never),
        User.asyncTouchAll(name as never),
      ]) {
        const error = await result.catch((e: unknown) => e)
        expect(isInvalidColumnError(error)).toBe(true)
        expect((error as Error).message).toContain(JSON.stringify(name))
      }
      expect(built).toEqual([])
    })

    it.each(['= 1 or 1=1 --', 'union select', '; drop table users', 'ilike'])('refuses operator %j', (op) => {
      built.length = 0
      const error = (() => {
        try {
          User.where('id', op as never, 1)
        } catch (e) {
          return e
        }
      })()
      expect(isInvalidOperatorError(error)).toBe(true)
      expect(() => User.orderBy('id', op as never)).toThrow(
        expect.objectContaining({ name: 'InvalidOperatorError' }),
      )
      expect(built).toEqual([])
    })

    it('refuses bad limits and values for in', () => {
      expect(() => User.limit(-1)).toThrow(expect.objectContaining({ name: 'InvalidQueryError' }))
      expect(() => User.limit('1; drop' as never)).toThrow(
        expect.objectContaining({ name: 'InvalidQueryError' }),
      )
      expect(() => User.where('id', 'in', '1, 2' as never)).toThrow(
        expect.objectContaining({ name: 'InvalidQueryError' }),
      )
    })

    it('binds hostile values as parameters', async () => {
      const hostile = "x'; drop table users; --"
      expect(await User.where({ email: hostile }).asyncCount()).toBe(0)
      // SQLite compares the text with the integer key and finds nothing (MySQL casts it to 0,
      // which no row has); pg refuses the cast.
      const found = await User.asyncFind(hostile as never).catch((e: unknown) => e)
      if (dialect !== 'postgres') expect(found).toBeUndefined()
      else expect(isAsyncExecutionError(found) && found.operation === 'User.asyncFind').toBe(true)
      expect(await User.where('email', 'like', "%' or '1'='1").asyncCount()).toBe(0)
      expect(num(await scalar(db, 'select count(*) as v from users'))).toBe(40)
    })
  })

  it("a helper given an aborted signal rejects with the signal's reason", async () => {
    const controller = new AbortController()
    const reason = new Error('caller gave up')
    controller.abort(reason)
    for (const result of [
      User.asyncCount({ signal: controller.signal }),
      User.where({ active: true }).asyncAll({ signal: controller.signal }),
      User.asyncFind(1, { signal: controller.signal }),
    ]) {
      expect(await result.catch((e: unknown) => e)).toBe(reason)
    }
  })

  it('a model without a database is an error naming it', async () => {
    const { User: Unbound } = defineModels()
    const error = await Unbound.asyncCount().catch((e: unknown) => e)
    expect(isModelWithoutDatabaseError(error)).toBe(true)
    expect((error as Error).message).toContain('User has no database')
  })

  it('a model without @Table or @Column is refused with a clear error', () => {
    class Bare extends (Object.getPrototypeOf(User) as typeof User) {}
    expect(() => (Bare as typeof User).where({})).toThrow(/Bare has no @Table/)
  })

  describe('concurrency, transactions, coordinator and metrics', () => {
    beforeAll(reseed)

    it('runs 200 helpers started together without error', async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => User.where('id', '<=', (i % 40) + 1).asyncCount()),
      )
      expect(results).toEqual(Array.from({ length: 200 }, (_, i) => (i % 40) + 1))
    })

    it("runs helpers on a transaction's connection in the order started", async () => {
      const order: string[] = []
      const counts = await db.transaction().execute((trx) =>
        withDatabase(trx, async () => {
          const inserted = User.asyncInsert({ email: 'trx@example.com', active: true, big: 1 }).then((r) => {
            order.push('insert')
            return r
          })
          const count = User.where({ email: 'trx@example.com' })
            .asyncCount()
            .then((c) => {
              order.push('count')
              return c
            })
          const deleted = User.where({ email: 'trx@example.com' })
            .asyncDelete()
            .then((d) => {
              order.push('delete')
              return d
            })
          const after = User.where({ email: 'trx@example.com' }).asyncCount()
          return [await inserted, await count, await deleted, await after] as const
        }),
      )
      expect(order).toEqual(['insert', 'count', 'delete'])
      expect(counts.slice(1)).toEqual([1, 1, 0])
      await expect(
        db.transaction().execute((trx) =>
          withDatabase(trx, async () => {
            await User.asyncInsert({ email: 'rolled-back@example.com', active: true })
            expect(await User.where({ email: 'rolled-back@example.com' }).asyncCount()).toBe(1)
            throw new Error('roll back')
          }),
        ),
      ).rejects.toThrow('roll back')
      expect(await User.where({ email: 'rolled-back@example.com' }).asyncCount()).toBe(0)
    })

    it('AsyncCoordinator waits for a mix of helpers, and every helper is in AsyncMetrics', async () => {
      await sql`insert into orders (user_id, total) values (1, 10.5), (2, 20.25), (2, 1)`.execute(db)
      const before = AsyncMetrics.snapshot().operations
      const coordinator = new AsyncCoordinator()
      coordinator.add(User.asyncCount())
      coordinator.add(Order.asyncSum('total'))
      coordinator.add(Order.where({ userId: 2 }).asyncPluck('total'))
      coordinator.add(User.asyncFind(1))
      expect(await coordinator.waitAll()).toEqual([40, 31.75, [20.25, 1], expect.any(User)])
      const after = AsyncMetrics.snapshot().operations
      for (const name of ['User.asyncCount', 'Order.asyncSum', 'Order.asyncPluck', 'User.asyncFind']) {
        expect(after[name]?.total).toBe((before[name]?.total ?? 0) + 1)
      }
      const failing = new AsyncCoordinator()
      failing.add(User.asyncCount())
      failing.add(User.asyncFindOrFail(-1))
      await expect(failing.waitAll()).rejects.toThrow(/1 of 2 operations failed: User.asyncFindOrFail/)
      expect(isInvalidQueryError(new Error())).toBe(false)
    })
  })
})
