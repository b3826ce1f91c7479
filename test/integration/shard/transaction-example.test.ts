// examples/shard-transaction.ts run as a user runs it (ts-node), against a PostgreSQL of the
// test's own: with max_prepared_transactions raised it transfers atomically; with it at 0 it
// prints how to set it and exits 0.
import { Client } from 'pg'
import { runExample as run } from '../../support/examples'
import { describeWithPostgresServer, ownPostgres, type OwnPostgres } from '../../support/own-postgres'

const runExample = (url: string): Promise<string> => run('shard-transaction.ts', { TRIBUTARY_PG_URL: url })

describeWithPostgresServer('examples/shard-transaction.ts', () => {
  const servers: OwnPostgres[] = []
  afterAll(async () => {
    for (const server of servers) await server.kill()
  })

  it('commits a transfer on both shards, rolls back one that fails on a shard, and recovers nothing', async () => {
    const server = await ownPostgres()
    servers.push(server)
    const output = await runExample(server.url())
    expect(output).toContain('before: ana 100, ben 50')
    // us holds the log: eu is prepared, us commits in one phase with the decision.
    expect(output).toContain(
      'transfer 30:\n  prepared eu\n  decided (the commit point)\n  committed us\n  committed eu\n',
    )
    expect(output).toContain('after: ana 70, ben 80\n')
    expect(output).toMatch(/rolled back: eu rolled back, us rolled back \(.*check constraint/)
    expect(output).toContain('after: ana 70, ben 80 (ben was not credited)')
    expect(output).toContain('zeroed 1 account(s) atomically: ana 70, ben 0')
    expect(output).toContain('recovery: 0 committed, 0 rolled back, 0 log rows forgotten')
    // The example dropped its databases.
    const client = new Client({ connectionString: server.url() })
    await client.connect()
    const { rows } = await client.query("select datname from pg_database where datname like 'tributary_tx_%'")
    await client.end()
    expect(rows).toEqual([])
  }, 60_000)

  it('exits 0 saying how to set max_prepared_transactions when it is 0', async () => {
    const server = await ownPostgres({ maxPreparedTransactions: 0 })
    servers.push(server)
    const output = await runExample(server.url())
    expect(output).toContain('max_prepared_transactions is 0 on')
    expect(output).toContain('ALTER SYSTEM SET max_prepared_transactions = 100')
    expect(output).toContain('restart PostgreSQL')
  }, 60_000)
})
