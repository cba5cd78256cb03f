import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Verifies an HMAC signature (hex) of a raw body against the current and previous secrets,
 * as SHA-256 or SHA-1 (told apart by the signature's length), in constant time. Accepting both
 * algorithms and both secrets lets a program rotate either without losing webhooks.
 */
export function createSignatureVerifier (secrets: Array<string | null | undefined>): (rawBody: Buffer, signature: string | undefined) => boolean {
  const keys = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0)
  if (keys.length === 0) throw new Error('at least one secret is required')
  return (rawBody, signature) => {
    if (typeof signature !== 'string') return false
    const hex = signature.trim().replace(/^sha(1|256)=/i, '').toLowerCase()
    if (!/^[0-9a-f]+$/.test(hex)) return false
    const algorithm = hex.length === 64 ? 'sha256' : hex.length === 40 ? 'sha1' : null
    if (algorithm === null) return false
    const given = Buffer.from(hex, 'hex')
    let ok = false
    for (const key of keys) {
      const expected = createHmac(algorithm, key).update(rawBody).digest()
      ok = timingSafeEqual(expected, given) || ok
    }
    return ok
  }
}

/** The hex HMAC of a body, as a sender computes it (tests, simulators). */
export function signBody (rawBody: Buffer | string, secret: string, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  return createHmac(algorithm, secret).update(rawBody).digest('hex')
}
