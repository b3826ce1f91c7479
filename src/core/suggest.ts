/**
 * "Did you mean …?" for misspelt option names: the closest known name by edit distance.
 */

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length] as number
}

/** The closest known name to `name`, if one is close enough to be a likely typo. @internal */
export function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

/**
 * ` (did you mean "y"?)` when a known name is close to `name` (each side prefixed with
 * `prefix`, e.g. `'rateLimit.'`), else `''`: the tail of every "unknown option" message. @internal
 */
export function didYouMean(name: string, known: readonly string[], prefix = ''): string {
  const hint = suggest(name, known)
  return hint === undefined ? '' : ` (did you mean ${JSON.stringify(`${prefix}${hint}`)}?)`
}
