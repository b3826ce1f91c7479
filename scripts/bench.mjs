// Runs every bench/*.bench.ts (or those named on the command line), each in its own process,
// then gathers bench/results/<name>.json into bench/results/latest.json.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const benchDir = join(root, 'bench')
const wanted = process.argv.slice(2)
const files = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort()

let failed = 0
for (const file of files) {
  console.log(`\n# ${file}`)
  const run = spawnSync(
    process.execPath,
    ['--expose-gc', '-r', 'ts-node/register/transpile-only', join(benchDir, file)],
    {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    },
  )
  if (run.status !== 0) {
    failed++
    console.error(`${file} exited with ${run.status}`)
  }
}

const resultsDir = join(benchDir, 'results')
const latest = {}
if (existsSync(resultsDir)) {
  for (const f of readdirSync(resultsDir).filter((f) => f.endsWith('.json') && f !== 'latest.json')) {
    const data = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'))
    latest[data.bench] = data
  }
}
writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(latest, null, 2) + '\n')
console.log(`\nwrote bench/results/latest.json (${Object.keys(latest).length} benchmarks)`)
spawnSync(process.execPath, [join(root, 'scripts', 'bench-report.mjs')], { stdio: 'inherit' })
spawnSync(process.execPath, [join(root, 'scripts', 'readme-bench.mjs')], { stdio: 'inherit' })
process.exit(failed ? 1 : 0)
