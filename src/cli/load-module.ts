/**
 * Loads the user's module for the `tributary` command: JavaScript with `require` (or `import`
 * for `.mjs`), TypeScript through ts-node when it is installed.
 */
import { existsSync } from 'node:fs'
import { extname, resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UsageError } from './usage-error'

/** What a module exports, by name. */
export type ModuleExports = Readonly<Record<string, unknown>>

const TS_EXTENSIONS = new Set(['.ts', '.cts', '.mts', '.tsx'])
const REGISTERED = Symbol.for('ts-node.register.instance')

// A real dynamic import, which TypeScript's CommonJS output would otherwise turn into require().
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<Record<string, unknown>>

/** Loads `path` (relative to `cwd`) and returns its exports. */
export async function loadModule(path: string, cwd: string = process.cwd()): Promise<ModuleExports> {
  const file = resolvePath(cwd, path)
  if (!existsSync(file)) throw new UsageError(`module not found: ${path} (looked at ${file})`)
  const extension = extname(file)
  if (TS_EXTENSIONS.has(extension)) registerTypeScript(path)
  if (extension === '.mjs') return await importModule(pathToFileURL(file).href)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(file) as Record<string, unknown>
  return loaded
}

function registerTypeScript(path: string): void {
  if ((process as unknown as Record<symbol, unknown>)[REGISTERED]) return
  let tsNode: { register(options: Record<string, unknown>): unknown }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    tsNode = require('ts-node') as typeof tsNode
  } catch {
    throw new UsageError(
      `${path} is TypeScript: loading it needs ts-node (npm install --save-dev ts-node typescript), ` +
        'or point the command at compiled JavaScript',
    )
  }
  tsNode.register({
    transpileOnly: true,
    compilerOptions: {
      module: 'commonjs',
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
    },
  })
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
