// acrossShards().stream() at scale, in a child process with --expose-gc: 1,000,000 rows ordered
// by a microsecond timestamp from 4 PostgreSQL shards, in the order of one database holding
// every row (an md5 of the ids in order, computed by that database and by the client as rows
// arrive), with the heap sampled during the iteration (goal: peak growth under 64 MB; what the
// iteration keeps alive after a GC is a few MB).
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describeWithPostgres, pgUrl } from '../../support/services'

const root = path.resolve(__dirname, '../../..')
const MB = 1024 * 1024

describeWithPostgres('acrossShards().stream() over 1,000,000 rows', () => {
  it('merges them in the single database order with peak heap growth under 64 MB', () => {
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '-r', 'ts-node/register/transpile-only', 'test/support/stream-load.ts'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 170_000,
        env: {
          ...process.env,
          TS_NODE_PROJECT: 'tsconfig.json',
          TRIBUTARY_PG_URL: pgUrl,
          STREAM_ROWS: '1000000',
        },
      },
    )
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const figures = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>
    expect(figures).toMatchObject({ rows: 1_000_000, mismatches: 0 })
    expect(figures.peakGrowth).toBeLessThan(64 * MB)
    expect(figures.liveGrowth).toBeLessThan(16 * MB)
  }, 180_000)
})
