// examples/shards.ts run as a user runs it (ts-node, SQLite files, no server): it exits 0 and
// prints the merged answers, the exact average beside the mean of means, and the failed shard.
import { runExample } from '../../support/examples'

describe('examples/shards.ts', () => {
  it('runs and prints exact merged answers', async () => {
    const output = await runExample('shards.ts')
    expect(output).toContain('users on eu: 1200')
    expect(output).toContain('active in all (sum): 3000')
    expect(output).toContain('active (merged count): 3000')
    expect(output).toContain('score sum: 178000 min: 0')
    expect(output).toContain('top 3 ids: [ 50, 100, 150 ]')
    // 2,400 us users averaging 22.5, 1,200 eu users 77, 400 apac users 79.
    const exact = (2_400 * 22.5 + 1_200 * 77 + 400 * 79) / 4_000
    expect(output).toContain(`average score: exact ${exact.toFixed(3)}, mean of means`)
    expect(output).toMatch(/fail: User\.acrossShards\.asyncCount failed on 1 shard: offline \(/)
    expect(output).toContain("partial: 4000 failed: [ 'offline' ]")
    expect(output).toContain("busiest region over 500 users: [ { region: 'us', users: 2400 } ]")
    expect(output).toContain('find 7: eu - pick on no row: null')
    expect(output).toContain('acme lives on eu - users there: 1200')
  }, 60_000)
})
