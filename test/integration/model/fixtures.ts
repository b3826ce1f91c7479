// Models and schema shared by the model integration suites.
import { sql, type Kysely } from 'kysely'
import { Column, Model, Table } from 'tributary'

/** Fresh model classes (so each suite binds its own database). */
export function defineModels() {
  @Table('users')
  class User extends Model {
    @Column({ primary: true }) id!: number
    @Column() email!: string
    @Column() active!: boolean
    @Column({ type: 'number' }) score!: number | null
    @Column() big!: number
    @Column({ name: 'updated_at', type: Date }) updatedAt!: Date | null
  }

  @Table('orders')
  class Order extends Model {
    @Column({ primary: true }) id!: number
    @Column({ name: 'user_id' }) userId!: number
    @Column() total!: number
  }

  return { User, Order }
}

export async function createSchema(db: Kysely<any>, dialect: 'postgres' | 'sqlite' | 'mysql'): Promise<void> {
  if (dialect === 'mysql') {
    await sql`create table users (id integer auto_increment primary key, email varchar(255) not null,
      active boolean not null, score integer, big bigint not null default 0, updated_at datetime(3))`.execute(
      db,
    )
    await sql`create table orders (id integer auto_increment primary key, user_id integer not null,
      total decimal(12,2) not null)`.execute(db)
  } else if (dialect === 'postgres') {
    await sql`create table users (id serial primary key, email text not null, active boolean not null,
      score integer, big bigint not null default 0, updated_at timestamptz)`.execute(db)
    await sql`create table orders (id serial primary key, user_id integer not null, total numeric(12,2) not null)`.execute(
      db,
    )
  } else {
    await sql`create table users (id integer primary key autoincrement, email text not null, active integer not null,
      score integer, big integer not null default 0, updated_at text)`.execute(db)
    await sql`create table orders (id integer primary key autoincrement, user_id integer not null, total real not null)`.execute(
      db,
    )
  }
}

/** 40 users: every third inactive, every fifth with a null score, `big` past 2^31. */
export function seedRows() {
  return Array.from({ length: 40 }, (_, i) => ({
    email: `user${i}@example.com`,
    active: i % 3 !== 0,
    score: i % 5 === 0 ? null : i * 7,
    big: 2 ** 31 + i * 1_000_003,
    updatedAt: new Date(Date.UTC(2024, 0, 1 + i)),
  }))
}
