/** Credentials parsed from a `user:password` Basic-auth setting. */
export interface BasicAuthCredentials {
  username: string
  password: string
}

/**
 * Splits a `user:password` Basic-auth setting at the FIRST colon, so the password may itself
 * contain colons (RFC 7617 forbids colons in the user-id, not in the password).
 *
 * @throws Error when there is no colon or either side is empty. The message never contains the
 *   value, because it is a secret.
 * @example parseBasicAuth('jit:s3cr:et') // { username: 'jit', password: 's3cr:et' }
 */
export function parseBasicAuth (value: string): BasicAuthCredentials {
  const colon = value.indexOf(':')
  if (colon === -1) {
    throw new Error('must be user:password (no colon found)')
  }
  const username = value.slice(0, colon)
  const password = value.slice(colon + 1)
  if (username === '') throw new Error('must be user:password (the user name is empty)')
  if (password === '') throw new Error('must be user:password (the password is empty)')
  return { username, password }
}

const PLACEHOLDER = /change[-_]?me|example|placeholder/i

/**
 * True when a secret is one of the obvious example placeholders (contains `change-me`,
 * `changeme`, `example` or `placeholder`, any case), as shipped in `.env.example`.
 * Such values are accepted only with `DEPLOY_ENV=local`, so a copied example file can never
 * protect a real deployment.
 */
export function isPlaceholderSecret (value: string): boolean {
  return PLACEHOLDER.test(value)
}

/** The processor's rule for Basic-auth passwords it will send (Marqeta: min 20, mixed classes). */
export const MIN_BASIC_AUTH_PASSWORD_LENGTH = 20

/**
 * Why a Basic-auth password is too weak for a deployment, or `undefined` when it is fine.
 * The processor refuses passwords shorter than 20 characters or lacking upper- and lowercase
 * letters, digits and symbols, so we refuse them at boot rather than at the first JIT call.
 */
export function basicAuthPasswordWeakness (password: string): string | undefined {
  if (password.length < MIN_BASIC_AUTH_PASSWORD_LENGTH) {
    return `password must be at least ${MIN_BASIC_AUTH_PASSWORD_LENGTH} characters (has ${password.length})`
  }
  const missing: string[] = []
  if (!/[a-z]/.test(password)) missing.push('a lowercase letter')
  if (!/[A-Z]/.test(password)) missing.push('an uppercase letter')
  if (!/[0-9]/.test(password)) missing.push('a digit')
  if (!/[^A-Za-z0-9]/.test(password)) missing.push('a symbol')
  if (missing.length > 0) return `password must contain ${missing.join(', ')}`
  return undefined
}
