/**
 * A tiny side-by-side benchmark harness. Each comparison runs the subject and its baseline
 * alternately (A, B, A, B…) so that drift on the machine affects both, takes the median of
 * several runs, and prints the ratio. Results are written to `bench/results/<bench>.json`,
 * which `npm run bench` gathers into `bench/results/latest.json`.
 *
 * Figures are measured, never asserted: a benchmark prints; it does not fail on a slow run.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

/** One timed case. `run` performs `iterations` operations (or one, for wall-time cases). */
export interface BenchCase {
  readonly label: string
  run(): Promise<void> | void
  /** Untimed work before each run (for example a full GC, so runs start from the same heap). */
  before?(): Promise<void> | void
}

/** Options for {@link compare}. */
export interface CompareOptions {
  /** Operations one call of `run()` performs (for per-op figures). Defaults to 1. */
  operationsPerRun?: number
  /** Measured runs of each side. Defaults to 7. */
  runs?: number
  /** Unmeasured runs of each side first. Defaults to 2. */
  warmup?: number
  /** The goal, printed beside the ratio, e.g. `'<= 1.5x'`. */
  goal?: string
}

/** One comparison's figures (times in ms per run, medians). */
export interface ComparisonResult {
  readonly name: string
  readonly subject: string
  readonly baseline: string
  readonly subjectMs: number
  readonly baselineMs: number
  /** subject time / baseline time: below 1 means the subject is faster. */
  readonly ratio: number
  readonly operationsPerRun: number
  readonly runs: number
  readonly goal?: string
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

async function time(c: BenchCase): Promise<number> {
  await c.before?.()
  const start = performance.now()
  await c.run()
  return performance.now() - start
}

/** Runs `subject` and `baseline` alternately and returns the medians and their ratio. */
export async function compare(
  name: string,
  subject: BenchCase,
  baseline: BenchCase,
  options: CompareOptions = {},
): Promise<ComparisonResult> {
  const runs = options.runs ?? 7
  const warmup = options.warmup ?? 2
  for (let i = 0; i < warmup; i++) {
    await time(subject)
    await time(baseline)
  }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      a.push(await time(subject))
      b.push(await time(baseline))
    } else {
      b.push(await time(baseline))
      a.push(await time(subject))
    }
  }
  const subjectMs = median(a)
  const baselineMs = median(b)
  return {
    name,
    subject: subject.label,
    baseline: baseline.label,
    subjectMs,
    baselineMs,
    ratio: subjectMs / baselineMs,
    operationsPerRun: options.operationsPerRun ?? 1,
    runs,
    goal: options.goal,
  }
}

/** Measures one case alone: the median wall time of `runs` runs, in ms. */
export async function measure(c: BenchCase, runs = 7, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await time(c)
  const values: number[] = []
  for (let i = 0; i < runs; i++) values.push(await time(c))
  return median(values)
}

function formatMs(ms: number, ops: number): string {
  const per = ms / ops
  if (ops === 1) return `${ms.toFixed(2)} ms`
  return per < 0.001
    ? `${(per * 1e6).toFixed(0)} ns/op`
    : per < 1
      ? `${(per * 1e3).toFixed(2)} µs/op`
      : `${per.toFixed(2)} ms/op`
}

/** A description of this machine, recorded with every result. */
export function machine(): Record<string, string | number> {
  const cpu = cpus()
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  }
}

/**
 * Prints comparisons as a table and writes them (plus any extra figures) to
 * `bench/results/<bench>.json`.
 */
export function report(
  bench: string,
  results: ComparisonResult[],
  extra: Record<string, unknown> = {},
): void {
  console.log(`\n## ${bench}`)
  const rows = results.map((r) => [
    r.name,
    `${r.subject}: ${formatMs(r.subjectMs, r.operationsPerRun)}`,
    `${r.baseline}: ${formatMs(r.baselineMs, r.operationsPerRun)}`,
    `${r.ratio.toFixed(2)}x`,
    r.goal ?? '',
  ])
  const header = ['case', 'tributary', 'baseline', 'ratio (time)', 'goal']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
  for (const [key, value] of Object.entries(extra))
    console.log(`${key}: ${typeof value === 'number' ? value.toFixed(3) : JSON.stringify(value)}`)
  const dir = join(__dirname, '..', 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, `${bench}.json`),
    JSON.stringify({ bench, at: new Date().toISOString(), machine: machine(), results, extra }, null, 2) +
      '\n',
  )
}

/**
 * Median client CPU time per call (µs, user + system) of `a` and `b`, `ops` calls at a time,
 * over `rounds` rounds that alternate which side goes first. CPU time, not wall time: a
 * server's round trip would drown the client's own work.
 */
export async function cpuPerOp(
  a: () => PromiseLike<unknown>,
  b: () => PromiseLike<unknown>,
  ops: number,
  rounds = 9,
): Promise<[number, number]> {
  const one = async (fn: () => PromiseLike<unknown>): Promise<number> => {
    const start = process.cpuUsage()
    for (let i = 0; i < ops; i++) await fn()
    const used = process.cpuUsage(start)
    return (used.user + used.system) / ops
  }
  const xs: number[] = []
  const ys: number[] = []
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      xs.push(await one(a))
      ys.push(await one(b))
    } else {
      ys.push(await one(b))
      xs.push(await one(a))
    }
  }
  return [median(xs), median(ys)]
}
