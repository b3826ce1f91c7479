// examples/components.ts run as a user runs it (ts-node, no server): it exits 0 and prints the
// explain() table with the secret masked, a cached second resolve and the collected failures;
// the Redis component appears only when Redis answers.
import { runExample as run } from '../../support/examples'
import { describeWithRedis } from '../../support/services'

const runExample = (env: Record<string, string> = {}): Promise<string> => run('components.ts', env)

function rows(output: string): Map<string, string[]> {
  const lines = output.split('\n')
  const start = lines.findIndex((line) => line.startsWith('property'))
  const table = new Map<string, string[]>()
  for (const line of lines.slice(start + 2)) {
    if (line.trim() === '') break
    const cells = line.split(/\s{2,}/)
    table.set(cells[0] as string, cells)
  }
  return table
}

describe('examples/components.ts', () => {
  it('runs without Redis: the table, the masked secret, the cache and the failures', async () => {
    const output = await runExample({ TRIBUTARY_REDIS_URL: 'redis://127.0.0.1:1' })
    expect(output).toContain('(Redis is not reachable: resolving without the Redis component)')
    const table = rows(output)
    expect([...table.keys()]).toEqual([
      'host',
      'debug',
      'port',
      'features',
      'limits',
      'apiKey',
      'schema',
      'maintenanceUntil',
    ])
    expect(table.get('host')?.slice(1, 5)).toEqual(['env', 'HOST', 'localhost', 'fallback'])
    expect(table.get('apiKey')?.slice(1, 5)).toEqual(['vault', 'secret/data/app', '***', 'source'])
    expect(table.get('schema')?.slice(3, 5)).toEqual(['7', 'source'])
    expect(table.get('maintenanceUntil')?.[4]).toBe('missing')
    expect(output).not.toContain('k-7f3a9c')
    expect(output).toContain('limits: 25 rps = 1500/min (a Limits instance)')
    expect(output).toContain('second resolve: limits from cache, 0 attempts')
    expect(output).toContain('Broken: 2 component(s) failed to resolve:')
    expect(output).toContain(
      'Broken.pin (source "vault", key "secret/data/app"): cannot convert *** to number',
    )
    expect(output).toContain('(resolved anyway: port)')
  }, 60_000)
})

describeWithRedis('examples/components.ts with Redis', () => {
  it('adds the Redis component of the subclass', async () => {
    const table = rows(await runExample())
    expect(table.get('theme')?.slice(1, 5)).toEqual(['redis', 'settings', 'dark', 'source'])
    expect(table.has('host')).toBe(true)
  }, 60_000)
})
