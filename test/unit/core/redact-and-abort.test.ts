// The one redaction and the one abort race every module uses (issue 18: one of each).
import { SECRET_MASK, redactSecrets } from '../../../src/core/redact'
import { neverAborted, raceAbort } from '../../../src/core/abort'

describe('redactSecrets', () => {
  it('masks every occurrence of each secret: strings, numbers and bigints', () => {
    expect(redactSecrets('token abc123 and again abc123', ['abc123'])).toBe('token *** and again ***')
    expect(redactSecrets('port 65001, id 9007199254740993', [65001, 9007199254740993n])).toBe(
      `port ${SECRET_MASK}, id ${SECRET_MASK}`,
    )
  })

  it('leaves empty, short (under minLength) and non-text secrets alone', () => {
    expect(redactSecrets('a b c', ['', 'b'], 4)).toBe('a b c')
    expect(redactSecrets('a b c', [undefined, null, { b: 1 }, Symbol('b')])).toBe('a b c')
    expect(redactSecrets('pw hunter2', ['hunter2'], 4)).toBe('pw ***')
  })
})

describe('raceAbort', () => {
  it("rejects with the signal's reason and runs onAbort once; the raced promise's failure is observed", async () => {
    const controller = new AbortController()
    const onAbort = jest.fn()
    let fail!: (error: Error) => void
    const work = new Promise<never>((_, reject) => (fail = reject))
    const raced = raceAbort(work, controller.signal, onAbort)
    controller.abort(new Error('stop'))
    await expect(raced).rejects.toThrow('stop')
    fail(new Error('late')) // never an unhandled rejection
    expect(onAbort).toHaveBeenCalledTimes(1)
  })

  it('settles as the promise does when the signal never aborts, without calling onAbort', async () => {
    const onAbort = jest.fn()
    await expect(raceAbort(Promise.resolve(7), neverAborted, onAbort)).resolves.toBe(7)
    const aborted = AbortSignal.abort(new Error('already'))
    await expect(raceAbort(Promise.resolve(7), aborted, onAbort)).rejects.toThrow('already')
    expect(onAbort).toHaveBeenCalledTimes(1)
    expect(neverAborted.aborted).toBe(false)
  })
})
