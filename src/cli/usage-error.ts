/**
 * The error for bad command-line input: the `tributary` command prints its message (and the
 * command's usage) and exits with code 2.
 */
import { TributaryError } from '../core/errors'

/** Bad arguments, an unreadable module, or a module without what the command needs. */
export class UsageError extends TributaryError {
  static override readonly kind: string = 'UsageError'

  constructor(
    message: string,
    /** The usage text of the command that was misused, printed after the message. */
    readonly usage?: string,
  ) {
    super(message)
  }
}
