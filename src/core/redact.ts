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
