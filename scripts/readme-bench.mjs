// Writes the README's benchmark table from bench/results/latest.json, between
// <!-- bench:table --> and <!-- /bench:table -->, so that every figure the README states is
// the one measured last and stated once (sections link to the table). `--check` writes
// nothing and fails when the README's table is not the one latest.json gives (npm run lint).
// Run by `npm run bench` after the benchmarks.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const latest = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8'))
const readmePath = join(root, 'README.md')
const START = '<!-- bench:table -->'
const END = '<!-- /bench:table -->'

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ')
const times = (n) => `${n.toFixed(2)}×`

/** A result row: the ratio as the goal reads it (a throughput goal as throughput). */
function resultRow(r) {
  const throughput = /throughput/i.test(r.goal ?? '')
  const ratio = throughput ? `${times(1 / r.ratio)} the throughput` : `${times(r.ratio)} the time`
  return [r.name, r.baseline, ratio, r.goal ?? '']
}

/** An extra figure that states its goal in its name: "label (goal <= 1.10x)": "a / b = 0.88x". */
function extraRow(name, value) {
  const goal = /\(goal ([^)]*)\)/.exec(name)
  if (!goal) return undefined
  const label = name.replace(/\s*\(goal [^)]*\)/, '').replace(/:\s*$/, '')
  const shown = typeof value === 'string' ? value : JSON.stringify(value)
  return [label, '', shown.replace(/x\b/g, '×'), goal[1]]
}

export function table() {
  const lines = []
  for (const name of Object.keys(latest).sort()) {
    const bench = latest[name]
    lines.push(
      '',
      `<details id="bench-${name}"><summary><b>${name}</b>: <code>npm run bench -- ${name}</code>, measured ${bench.at.slice(0, 10)}</summary>`,
      '',
      '| case | against | ratio | goal |',
      '|---|---|---|---|',
    )
    const rows = bench.results.map(resultRow)
    for (const [key, value] of Object.entries(bench.extra ?? {})) {
      const row = extraRow(key, value)
      if (row) rows.push(row)
    }
    for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`)
    lines.push('', '</details>')
  }
  return lines.join('\n').trimStart()
}

const readme = readFileSync(readmePath, 'utf8')
const from = readme.indexOf(START)
const to = readme.indexOf(END)
if (from < 0 || to < from) {
  console.error(`README.md has no ${START} … ${END} block`)
  process.exit(1)
}
const next = `${readme.slice(0, from + START.length)}\n${table()}\n${readme.slice(to)}`
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error(
      'README.md: the benchmark table is not the one bench/results/latest.json gives; run `node scripts/readme-bench.mjs` (npm run bench does)',
    )
    process.exit(1)
  }
} else if (next !== readme) {
  writeFileSync(readmePath, next)
  console.log('wrote the benchmark table in README.md')
}
