/**
 * requireOptional: the one loader of the optional peer dependencies. A package that is not
 * installed becomes a MissingDependencyError naming it; any other failure while loading it is
 * thrown as it is, so a broken install is not mistaken for a missing one.
 */
type Optional = typeof import('../../../src/core/optional')
type Errors = typeof import('../../../src/core/errors')

function notFound(name: string): Error {
  return Object.assign(new Error(`Cannot find module '${name}'\nRequire stack:\n- /app/index.js`), {
    code: 'MODULE_NOT_FOUND',
  })
}

/** A fresh copy of the loader and the errors, with `ioredis` replaced by `factory`. */
function loaderWith(factory: () => unknown): Optional & Errors {
  let loaded: (Optional & Errors) | undefined
  jest.isolateModules(() => {
    jest.doMock('ioredis', factory, { virtual: true })
    loaded = {
      ...require('../../../src/core/optional'),
      ...require('../../../src/core/errors'),
    } as Optional & Errors
  })
  return loaded!
}

beforeEach(() => jest.resetModules())
afterEach(() => jest.dontMock('ioredis'))

describe('requireOptional', () => {
  it('loads an installed package once and returns the same module after', () => {
    const { requireOptional } = loaderWith(() => ({ Redis: class {} }))
    const first = requireOptional<{ Redis: unknown }>('ioredis', 'redisSource')
    expect(typeof first.Redis).toBe('function')
    expect(requireOptional('ioredis', 'redisSource')).toBe(first)
  })

  it('turns a package that is not installed into a MissingDependencyError that says what to install', () => {
    const t = loaderWith(() => {
      throw notFound('ioredis')
    })
    const error = (() => {
      try {
        return t.requireOptional('ioredis', 'redisSource')
      } catch (e) {
        return e
      }
    })()
    expect(t.isMissingDependencyError(error)).toBe(true)
    expect(error).toMatchObject({
      name: 'MissingDependencyError',
      packageName: 'ioredis',
      feature: 'redisSource',
      message: 'redisSource: the optional package "ioredis" is not installed; run `npm install ioredis`',
    })
  })

  it('throws a failure inside the package (a missing dependency of its own) as it is', () => {
    const inner = notFound('cluster-key-slot')
    const t = loaderWith(() => {
      throw inner
    })
    expect(() => t.requireOptional('ioredis', 'redisSource')).toThrow(inner)
  })
})
