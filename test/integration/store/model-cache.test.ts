// The store under the models' read cache: a fetcher resolving undefined fails a fetch (as in
// TanStack), but a model read that finds no row answers undefined, and that answer is cached.
// SQLite in memory.
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { Column, Model, QueryStore, Table, withDatabase } from 'tributary'

@Table('store_accounts')
class StoreAccount extends Model {
  @Column({ primary: true }) id!: number
  @Column() name!: string
}

describe('QueryStore under model cached() reads', () => {
  let db: Kysely<any>
  let store: QueryStore
  const queries: string[] = []
  beforeEach(async () => {
    queries.length = 0
    db = new Kysely<any>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
      log: (event) => void (event.level === 'query' && queries.push(event.query.sql)),
    })
    await sql`create table store_accounts (id integer primary key, name text)`.execute(db)
    await sql`insert into store_accounts (id, name) values (1, 'one')`.execute(db)
    queries.length = 0
    store = new QueryStore()
  })
  afterEach(async () => {
    store.close()
    await db.destroy()
  })

  it('caches a find of a missing row as undefined instead of failing', async () => {
    await withDatabase(db, async () => {
      const cached = StoreAccount.cached({ ttl: 60, store })
      expect(await cached.asyncFind(404)).toBeUndefined()
      expect(await cached.asyncFind(404)).toBeUndefined()
      expect(queries).toHaveLength(1)
      expect((await cached.asyncFind(1))?.name).toBe('one')
    })
  })

  it('still fails a plain store fetch resolving undefined', async () => {
    await expect(store.fetch(['mine'], async () => undefined)).rejects.toMatchObject({
      name: 'QueryStoreError',
    })
  })
})
