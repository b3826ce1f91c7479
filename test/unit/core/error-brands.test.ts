/**
 * Error brands: names and guards come from each class's literal `kind`, never from
 * `constructor.name`, which bundlers and minifiers rename (`AsyncTimeoutError2`, `Xm`). The
 * minifier is simulated by renaming every exported class of a freshly loaded copy of the
 * package before anything is constructed; test/integration/package.test.ts runs a real
 * `esbuild --minify` bundle.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

type Tributary = typeof import('../../../src')

const srcRoot = join(__dirname, '..', '..', '..', 'src')

/** A fresh copy of the package whose every exported class has a mangled `name`, as after minification. */
function minifiedCopy(): Tributary {
  let copy: Tributary | undefined
  jest.isolateModules(() => {
    copy = require('../../../src') as Tributary
  })
  let i = 0
  for (const value of Object.values(copy!)) {
    if (typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value)))
      Object.defineProperty(value, 'name', { value: `X${(i++).toString(36)}`, configurable: true })
  }
  return copy!
}

/** Every exported class whose instances are errors. */
function errorClasses(module: Tributary): Array<[string, { kind?: unknown }]> {
  const entries: Array<[string, unknown]> = Object.entries(module)
  return entries.filter(
    (entry): entry is [string, { kind?: unknown }] =>
      typeof entry[1] === 'function' && (entry[1] as { prototype?: unknown }).prototype instanceof Error,
  )
}

describe('error brands', () => {
  it('give every exported error class its own literal kind, equal to its name in the source', () => {
    const module = require('../../../src') as Tributary
    const classes = errorClasses(module)
    expect(classes.length).toBeGreaterThan(30)
    const unbranded = classes
      .filter(([name, cls]) => !Object.hasOwn(cls, 'kind') || cls.kind !== name)
      .map(([name]) => name)
    expect(unbranded).toEqual([])
  })

  it('give every error class in the sources, exported or not, a kind equal to its name', () => {
    const found: string[] = []
    const unbranded: string[] = []
    for (const file of readdirSync(srcRoot, { recursive: true, encoding: 'utf8' })) {
      // src/live is branded by the live components' owner.
      if (!file.endsWith('.ts') || file.startsWith('live')) continue
      const text = readFileSync(join(srcRoot, file), 'utf8')
      for (const m of text.matchAll(
        /class (\w+) extends \w*Error \{\n(?:\s*\/\*\*.*\*\/\n)?(?:\s*static (?:override )?readonly kind: string = '(\w+)')?/g,
      )) {
        found.push(m[1]!)
        if (m[2] !== m[1]) unbranded.push(`${file}: ${m[1]}`)
      }
    }
    expect(found).toEqual(expect.arrayContaining(['NoValueError', 'DependencyError', 'AsyncTimeoutError']))
    expect(unbranded).toEqual([])
  })

  it('keep name and every guard after the classes are renamed', () => {
    const t = minifiedCopy()
    expect(t.AsyncTimeoutError.name).not.toBe('AsyncTimeoutError')

    const timeout = new t.AsyncTimeoutError('load', 50)
    expect(timeout.name).toBe('AsyncTimeoutError')
    expect(String(timeout)).toBe('AsyncTimeoutError: load timed out after 50 ms')
    expect(t.isAsyncTimeoutError(timeout)).toBe(true)
    expect(t.isTributaryError(timeout)).toBe(true)
    expect(t.isAsyncExecutionError(timeout)).toBe(false)

    const cancelled = new t.AsyncCancelledError('load')
    expect(t.isAsyncCancelledError(cancelled)).toBe(true)
    expect(t.isRetryableError(cancelled)).toBe(false)
    expect(t.isRetryableError(new t.CircuitOpenError('db', Date.now()))).toBe(false)
    expect(t.isRetryableError(new t.MissingDependencyError('kysely', 'model helpers'))).toBe(false)
    expect(t.isRetryableError(timeout)).toBe(true)

    const missing = new t.SourceNotFoundError({ source: 'env', key: 'PORT' })
    expect(missing.name).toBe('SourceNotFoundError')
    expect(t.isSourceNotFoundError(missing)).toBe(true)
    expect(t.isSourceError(missing)).toBe(true)
    expect(t.isSourceUnavailableError(missing)).toBe(false)

    const column = new t.InvalidColumnError('User', 'nope')
    expect([column.name, t.isInvalidColumnError(column), t.isInvalidQueryError(column)]).toEqual([
      'InvalidColumnError',
      true,
      true,
    ])
    const collation = new t.UnsupportedCollationError('User', 'name', 'en_US')
    expect([t.isUnsupportedCollationError(collation), t.isInvalidQueryError(collation)]).toEqual([true, true])
  })

  it('do not retry an unset variable that has a fallback, however the classes are named', async () => {
    const t = minifiedCopy()
    class Settings {
      port!: number
    }
    t.Component({
      fetchFrom: 'env',
      key: 'BRANDS_UNSET_PORT',
      type: Number,
      retry: { attempts: 4 },
      fallback: 3000,
    })(Settings.prototype, 'port')
    const started = Date.now()
    const settings = await t.resolve(Settings, { sources: [t.envSource({ env: {} })] })
    expect(settings.port).toBe(3000)
    expect(t.explain(settings).port).toMatchObject({ origin: 'fallback', attempts: 1 })
    expect(Date.now() - started).toBeLessThan(100)
  })

  it('name a subclass written without a kind by its constructor, and keep its parents\u2019 brands', () => {
    const t = require('../../../src') as Tributary
    class ConfigMissingError extends t.SourceNotFoundError {}
    const error = new ConfigMissingError({ source: 'env', key: 'PORT' })
    expect(error.name).toBe('ConfigMissingError')
    expect(t.hasErrorKind(error, 'ConfigMissingError')).toBe(true)
    expect(t.isSourceNotFoundError(error)).toBe(true)
    class Branded extends t.TributaryError {
      static override readonly kind: string = 'PaymentDeclinedError'
    }
    Object.defineProperty(Branded, 'name', { value: 'a' })
    expect(new Branded('declined').name).toBe('PaymentDeclinedError')
  })
})
