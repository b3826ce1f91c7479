import type { ComponentUpdate, LiveComponents } from 'tributary'

/** What a handle published, and waits on it (real timers). */
export interface UpdateLog {
  readonly updates: ComponentUpdate[]
  /** Resolves once `predicate` holds, or rejects after `timeoutMs` listing what was heard. */
  until(predicate: (updates: readonly ComponentUpdate[]) => boolean, timeoutMs?: number): Promise<void>
  /** Short descriptions of the updates, e.g. `updated port 1→2`, `error port`. */
  lines(): string[]
}

export function describeUpdate(u: ComponentUpdate): string {
  const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v))
  if (u.kind === 'updated' || u.kind === 'removed')
    return `${u.kind} ${u.property} ${show(u.oldValue)}→${show(u.newValue)}`
  if (u.kind === 'added') return `added ${u.property} ${show(u.newValue)}`
  return `error ${u.property}`
}

export function logUpdates(live: LiveComponents<object>): UpdateLog {
  const updates: ComponentUpdate[] = []
  const waiters = new Set<() => void>()
  live.onUpdate((u) => {
    updates.push(u)
    for (const waiter of [...waiters]) waiter()
  })
  return {
    updates,
    lines: () => updates.map(describeUpdate),
    until(predicate, timeoutMs = 10_000) {
      if (predicate(updates)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(updates)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out; updates so far: ${JSON.stringify(updates.map(describeUpdate))}`))
        }, timeoutMs)
        waiters.add(check)
      })
    },
  }
}

/** The last update is `line` (see {@link describeUpdate}). */
export const lastIs =
  (line: string) =>
  (updates: readonly ComponentUpdate[]): boolean => {
    const last = updates.at(-1)
    return last !== undefined && describeUpdate(last) === line
  }

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
