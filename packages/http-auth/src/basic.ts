import { createHash, timingSafeEqual } from 'node:crypto'

/** Credentials as configured: `user:password`, split at the first colon. */
export interface BasicCredentials {
  username: string
  password: string
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/**
 * Checks an `Authorization: Basic ...` header against the current credentials and, during a
 * rotation, the previous ones. Comparison is constant-time over fixed-length digests, and every
 * configured credential is compared, so timing tells nothing about which one (or which part) was
 * wrong.
 */
export function createBasicAuthVerifier (accepted: Array<BasicCredentials | null | undefined>): (header: string | undefined) => boolean {
  const expected = accepted
    .filter((c): c is BasicCredentials => c !== null && c !== undefined)
    .map(c => digest(`${c.username}:${c.password}`))
  if (expected.length === 0) throw new Error('at least one credential is required')
  return (header) => {
    if (typeof header !== 'string') return false
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
    if (match === null || match[1] === undefined) return false
    const given = digest(Buffer.from(match[1], 'base64').toString('utf8'))
    let ok = false
    for (const candidate of expected) ok = timingSafeEqual(candidate, given) || ok
    return ok
  }
}
