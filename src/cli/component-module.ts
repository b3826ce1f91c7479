/**
 * Finds, in a loaded module, the decorated class a command works on and the `sources` it is
 * resolved with.
 */
import type { ComponentSources } from '../components/resolver'
import { componentsOf } from '../components/metadata'
import type { ComponentClass } from '../components/resolver'
import { exportedFunctions, type ExportedFunction, type ModuleExports } from './load-module'
import { UsageError } from './usage-error'

/** What `explain` and `watch` need from the module. */
export interface ComponentModule {
  readonly Class: ComponentClass<object>
  readonly sources: ComponentSources
  /** Closes the sources, then runs the module's optional exported `dispose()` (or `close()`). */
  dispose(): Promise<void>
}

/**
 * Picks the class (`--class Name`, else the one exported class with `@Component` properties)
 * and the sources (an exported `sources` array or record, or a function returning one).
 */
export async function componentModule(
  moduleExports: ModuleExports,
  path: string,
  className: string | undefined,
  usage: string,
): Promise<ComponentModule> {
  const candidates = exportedFunctions(moduleExports).filter(([, value]) => {
    try {
      return componentsOf(value as unknown as ComponentClass<object>).length > 0
    } catch {
      return false
    }
  })
  let chosen: [string, ExportedFunction] | undefined
  if (className !== undefined) {
    chosen = candidates.find(([name, value]) => name === className || value.name === className)
    if (!chosen) {
      throw new UsageError(
        `${path} exports no class ${className} with @Component properties` +
          (candidates.length ? ` (found: ${candidates.map(([n]) => n).join(', ')})` : ''),
        usage,
      )
    }
  } else if (candidates.length === 1) {
    chosen = candidates[0]
  } else if (candidates.length === 0) {
    throw new UsageError(`${path} exports no class with @Component properties`, usage)
  } else {
    throw new UsageError(
      `${path} exports several classes with @Component properties (${candidates.map(([n]) => n).join(', ')}): choose one with --class`,
      usage,
    )
  }
  const raw = moduleExports.sources
  if (raw === undefined)
    throw new UsageError(`${path} exports no \`sources\` (an array or record of sources)`, usage)
  const sources = (typeof raw === 'function' ? await (raw as () => unknown)() : raw) as ComponentSources
  if (sources === null || typeof sources !== 'object') {
    throw new UsageError(`${path}: \`sources\` must be an array or record of sources`, usage)
  }
  const list = Array.isArray(sources) ? sources : Object.values(sources)
  const dispose = (moduleExports.dispose ?? moduleExports.close) as (() => unknown) | undefined
  return {
    Class: chosen![1] as unknown as ComponentClass<object>,
    sources,
    async dispose() {
      await Promise.allSettled(list.map((source: { close?: () => Promise<void> }) => source.close?.()))
      if (typeof dispose === 'function') await dispose()
    },
  }
}
