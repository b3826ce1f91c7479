import { runCli } from './io'

const users = 'test/fixtures/cli/sharded-users.ts'

describe('tributary shards', () => {
  it('prints the merged count with a per-shard breakdown', async () => {
    const io = await runCli(['shards', users, 'count', 'User'])
    expect(io.code).toBe(0)
    const lines = io.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('User across 3 shards: count(*)')
    expect(lines[1]).toMatch(/^shard\s+count\(\*\)\s+rows\s+ms$/)
    expect(lines.slice(3).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ['big', '6', '6'],
      ['small_a', '1', '1'],
      ['small_b', '1', '1'],
      ['merged', '8', '8'],
    ])
    for (const line of lines.slice(3)) expect(line).toMatch(/\d+\.\d$/) // a timing per row
  })

  it('prints the exact average beside the wrong mean of means', async () => {
    const io = await runCli(['shards', users, 'avg', 'User', 'score'])
    expect(io.code).toBe(0)
    expect(io.stdout).toMatch(/^merged\s+32\.5\s+8\s/m)
    expect(io.stdout).toContain('exact average (Σsum/Σcount): 32.5; mean of the shard averages would be 70')
  })

  it.each([
    ['sum', 260],
    ['min', 10],
    ['max', 100],
  ])('merges %s', async (op, expected) => {
    const io = await runCli(['shards', users, op, 'User', 'score', '--json'])
    expect(io.code).toBe(0)
    const json = JSON.parse(io.stdout) as { merged: { value: number }; shards: Array<{ shard: string }> }
    expect(json.merged.value).toBe(expected)
    expect(json.shards.map((s) => s.shard)).toEqual(['big', 'small_a', 'small_b'])
  })

  it('exits 1 naming the failed shard, and still shows the healthy ones', async () => {
    const io = await runCli(['shards', 'test/fixtures/cli/sharded-broken.ts', 'count', 'User'])
    expect(io.code).toBe(1)
    expect(io.stdout).toMatch(/^one\s+2\s+2\s/m)
    expect(io.stdout).toMatch(/^broken\s+failed\s/m)
    expect(io.stdout).toMatch(/^two\s+3\s+3\s/m)
    expect(io.stderr).toMatch(/shard broken failed: .*no such table: users/)
    expect(io.stderr).toMatch(/merged count\(\*\) failed: .*broken/)
  })

  it.each([
    [['shards'], /missing <module>/],
    [['shards', users], /missing the aggregate/],
    [['shards', users, 'median', 'User', 'score'], /unknown aggregate median/],
    [['shards', users, 'avg', 'User'], /avg needs a <column>/],
    [['shards', users, 'count', 'User', 'score'], /count takes no column/],
    [['shards', users, 'count', 'Order'], /exports no model Order \(found: User\)/],
    [['shards', users, 'max', 'User', 'nope'], /"nope" is not a declared column of User/],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const io = await runCli(args)
    expect(io.code).toBe(2)
    expect(io.stderr).toMatch(message)
    expect(io.stderr).toContain('Usage: tributary shards')
  })
})
