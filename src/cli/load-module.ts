/**
 * Loads the user's module for the `tributary` command, in either module system: `.cjs` with
 * `require`, `.mjs` with `import`, `.js` as its package's `"type"` says (`require`, or
 * `import` for an ES module). TypeScript (`.ts`, `.mts`, `.cts`, `.tsx`) loads through tsx
 * (an optional peer dependency), which compiles each file for the module system it belongs to
 * and reads the `tsconfig.json` nearest the file; without tsx, Node's own type stripping
 * where the Node version has it (`process.features.typescript`), or a TypeScript loader the
 * process already runs (ts-node's `-r ts-node/register`); otherwise a {@link UsageError} that
 * says to install tsx.
 */
import { existsSync } from 'node:fs'
import { dirname, extname, join, resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UsageError } from './usage-error'

/** What a module exports, by name. */
export type ModuleExports = Readonly<Record<string, unknown>>

const TS_EXTENSIONS = new Set(['.ts', '.cts', '.mts', '.tsx'])
const TS_NODE_REGISTERED = Symbol.for('ts-node.register.instance')

/** The part of tsx's `tsx/esm/api` the command uses. */
interface TsxApi {
  tsImport(specifier: string, options: { parentURL: string; tsconfig?: string }): Promise<ModuleExports>
}

// A real dynamic import, which TypeScript's CommonJS output would otherwise turn into require().
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<ModuleExports>

/** Loads `path` (relative to `cwd`) and returns its exports. */
export async function loadModule(path: string, cwd: string = process.cwd()): Promise<ModuleExports> {
  const file = resolvePath(cwd, path)
  if (!existsSync(file)) throw new UsageError(`module not found: ${path} (looked at ${file})`)
  const extension = extname(file)
  if (TS_EXTENSIONS.has(extension)) return await loadTypeScript(path, file)
  if (extension === '.mjs' || (extension === '.js' && packageType(file) === 'module')) {
    return await importModule(pathToFileURL(file).href)
  }
  return requireFile(file)
}

async function loadTypeScript(path: string, file: string): Promise<ModuleExports> {
  if ((process as unknown as Record<symbol, unknown>)[TS_NODE_REGISTERED] && !isEsm(file)) {
    return requireFile(file)
  }
  const tsx = await loadTsx()
  if (tsx) {
    const tsconfig = nearest(dirname(file), 'tsconfig.json')
    return await tsx.tsImport(pathToFileURL(file).href, {
      parentURL: pathToFileURL(__filename).href,
      ...(tsconfig === undefined ? {} : { tsconfig }),
    })
  }
  if ((process.features as { typescript?: unknown }).typescript) {
    return await importModule(pathToFileURL(file).href)
  }
  throw new UsageError(
    `${path} is TypeScript: loading it needs tsx (npm install -D tsx), ` +
      'or point the command at compiled JavaScript',
  )
}

/**
 * tsx's API (`tsx/esm/api`, its ES module build: the CommonJS build cannot register its
 * loader), or `undefined` when tsx is not installed.
 */
async function loadTsx(): Promise<TsxApi | undefined> {
  let manifest: string
  try {
    manifest = require.resolve('tsx/package.json')
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') return undefined
    throw error
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { exports } = require(manifest) as { exports?: Record<string, unknown> }
  const entry = exports?.['./esm/api']
  const target = typeof entry === 'string' ? entry : (entry as { import?: unknown } | undefined)?.import
  const file = typeof target === 'string' ? target : (target as { default?: unknown } | undefined)?.default
  if (typeof file !== 'string') {
    throw new UsageError(
      `the installed tsx (${manifest}) has no tsx/esm/api: install tsx 4 (npm install -D tsx)`,
    )
  }
  return (await importModule(pathToFileURL(join(dirname(manifest), file)).href)) as unknown as TsxApi
}

function requireFile(file: string): ModuleExports {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as ModuleExports
}

/** True when `file` is an ES module by its extension or its package's `"type"`. */
function isEsm(file: string): boolean {
  const extension = extname(file)
  if (extension === '.mts' || extension === '.mjs') return true
  if (extension === '.cts' || extension === '.cjs') return false
  return packageType(file) === 'module'
}

/** The `"type"` of the package `file` belongs to (the nearest package.json), `commonjs` by default. */
function packageType(file: string): string {
  const manifest = nearest(dirname(file), 'package.json')
  if (manifest === undefined) return 'commonjs'
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { type } = require(manifest) as { type?: unknown }
  return type === 'module' ? 'module' : 'commonjs'
}

/** The path of the file `name` in `dir` or the nearest directory above it, if any. */
function nearest(dir: string, name: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, name)
    if (existsSync(candidate)) return candidate
    if (dirname(current) === current) return undefined
  }
}

/** A class or function a module exports. */
export type ExportedFunction = (...args: never[]) => unknown

/** The exported functions (classes included) of a module, by export name. */
export function exportedFunctions(
  moduleExports: ModuleExports,
): Array<[name: string, value: ExportedFunction]> {
  return Object.entries(moduleExports).filter(
    (entry): entry is [string, ExportedFunction] => typeof entry[1] === 'function',
  )
}
