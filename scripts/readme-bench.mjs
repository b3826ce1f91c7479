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

/** A number as a figure: integers whole, others to two decimals (no decimals past 1,000). */
const figure = (n) => (Number.isInteger(n) ? String(n) : Math.abs(n) >= 1000 ? n.toFixed(0) : n.toFixed(2))

/** An extra's value as text: a figure, a string as the bench wrote it, an object's fields. */
function shown(value) {
  if (typeof value === 'number') return figure(value)
  if (typeof value === 'string') return value.replace(/x\b/g, '×')
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k} ${shown(v)}`)
      .join(', ')
  }
  return String(value)
}

/**
 * An extra figure of a bench: its goal when its name states one ("label (goal <= 1.10x)").
 * `sink` is a bench's guard against dead-code elimination, not a figure.
 */
function extraRow(name, value) {
  if (name === 'sink') return undefined
  const goal = /\(goal ([^)]*)\)/.exec(name)
  const label = name.replace(/\s*\(goal [^)]*\)/, '').replace(/:\s*$/, '')
  return [label, '', shown(value), goal ? goal[1] : '']
}

function table() {
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
