import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// The runtime half of this guarantee (each verifier compares every configured secret with
// crypto.timingSafeEqual, match or not) is packages/http-auth/test/timing-safe.test.ts; this half
// reads the sources of every package and service, so a later route cannot compare a credential or
// a signature some other way.
const root = fileURLToPath(new URL('../../../../', import.meta.url))

function sources (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const files = ['packages', 'services'].flatMap(top =>
  readdirSync(join(root, top)).map(pkg => join(root, top, pkg, 'src')).filter(dir => {
    try { return statSync(dir).isDirectory() } catch { return false }
  })
).flatMap(sources)

const SECRETISH = /password|secret|signature|credential|authorization|apikey|api_key|token_secret/i
// An emptiness or type test says nothing about a secret's content.
// (String literals are blanked first: a header's name or an error message is not a secret, and a
// length is public.)
const HARMLESS = /(?:typeof\s+[\w.[\]]+\s*[!=]==?\s*'')|(?:[!=]==?\s*(?:''|undefined|null|true|false|\d+)(?!\w))|(?:(?:''|undefined|null|true|false)\s*[!=]==?)/g

t.test('the scan reads every service and package', async t => {
  const services = new Set(files.map(f => relative(root, f).split('/').slice(0, 2).join('/')))
  for (const s of ['services/jit-authorizer', 'services/webhook-ingest', 'services/txn-worker', 'packages/http-auth', 'packages/config']) {
    t.ok(services.has(s), `${s} is scanned`)
  }
})

t.test('no credential or signature is compared with ==, ===, Buffer.compare or .equals', async t => {
  const offending: string[] = []
  for (const file of files) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/`[^`]*`/g, "''").replace(/'(?:[^'\\]|\\.)*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, "''")
      if (!SECRETISH.test(code)) return
      const rest = code.replace(HARMLESS, ' ')
      if (/[!=]==?|Buffer\.compare\(|\.equals\(|\.localeCompare\(/.test(rest)) offending.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`)
    })
  }
  t.same(offending, [], 'every such comparison goes through @jit/http-auth (crypto.timingSafeEqual)')
})

t.test('HMACs are computed by @jit/http-auth only; every route that reads credentials uses its verifiers', async t => {
  const ownCrypto: string[] = []
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const name = relative(root, file)
    if (name.startsWith('packages/http-auth/')) continue
    // (timingSafeEqual itself is welcome anywhere: the operator console's password hashes use it)
    if (/\bcreateHmac\b/.test(text)) ownCrypto.push(name)
    if (/headers\.authorization|SIGNATURE_HEADER\]/.test(text)) {
      t.match(text, /from '@jit\/http-auth'/, `${name} reads credentials and checks them with @jit/http-auth`)
      t.match(text, /create(BasicAuth|Signature)Verifier\(/, `${name} builds its checks with the constant-time verifiers`)
    }
  }
  t.same(ownCrypto, [], 'no other module computes HMACs (signatures) itself')
  const routes = files.filter(f => relative(root, f).startsWith('services/') && /headers\.authorization/.test(readFileSync(f, 'utf8'))).map(f => relative(root, f).split('/')[1])
  t.same([...new Set(routes)].sort(), ['jit-authorizer', 'txn-worker', 'webhook-ingest'], 'the three services authenticate their routes')
})
