/**
 * `fileSource()`: components read from JSON, YAML and `.env` files.
 */
import { checkOptions, checks, type OptionSpec } from '../../core/option-checks'
import { readFile } from 'node:fs/promises'
import { basename, extname, isAbsolute, resolve as resolvePath } from 'node:path'
import { parseEnv } from 'node:util'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { abortError } from '../../core/abort'
import {
  SourceError,
  SourceNotFoundError,
  SourcePermissionError,
  selectField,
  type ComponentRequest,
  type SourceContext,
} from '../source'
import type { WatchableSource } from '../watch'
import { watchFile, type FileSnapshot } from './file-watcher'

/** What `fileSource(options)` may hold. */
const FILE_OPTIONS: OptionSpec = { baseDir: checks.string, name: checks.name }

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Relative keys resolve against this directory. Defaults to `process.cwd()` at fetch time. */
  readonly baseDir?: string
  /** The name `fetchFrom` refers to. Defaults to `'file'`. */
  readonly name?: string
}

/**
 * A source reading files. The key is the file's path (relative paths resolve against
 * `baseDir`); the extension picks the format: `.json` and `.yaml`/`.yml` are parsed,
 * `.env`, `.env.*` and `*.env` are dotenv files (`util.parseEnv`), anything else is returned as text. `field` is a dotted path inside the parsed document
 * (`'db.primary.url'`, `'hosts.0'`). A missing file or field is a `SourceNotFoundError`; a
 * parse error names the file and position, never the content. `watch` follows the file through
 * in-place writes, atomic replaces and ConfigMap symlink swaps (see `watchFile`).
 *
 * @example
 * ```ts
 * import { Component, fileSource, resolve } from 'tributary'
 * class AppConfig {
 *   @Component({ fetchFrom: 'file', key: 'config/app.yaml', field: 'server.port' }) port!: number
 * }
 * const config = await resolve(AppConfig, { sources: [fileSource({ baseDir: __dirname })] })
 * ```
 */
export function fileSource(options: FileSourceOptions = {}): WatchableSource {
  checkOptions('fileSource(options)', options, FILE_OPTIONS)
  const name = options.name ?? 'file'
  const source: WatchableSource = {
    name,
    appliesField: true,
    async fetch(request: ComponentRequest, context: SourceContext): Promise<unknown> {
      return (await read(request, context.signal)).value()
    },
    watch: (request, watchOptions) =>
      watchFile(source, request, watchOptions, {
        ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
        read,
      }),
  }
  const read = async (request: ComponentRequest, signal: AbortSignal): Promise<FileSnapshot> => {
    const key = request.key ?? request.property
    const path = isAbsolute(key) ? key : resolvePath(options.baseDir ?? process.cwd(), key)
    const details = { source: name, key }
    let text: string
    try {
      text = await readFile(path, { encoding: 'utf8', signal })
    } catch (error) {
      if (signal.aborted) throw abortError(signal, `${name} fetch`)
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new SourceNotFoundError({ ...details, cause: error }, `${name}: file ${key} not found`)
      }
      if (code === 'EACCES' || code === 'EPERM') {
        throw new SourcePermissionError({ ...details, cause: error }, `${name}: cannot read ${key} (${code})`)
      }
      throw new SourceError(`${name}: cannot read ${key} (${code ?? 'unknown error'})`, {
        ...details,
        cause: error,
      })
    }
    return {
      empty: text.trim() === '',
      value() {
        const document = parseDocument(text, formatOf(path), name, key)
        return request.field === undefined ? document : selectField(document, request.field, details)
      },
    }
  }
  return source
}

/** The format by extension; `.env`, `.env.local` and `app.env` are all dotenv files. */
function formatOf(path: string): string {
  const base = basename(path).toLowerCase()
  if (base === '.env' || base.startsWith('.env.')) return '.env'
  return extname(base)
}

function parseDocument(text: string, extension: string, name: string, key: string): unknown {
  switch (extension) {
    case '.json':
      try {
        return JSON.parse(text)
      } catch (error) {
        // V8 messages quote the content; keep only the position.
        const position = /position (\d+)/.exec(String((error as Error).message))?.[1]
        throw new SourceError(
          `${name}: ${key} is not valid JSON${position === undefined ? '' : ` (at position ${position})`}`,
          { source: name, key },
        )
      }
    case '.yaml':
    case '.yml':
      try {
        return parseYaml(text)
      } catch (error) {
        // The yaml package's messages end with a code frame of the content; keep only the position.
        const where =
          error instanceof YAMLParseError && error.linePos
            ? ` (line ${error.linePos[0].line}, column ${error.linePos[0].col})`
            : ''
        const code = error instanceof YAMLParseError ? `: ${error.code}` : ''
        throw new SourceError(`${name}: ${key} is not valid YAML${where}${code}`, { source: name, key })
      }
    case '.env':
      return parseEnv(text)
    default:
      return text
  }
}
