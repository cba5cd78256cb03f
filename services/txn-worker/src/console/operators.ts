import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { parseBasicAuth } from '@jit/config'

/**
 * scrypt parameters of new hashes: N = 2^15 and r = 8 make each attempt use 32 MiB and tens of
 * milliseconds, which is what makes a stolen hash expensive to guess. Stored in the hash, so
 * they can grow later without invalidating existing ones.
 */
const DEFAULT_COST = { N: 32768, r: 8, p: 1 }
const KEY_LENGTH = 32
const SALT_BYTES = 16
// scrypt refuses to use more than 32 MiB unless told: 128 * N * r bytes plus headroom.
const maxmemFor = (N: number, r: number): number => 128 * N * r * 2

async function scrypt (password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => { if (err === null) resolve(key); else reject(err) })
  })
}

/**
 * A memory-hard hash of an operator's password for `CONSOLE_OPERATORS`:
 * `scrypt.<N>.<r>.<p>.<salt>.<key>` (base64url; no `$` or `:`, so it survives shells and
 * `.env` files unquoted).
 */
export async function hashOperatorPassword (password: string, cost = DEFAULT_COST): Promise<string> {
  if (password.length === 0) throw new Error('the password is empty')
  const salt = randomBytes(SALT_BYTES)
  const key = await scrypt(password, salt, KEY_LENGTH, { ...cost, maxmem: maxmemFor(cost.N, cost.r) })
  return `scrypt.${cost.N}.${cost.r}.${cost.p}.${salt.toString('base64url')}.${key.toString('base64url')}`
}

interface ParsedHash { N: number, r: number, p: number, salt: Buffer, key: Buffer }

function parseHash (hash: string): ParsedHash {
  const parts = hash.split('.')
  const [scheme, n, r, p, salt, key] = parts
  if (parts.length !== 6 || scheme !== 'scrypt' || salt === undefined || key === undefined) throw new Error('not a scrypt.N.r.p.salt.key hash')
  const cost = [n, r, p].map(Number) as [number, number, number]
  if (!cost.every(v => Number.isSafeInteger(v) && v > 0) || cost[0] > 2 ** 20 || cost[1] > 32 || cost[2] > 16) throw new Error('scrypt cost out of range')
  const keyBytes = Buffer.from(key, 'base64url')
  if (keyBytes.length < 16) throw new Error('scrypt key too short')
  return { N: cost[0], r: cost[1], p: cost[2], salt: Buffer.from(salt, 'base64url'), key: keyBytes }
}

/** One way an operator signs in: a stored scrypt hash, or the Basic-auth password itself. */
type Secret = { kind: 'hash', hash: ParsedHash } | { kind: 'plain', digest: Buffer }

/** Who may sign in to the console, and the check of a user name and password. */
export interface OperatorDirectory {
  /** The operator names (never their secrets). */
  readonly names: string[]
  /** Resolves the operator's name when the password is right, else null. Constant work for unknown names. */
  verify: (username: string, password: string) => Promise<string | null>
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest()

/** Parses `CONSOLE_OPERATORS` (`user:hash,...`); throws naming the entry (never the hash) that is wrong. */
export function parseConsoleOperators (value: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const [i, entry] of value.split(',').entries()) {
    const colon = entry.indexOf(':')
    const name = entry.slice(0, colon)
    if (colon <= 0) throw new Error(`CONSOLE_OPERATORS entry ${i + 1} is not user:hash`)
    parseHash(entry.slice(colon + 1))
    if (out.has(name)) throw new Error(`CONSOLE_OPERATORS names ${name} twice`)
    out.set(name, entry.slice(colon + 1))
  }
  return out
}

/**
 * The console's operators: the `CONSOLE_OPERATORS` accounts when set, else the one operator of
 * `OPERATOR_BASIC_AUTH` (and its `_PREVIOUS` password during a rotation).
 */
export function createOperatorDirectory (config: { OPERATOR_BASIC_AUTH: string, OPERATOR_BASIC_AUTH_PREVIOUS?: string | undefined, CONSOLE_OPERATORS?: string | undefined }): OperatorDirectory {
  const secrets = new Map<string, Secret[]>()
  if (config.CONSOLE_OPERATORS !== undefined && config.CONSOLE_OPERATORS !== '') {
    for (const [name, hash] of parseConsoleOperators(config.CONSOLE_OPERATORS)) secrets.set(name, [{ kind: 'hash', hash: parseHash(hash) }])
  } else {
    for (const setting of [config.OPERATOR_BASIC_AUTH, config.OPERATOR_BASIC_AUTH_PREVIOUS]) {
      if (setting === undefined || setting === '') continue
      const { username, password } = parseBasicAuth(setting)
      secrets.set(username, [...(secrets.get(username) ?? []), { kind: 'plain', digest: sha256(password) }])
    }
  }
  // Unknown names still cost one scrypt, so response time does not tell which names exist.
  const decoy: ParsedHash = { N: DEFAULT_COST.N, r: DEFAULT_COST.r, p: DEFAULT_COST.p, salt: randomBytes(SALT_BYTES), key: randomBytes(KEY_LENGTH) }
  return {
    names: [...secrets.keys()],
    async verify (username, password) {
      const candidates = secrets.get(username) ?? [{ kind: 'hash', hash: decoy }]
      let ok = false
      for (const secret of candidates) {
        if (secret.kind === 'plain') {
          ok = timingSafeEqual(secret.digest, sha256(password)) || ok
        } else {
          const { N, r, p, salt, key } = secret.hash
          const given = await scrypt(password, salt, key.length, { N, r, p, maxmem: maxmemFor(N, r) })
          ok = timingSafeEqual(given, key) || ok
        }
      }
      return ok && secrets.has(username) ? username : null
    }
  }
}
