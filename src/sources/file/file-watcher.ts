/**
 * The file source's watcher: `fs.watch` on the file's directory, so in-place writes, an atomic
 * replace (write a temp file, rename it over) and a Kubernetes ConfigMap symlink swap (the
 * `..data` link re-pointed) are all seen. Events are debounced, then the file is re-read with
 * the source's own `fetch`.
 */
import { statSync, watch as watchFs, type FSWatcher, type Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, resolve as resolvePath } from 'node:path'
import { SourceError, isSourceNotFoundError, type ComponentRequest, type ComponentSource } from '../source'
import {
  backoffDelay,
  createWatcherScope,
  readAndReport,
  type SourceWatchOptions,
  type SourceWatcher,
} from '../watch'

/** One read of the watched file: whether it is empty, and the component value it holds. */
export interface FileSnapshot {
  /** True when the file has no content (zero bytes, or only white space). */
  readonly empty: boolean
  /** The component value (parsed, `field` applied); throws as the source's `fetch` does. */
  value(): unknown
}

/** Settings of {@link watchFile}, taken from the file source's options. */
export interface FileWatchSettings {
  /** Relative keys resolve against this directory. Defaults to `process.cwd()`. */
  readonly baseDir?: string
  /**
   * Reads the file once (throws as `fetch` does: a missing file is a `SourceNotFoundError`).
   * With it, a file that became empty is taken as not written yet (see {@link watchFile}).
   * Defaults to none: the watcher reads with the source's `fetch`.
   */
  readonly read?: (request: ComponentRequest, signal: AbortSignal) => Promise<FileSnapshot>
}

/** The default quiet time after a file system event before the file is re-read, in ms. */
export const FILE_WATCH_DEBOUNCE_MS = 25

/** What tells one directory from another at the same path. */
interface DirectoryIdentity {
  readonly dev: number
  readonly ino: number
  readonly birthtimeMs: number
}

const identityOf = (stats: Stats): DirectoryIdentity => ({
  dev: stats.dev,
  ino: stats.ino,
  birthtimeMs: stats.birthtimeMs,
})

const isMissing = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * Watches the file a component reads, starting with one read once the directory is watched (so
 * a change made between the first resolve and the watch is not lost). A half-written or invalid
 * file is reported through `onError` (the last good value stays with the caller); a deleted file
 * through `onRemove`. A file that became empty (truncated before being written again, as many
 * editors and `writeFile` do) is not written yet: one `onError`, never a removal — a key is
 * removed only when a complete file lacks it (an empty file at the watcher's first read is read
 * as `fetch` reads it). When the directory cannot be watched (it does not exist yet), the watcher
 * reports the error once and retries with capped backoff (`backoff`). When the watched directory
 * is deleted, or replaced by another at the same path (a deploy swapping a folder, a ConfigMap
 * volume re-mounted), the file's removal is reported (not an outage) and the watch is re-armed on
 * the new directory, at once and then with capped backoff until it exists again.
 * `pollInterval`, when given, also re-reads the file (and checks the directory) on a timer, for
 * file systems without change events such as some network mounts.
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
  const directoryName = basename(directory)
  const debounceMs = options.debounce ?? FILE_WATCH_DEBOUNCE_MS
  const scope = createWatcherScope(options)
  const { signal, reporter } = scope

  let fsWatcher: FSWatcher | undefined
  /** The directory being watched; `undefined` while not armed. */
  let armed: DirectoryIdentity | undefined
  let debounceTimer: ReturnType<typeof setTimeout> | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let pollTimer: ReturnType<typeof setInterval> | undefined
  let failures = 0
  /** The watched directory went away: its absence is the file's removal, not an outage. */
  let vanished = false
  /** An event about the directory itself (deleted or moved): re-arm whatever stat says. */
  let selfEvent = false
  /** The last read found content (so an empty file now is one being written). */
  let hadContent = false
  scope.onStop(() => {
    disarm()
    for (const timer of [debounceTimer, retryTimer]) if (timer !== undefined) clearTimeout(timer)
    if (pollTimer !== undefined) clearInterval(pollTimer)
    debounceTimer = retryTimer = pollTimer = undefined
  })

  const readOnce = async (): Promise<void> => {
    const read = settings.read
    if (!read) return readAndReport(source, request, options, reporter, signal)
    let snapshot: FileSnapshot
    try {
      snapshot = await read(request, signal)
    } catch (error) {
      if (signal.aborted || !isSourceNotFoundError(error)) throw error
      hadContent = false
      return reporter.removed()
    }
    if (snapshot.empty && hadContent) {
      return reporter.error(
        new SourceError(`${source.name}: ${key} is empty (being written?); keeping the last value`, {
          source: source.name,
          key,
        }),
      )
    }
    hadContent = !snapshot.empty
    let value: unknown
    try {
      value = snapshot.value()
    } catch (error) {
      if (!isSourceNotFoundError(error)) throw error
      return reporter.removed()
    }
    reporter.value(value)
  }

  const read = scope.coalesce(() => readOnce().catch((error: unknown) => reporter.error(error)))

  /** True when the armed directory is still the one at the path; else re-arms. */
  const directoryHolds = async (): Promise<void> => {
    if (armed === undefined) return
    const expected = armed
    let same = false
    try {
      const now = identityOf(await stat(directory))
      same = now.dev === expected.dev && now.ino === expected.ino && now.birthtimeMs === expected.birthtimeMs
    } catch {
      same = false
    }
    if (signal.aborted || armed !== expected) return
    if (same && !selfEvent) return
    selfEvent = false
    vanished = true
    disarm()
    start()
  }

  const refresh = (): void => {
    if (signal.aborted) return
    void scope.track(directoryHolds().then(read))
  }

  const schedule = (): void => {
    if (signal.aborted) return
    if (debounceTimer !== undefined) clearTimeout(debounceTimer)
    debounceTimer = setTimeout(() => {
      debounceTimer = undefined
      refresh()
    }, debounceMs)
  }

  const disarm = (): void => {
    fsWatcher?.close()
    fsWatcher = undefined
    armed = undefined
  }

  const start = (): void => {
    retryTimer = undefined
    if (signal.aborted) return
    let identity: DirectoryIdentity
    try {
      identity = identityOf(statSync(directory))
      fsWatcher = watchFs(directory, { persistent: true }, (_event, filename) => {
        // null: the platform did not say which file; `..data` and friends: a ConfigMap swap; the
        // directory's own name: it was deleted or moved (Linux then watches nothing any more).
        const changed = filename === null ? null : String(filename)
        if (changed === directoryName) selfEvent = true
        if (changed === null || changed === name || changed === directoryName || changed.startsWith('..')) {
          schedule()
        }
      })
    } catch (error) {
      retry(error)
      return
    }
    armed = identity
    fsWatcher.on('error', (error) => retry(error))
    // Once watching, read: a change made before the watch began (or during an outage) is not lost.
    const recovering = failures > 0 || vanished
    failures = 0
    vanished = false
    if (recovering) schedule()
    else read()
  }

  const retry = (error: unknown): void => {
    disarm()
    if (signal.aborted) return
    failures += 1
    // A directory that went away after it was watched: the read reports the file's removal.
    if (vanished && isMissing(error)) read()
    else reporter.error(error)
    retryTimer = setTimeout(start, backoffDelay(failures, options.backoff))
  }

  if (!signal.aborted) start()
  if (!signal.aborted && options.pollInterval !== undefined && options.pollInterval > 0) {
    pollTimer = setInterval(refresh, options.pollInterval)
  }
  return scope.watcher
}
