/**
 * Masking of credentials in text: the userinfo of a URL (`postgres://app:pw@db/x`,
 * `https://token@host/`) becomes `***`. Every tributary error message goes through it, so a URL
 * in a key, a `baseUrl`, a connection string or a driver's message never prints a password.
 */

// scheme://userinfo@ — userinfo is anything up to the first '@' before the host, without
// whitespace, '/', '?' or '#' (RFC 3986: it cannot hold those unencoded).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]+)@/gi

/**
 * `text` with the userinfo of every URL in it replaced by `***`.
 *
 * @example
 * ```ts
 * import { maskUrlCredentials } from 'tributary'
 * maskUrlCredentials('cannot reach postgres://app:s3cret@db:5432/app') // 'cannot reach postgres://***@db:5432/app'
 * ```
 */
export function maskUrlCredentials(text: string): string {
  if (!text.includes('@')) return text
  return text.replace(URL_USERINFO, '$1***@')
}

/** What a secret value shows as in every message, update, `explain` and inspect view. */
export const SECRET_MASK = '***'

/**
 * `text` with every occurrence of each secret's text (a string, number or bigint) replaced by
 * {@link SECRET_MASK}: a token in a driver's message, a secret value quoted by a user's
 * `validate` message. Secrets shorter than `minLength` (default 1) are left alone, where a
 * short value would garble the message without hiding anything. @internal
 */
export function redactSecrets(text: string, secrets: Iterable<unknown>, minLength = 1): string {
  let out = text
  for (const secret of secrets) {
    const shown =
      typeof secret === 'string' || typeof secret === 'number' || typeof secret === 'bigint'
        ? String(secret)
        : ''
    if (shown.length >= Math.max(1, minLength) && out.includes(shown))
      out = out.split(shown).join(SECRET_MASK)
  }
  return out
}
