/**
 * The file source's watcher: `fs.watch` on the file's directory, so in-place writes, an atomic
 * replace (write a temp file, rename it over) and a Kubernetes ConfigMap symlink swap (the
 * `..data` link re-pointed) are all seen. Events are debounced, then the file is re-read with
 * the source's own `fetch`.
 */
import { watch as watchFs, type FSWatcher } from 'node:fs'
import { basename, dirname, isAbsolute, resolve as resolvePath } from 'node:path'
import type { ComponentRequest, ComponentSource } from '../source'
import {
  backoffDelay,
  createWatcherScope,
  readAndReport,
  type SourceWatchOptions,
  type SourceWatcher,
} from '../watch'

/** Settings of {@link watchFile}, taken from the file source's options. */
export interface FileWatchSettings {
  /** Relative keys resolve against this directory. Defaults to `process.cwd()`. */
  readonly baseDir?: string
}

/** The default quiet time after a file system event before the file is re-read, in ms. */
export const FILE_WATCH_DEBOUNCE_MS = 25

/**
 * Watches the file a component reads, starting with one read once the directory is watched (so
 * a change made between the first resolve and the watch is not lost). A half-written or invalid file is reported through
 * `onError` (the last good value stays with the caller); a deleted file through `onRemove`. When
 * the directory cannot be watched (it does not exist yet, or was removed), the watcher reports
 * the error once and retries with capped backoff. `pollInterval`, when given, also re-reads the
 * file on a timer (for file systems without change events, such as some network mounts).
 *
 * @example
 * ```ts
 * import { fileSource } from 'tributary'
 * const source = fileSource({ baseDir: '/etc/app' })
 * const watcher = source.watch?.({ className: 'AppConfig', property: 'port', key: 'app.yaml', field: 'port', secret: false }, {
 *   signal, onChange: (v) => console.log(v), onRemove() {}, onError: console.error,
 * })
 * ```
 */
export function watchFile(
  source: ComponentSource,
  request: ComponentRequest,
  options: SourceWatchOptions,
  settings: FileWatchSettings = {},
): SourceWatcher {
  const key = request.key ?? request.property
  const path = isAbsolute(key) ? key : resolvePath(settings.baseDir ?? process.cwd(), key)
  const directory = dirname(path)
  const name = basename(path)
  const debounceMs = options.debounce ?? FILE_WATCH_DEBOUNCE_MS
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope

  let fsWatcher: FSWatcher | undefined
  let debounceTimer: ReturnType<typeof setTimeout> | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let pollTimer: ReturnType<typeof setInterval> | undefined
  let failures = 0
  scope.onStop(() => {
    fsWatcher?.close()
    fsWatcher = undefined
    for (const timer of [debounceTimer, retryTimer]) if (timer !== undefined) clearTimeout(timer)
    if (pollTimer !== undefined) clearInterval(pollTimer)
    debounceTimer = retryTimer = pollTimer = undefined
  })

  const read = scope.coalesce(() =>
    readAndReport(source, request, options, reporter, signal).catch((error: unknown) =>
      reporter.error(error),
    ),
  )

  const schedule = (): void => {
    if (signal.aborted) return
    if (debounceTimer !== undefined) clearTimeout(debounceTimer)
    debounceTimer = setTimeout(() => {
      debounceTimer = undefined
      read()
    }, debounceMs)
  }

  const start = (): void => {
    retryTimer = undefined
    if (signal.aborted) return
    try {
      fsWatcher = watchFs(directory, { persistent: true }, (_event, filename) => {
        // null: the platform did not say which file; `..data` and friends: a ConfigMap swap.
        const changed = filename === null ? null : String(filename)
        if (changed === null || changed === name || changed.startsWith('..')) schedule()
      })
    } catch (error) {
      retry(error)
      return
    }
    fsWatcher.on('error', (error) => retry(error))
    // Once watching, read: a change made before the watch began (or during an outage) is not lost.
    const recovering = failures > 0
    failures = 0
    if (recovering) schedule()
    else read()
  }

  const retry = (error: unknown): void => {
    fsWatcher?.close()
    fsWatcher = undefined
    if (signal.aborted) return
    failures += 1
    reporter.error(error)
    retryTimer = setTimeout(start, backoffDelay(failures, options.backoff))
  }

  if (!signal.aborted) start()
  if (!signal.aborted && options.pollInterval !== undefined && options.pollInterval > 0) {
    pollTimer = setInterval(read, options.pollInterval)
  }
  return scope.watcher
}
