import {
  AsyncExecutionError,
  AsyncTimeoutError,
  TributaryError,
  isAsyncExecutionError,
  isAsyncTimeoutError,
  isTributaryError,
} from '../../../src'
import { describeCause } from '../../../src/core/errors'

describe('errors', () => {
  it('have a name matching the class and keep the cause', () => {
    const cause = new Error('socket hang up')
    const error = new AsyncExecutionError('User.asyncCount', cause)
    expect(error.name).toBe('AsyncExecutionError')
    expect(error.cause).toBe(cause)
    expect(error.operation).toBe('User.asyncCount')
    expect(error.message).toBe('User.asyncCount failed: socket hang up')
    expect(error).toBeInstanceOf(TributaryError)
    expect(String(error)).toBe('AsyncExecutionError: User.asyncCount failed: socket hang up')
  })

  it('guards accept subclasses and reject look-alikes', () => {
    const timeout = new AsyncTimeoutError('load', 50)
    expect(isAsyncTimeoutError(timeout)).toBe(true)
    expect(isTributaryError(timeout)).toBe(true)
    expect(isAsyncExecutionError(timeout)).toBe(false)
    const fake = Object.assign(new Error('x'), { name: 'AsyncTimeoutError' })
    expect(isAsyncTimeoutError(fake)).toBe(false)
    expect(isTributaryError(undefined)).toBe(false)
    expect(isTributaryError('AsyncTimeoutError')).toBe(false)
  })

  it('guards work across two separately loaded copies of the module', () => {
    // A second copy: a fresh module registry gives new class identities, as a second install would.
    let Other: typeof import('../../../src')
    jest.isolateModules(() => {
      Other = require('../../../src')
    })
    const foreign = new Other!.AsyncTimeoutError('elsewhere', 10)
    expect(foreign).not.toBeInstanceOf(AsyncTimeoutError)
    expect(isAsyncTimeoutError(foreign)).toBe(true)
    expect(isTributaryError(foreign)).toBe(true)
    expect(Other!.isAsyncTimeoutError(new AsyncTimeoutError('here', 1))).toBe(true)
  })
})

describe('describeCause', () => {
  it('reads the message of an error from another realm, which fails instanceof Error', () => {
    const { runInNewContext } = require('node:vm') as typeof import('node:vm')
    const foreign = runInNewContext(
      'Object.assign(new Error("no such table: users"), { code: "SQLITE_ERROR" })',
    )
    expect(foreign instanceof Error).toBe(false)
    expect(describeCause(foreign)).toBe('no such table: users')
    expect(describeCause(new Error('local'))).toBe('local')
    expect(describeCause({ code: 'X' })).toBe('{"code":"X"}')
    // not an Error at all, but built like one (better-sqlite3's SqliteError from another realm)
    const built = Object.create({ name: 'SqliteError' }, { message: { value: 'no such table: t' } })
    expect(describeCause(Object.assign(built, { code: 'SQLITE_ERROR' }))).toBe('no such table: t')
  })
})
