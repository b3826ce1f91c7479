/**
 * `npm run demo`: runs each capability's example in turn on embedded defaults (SQLite files,
 * env, local files, in-process Consul and Vault doubles) — no server needed. When
 * TRIBUTARY_PG_URL or TRIBUTARY_REDIS_URL are set, examples that can use them do.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const sections: Array<[title: string, file: string]> = [
  ['The async core', 'core.ts'],
  ['Components', 'components.ts'],
  ['Models', 'models.ts'],
  ['Event bus', 'event-bus.ts'],
  ['Query store', 'query-store.ts'],
]

const colour = process.stdout.isTTY ? (s: string) => `\u001b[1;36m${s}\u001b[0m` : (s: string) => s
let failed = 0
for (const [title, file] of sections) {
  const path = join(__dirname, file)
  if (!existsSync(path)) continue
  console.log(`\n${colour(`== ${title} (examples/${file}) ==`)}`)
  const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path], {
    stdio: 'inherit',
  })
  if (run.status !== 0) {
    failed++
    console.error(`examples/${file} exited with ${run.status}`)
  }
}
process.exit(failed ? 1 : 0)
