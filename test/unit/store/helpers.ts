/** Shared helpers for the store's unit tests. */

/** Lets pending promise callbacks and batched notifications run (fake timers advance by 0). */
export async function settle(): Promise<void> {
  await jest.advanceTimersByTimeAsync(0)
}

/** A promise resolved or rejected from outside, for fetchers that answer on the test's cue. */
export function deferred<T>(): {
  promise: Promise<T>
  resolve(value: T): void
  reject(error: unknown): void
} {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
