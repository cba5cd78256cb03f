import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ledgerMigrations } from '../src/index.js'
import { DecisionRequestSchema, LifecycleEventSchema } from '../src/sql-boundary.js'
import { toSqlRequest } from '../src/decisions.js'
import { jitRequest } from './helpers.js'

const dir = ledgerMigrations.repeatableDir ?? ''

/** The JSON paths a SQL text reads from the jsonb variable `name` (`name->'a'->>'b'`, `name ? 'c'`). */
function pathsRead (sql: string, name: string): string[][] {
  const code = sql.replace(/--[^\n]*/g, '')
  const paths: string[][] = []
  const chain = new RegExp(`(?<![\\w.])${name}((?:\\s*->>?\\s*'\\w+')*)(\\s*\\?\\s*'(\\w+)')?`, 'g')
  for (const m of code.matchAll(chain)) {
    const keys = [...(m[1] ?? '').matchAll(/'(\w+)'/g)].map(k => k[1] as string)
    if (m[3] !== undefined) keys.push(m[3])
    if (keys.length > 0) paths.push(keys)
  }
  return paths
}

/** The properties of an object schema, looking through unions (nullable objects). */
function propertiesOf (schema: TSchema): Record<string, TSchema> | null {
  const s = schema as { properties?: Record<string, TSchema>, anyOf?: TSchema[], additionalProperties?: unknown }
  if (s.properties !== undefined) return s.additionalProperties === true ? null : s.properties
  for (const option of s.anyOf ?? []) {
    const props = propertiesOf(option)
    if (props !== null) return props
  }
  return null
}

function undeclared (schema: TSchema, paths: string[][]): string[] {
  const missing = new Set<string>()
  for (const path of paths) {
    let at: TSchema | undefined = schema
    for (const [i, key] of path.entries()) {
      const props: Record<string, TSchema> | null = at === undefined ? null : propertiesOf(at)
      if (props === null) break // free-form object (payload, echo): any key
      at = props[key]
      if (at === undefined) {
        missing.add(path.slice(0, i + 1).join('.'))
        break
      }
    }
  }
  return [...missing].sort()
}

t.test('every key the lifecycle functions read from the event is a key of its schema', async t => {
  const files = (await readdir(dir)).filter(f => f.endsWith('.sql') && f !== 'jit_decide.sql')
  let reads = 0
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8')
    // only functions taking the normalized event as `e jsonb`
    if (!/\(\s*e jsonb/.test(text)) continue
    const paths = pathsRead(text, 'e')
    reads += paths.length
    t.same(undeclared(LifecycleEventSchema, paths), [], `${file}: every e->>'key' is declared`)
  }
  t.ok(reads > 50, `the check saw the reads (${reads})`)
})

t.test('every key jit_decide reads from the request is a key of its schema', async t => {
  const text = await readFile(join(dir, 'jit_decide.sql'), 'utf8')
  const paths = pathsRead(text, 'r')
  t.ok(paths.some(p => p.join('.') === 'expect.user'), 'nested reads are seen')
  t.same(undeclared(DecisionRequestSchema, paths), [])
})

t.test('the checker itself catches an undeclared key', async t => {
  t.same(undeclared(LifecycleEventSchema, pathsRead("v := e->>'jit_tokn'; w := (e->>'amount')::bigint;", 'e')), ['jit_tokn'])
  t.same(undeclared(DecisionRequestSchema, pathsRead("IF r->'expect' ? 'owner' THEN", 'r')), ['expect.owner'])
})

t.test('the decision request is built to its schema', async t => {
  const c = { user: 'u-b', card: 'c-b', account: 'u-b' }
  for (const r of [
    jitRequest(c, 1000),
    jitRequest(c, 0, { declineReason: 'CARD_NOT_ACTIVE', expect: { user: 3, card: 0 }, deadlineMs: Date.now() + 100, transactionToken: 'txn-b' }),
    jitRequest(c, 500, { kind: 'incremental', originalJitToken: 'jit-o', cardToken: null, accountToken: null, source: 'gpa_order_unload', actingUserToken: 'u-other' })
  ]) {
    const built = toSqlRequest(r)
    t.same([...Value.Errors(DecisionRequestSchema, built)].map(e => `${e.path} ${e.message}`), [], `${r.jitToken} matches`)
  }
})
