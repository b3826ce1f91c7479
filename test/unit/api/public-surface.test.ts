// The public surface is pinned (issue 18): every name `tributary` exports is listed in
// public-names.txt, so a new export — or a lost one — is a decision made in review, not a side
// effect of an `export *`. To accept a change: node -r ts-node/register/transpile-only
// test/unit/api/surface.ts > test/unit/api/public-names.txt
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { publicNames } from './surface'

describe('the public surface', () => {
  it('is exactly the pinned list of names', () => {
    const pinned = readFileSync(join(__dirname, 'public-names.txt'), 'utf8').trim().split('\n')
    expect(publicNames()).toEqual(pinned)
  }, 30_000)

  it('keeps the internals out: merge helpers, watchers, timing constants, the retry loop, schedulers, option resolvers', () => {
    const names = new Set(publicNames().map((line) => line.split(' ')[0]))
    for (const internal of [
      'mergeAvg',
      'watchConsul',
      'CONSUL_WAIT_MS',
      'runWithRetry',
      'neverAborted',
      'openShardManagers',
      'createDebouncer',
      'createUpdateHub',
      'resolveOptions',
      'checkTransportOptions',
      'describeCause',
    ]) {
      expect(names.has(internal)).toBe(false)
    }
  }, 30_000)
})
