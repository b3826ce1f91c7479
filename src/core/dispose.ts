/**
 * The dispose symbols. Node 20 defines `Symbol.dispose` as `Symbol.for('nodejs.dispose')` in
 * its main realm only; other realms (a vm context, jest's test environment) lack it, so fall
 * back to the same registered symbol. Not exported by the package, but public classes' declarations
 * name them (`[DISPOSE](): void`), so they are not tagged internal (stripInternal would drop them).
 */
export const DISPOSE: typeof Symbol.dispose = (Symbol.dispose ??
  Symbol.for('nodejs.dispose')) as typeof Symbol.dispose

/** `Symbol.asyncDispose`, or the registered symbol Node uses for it where it is missing. */
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose = (Symbol.asyncDispose ??
  Symbol.for('nodejs.asyncDispose')) as typeof Symbol.asyncDispose
