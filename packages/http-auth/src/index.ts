export { createBasicAuthVerifier, type BasicCredentials } from './basic.js'
export { createSignatureVerifier, signBody } from './signature.js'

/** An `Authorization` header value for credentials (tests, simulators). */
export function basicAuthHeader (username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
}
