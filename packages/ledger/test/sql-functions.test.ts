import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { decideJitFunding, ledgerMigrations } from '../src/index.js'
import { fundedCard, jitRequest, ledgerDatabase, token } from './helpers.js'

const functionsDir = ledgerMigrations.repeatableDir ?? ''

// Released migrations never change (a database that applied them would refuse to start): the
// rules change in sql/functions/, the tables in new numbered files.
const RELEASED = {
  '0001_ledger.sql': '04d03754ad5cd33e037aeb2faf06933b1cffd9ae8a5115cb69e7efe9ff8ada84',
  '0002_ledger_functions.sql': '47e33e7468dc98b2e9aaf475a59592424c8017bf66bfc597e0d183fd846e5259',
  '0003_lifecycle.sql': 'dbbcd7bfbc047988c4281df8618b193b0bb2bddac629fdf30c4aa134bf6a27d8'
}

t.test('released migrations are unchanged', async t => {
  for (const [name, checksum] of Object.entries(RELEASED)) {
    const text = (await readFile(join(ledgerMigrations.dir, name), 'utf8')).replace(/\r\n/g, '\n')
    t.equal(createHash('sha256').update(text).digest('hex'), checksum, `${name} is as released`)
  }
})

t.test('each function file holds one rule, named after it, replaceable in place', async t => {
  const files = (await readdir(functionsDir)).filter(f => f.endsWith('.sql'))
  t.ok(files.length > 0)
  for (const file of files) {
    const text = await readFile(join(functionsDir, file), 'utf8')
    const names = [...text.matchAll(/^CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\s+(\w+)/gim)].map(m => ({ replace: m[1] !== undefined, name: m[2] }))
    t.ok(names.some(n => n.name === file.replace(/\.sql$/, '')), `${file} defines the function it is named after (helpers of that rule may sit beside it)`)
    t.ok(names.every(n => n.replace), `${file} only uses CREATE OR REPLACE`)
    t.notMatch(text, /^\s*(CREATE|ALTER|DROP)\s+(TABLE|INDEX|SEQUENCE|TYPE)\b/im, `${file} holds no DDL (that goes to migrations/)`)
  }
})

t.test('the database runs the functions of sql/functions/', async t => {
  const db = await ledgerDatabase(t)
  const files = (await readdir(functionsDir)).filter(f => f.endsWith('.sql'))
  const rows = await db.sql<Array<{ name: string }>>`select name from schema_repeatable_migrations where set_name = 'ledger'`
  t.same(rows.map(r => r.name).sort(), files.sort(), 'every file applied and recorded')
})

t.test('a decision records the request\'s top-level transaction token', async t => {
  const db = await ledgerDatabase(t)
  const c = await fundedCard(db, token('tx'), 100000)
  const tx = token('txn')
  const [r] = await decideJitFunding(db.sql, [jitRequest(c, 1000, { transactionToken: tx })])
  t.equal(r?.outcome, 'approved')
  const declined = await decideJitFunding(db.sql, [jitRequest(c, 1000, { transactionToken: `${tx}-d`, declineReason: 'CARD_NOT_ACTIVE' })])
  t.equal(declined[0]?.outcome, 'declined')
  const rows = await db.sql<Array<{ transaction_token: string | null, outcome: string }>>`select transaction_token, outcome from decisions order by created_at`
  t.same(rows, [{ transaction_token: tx, outcome: 'approved' }, { transaction_token: `${tx}-d`, outcome: 'declined' }], 'approved and declined decisions both record it')
})
