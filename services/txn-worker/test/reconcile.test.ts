import t from 'tap'
import { createServer } from 'node:http'
import type { ProcessorTransaction } from '@jit/marqeta-client'
import { createDatabase } from '@jit/postgres'
import { createTestDatabase, freePort } from '@jit/test-support'
import { reconcileCommand } from '../src/ops/processor-cli.js'
import { compareWithLedger, type LedgerView } from '../src/ops/reconcile.js'
import { fundingSourceTimeout } from '../src/ops/processor-setup.js'

// The comparison rules of `jit-ops reconcile`, one by one, on the processor's transaction shapes.
// (Against the simulator and a real ledger: packages/processor-sim/test/processor-api.test.ts.)

function txn (over: Partial<ProcessorTransaction> & Record<string, unknown>): ProcessorTransaction {
  return { token: 'tx-1', type: 'authorization', state: 'PENDING', currency_code: 'USD', amount: 100, ...over } as ProcessorTransaction
}
const jit = (token: string, amount: number, original?: string): Record<string, unknown> => ({ gpa_order: { jit_funding: { token, amount, ...(original === undefined ? {} : { original_jit_funding_token: original }) } } })
function view (over: Partial<LedgerView> = {}): LedgerView {
  return { effects: new Set(), decisions: new Map(), holds: new Map(), posted: new Map(), ...over }
}

t.test('a transaction the ledger never saw is a missing event; a declined one needs nothing', async t => {
  const diffs = compareWithLedger([txn({ token: 'auth-1', ...jit('jit-1', 100) }), txn({ token: 'auth-2', state: 'DECLINED', ...jit('jit-2', 5) })], view())
  t.same(diffs.map(d => [d.kind, d.token]), [['missing_event', 'auth-1']])
  t.match(diffs[0]?.detail, 'authorization PENDING of 10000 minor units is not in the ledger')
})

t.test('found under its own token or its JIT token, with matching amounts: no difference', async t => {
  const ledger = view({
    decisions: new Map([['jit-1', { outcome: 'approved', amount: 10000 }]]),
    holds: new Map([['jit-1', { hold_token: 'jit-1', state: 'CLOSED', authorized: 10000 }]]),
    posted: new Map([['clr-1', -10000]])
  })
  const clearing = txn({ token: 'clr-1', type: 'authorization.clearing', state: 'COMPLETION', is_final_clearing: true, preceding_related_transaction_token: 'auth-1', ...jit('jitc-1', 100, 'jit-1') })
  t.same(compareWithLedger([txn({ token: 'auth-1', ...jit('jit-1', 100) }), clearing], ledger), [])
})

t.test('a posted amount or an authorized hold that differs is an amount mismatch', async t => {
  const ledger = view({
    holds: new Map([['jit-1', { hold_token: 'jit-1', state: 'OPEN', authorized: 8000 }]]),
    posted: new Map([['jitc-1', -9000]])
  })
  const diffs = compareWithLedger([
    txn({ token: 'auth-1', ...jit('jit-1', 100) }),
    txn({ token: 'clr-1', type: 'authorization.clearing', state: 'COMPLETION', ...jit('jitc-1', 95, 'jit-1') })
  ], ledger)
  t.same(diffs.map(d => d.kind), ['amount_mismatch', 'amount_mismatch'])
  t.match(diffs[0]?.detail, 'the processor authorized 10000, hold jit-1 has 8000')
  t.match(diffs[1]?.detail, "the processor's amount is 9500, the ledger posted 9000")
})

t.test('a hold still open after the final clearing or after a decline', async t => {
  const open = view({ holds: new Map([['jit-1', { hold_token: 'jit-1', state: 'OPEN', authorized: 10000 }]]), posted: new Map([['clr-1', -10000]]) })
  const settled = compareWithLedger([txn({ token: 'clr-1', type: 'authorization.clearing', state: 'COMPLETION', is_final_clearing: true, ...jit('jitc-1', 100, 'jit-1') })], open)
  t.same(settled.map(d => d.kind), ['hold_open_after_settlement'])
  const notFinal = compareWithLedger([txn({ token: 'clr-1', type: 'authorization.clearing', state: 'COMPLETION', is_final_clearing: false, ...jit('jitc-1', 100, 'jit-1') })], open)
  t.same(notFinal, [], 'a partial clearing leaves the hold open by design')
  const declined = compareWithLedger([txn({ token: 'auth-1', state: 'DECLINED', ...jit('jit-1', 100) })], open)
  t.same(declined.map(d => d.kind), ['hold_open_after_decline'])
})

t.test('the funding source timeout leaves the decision budget its headroom', async t => {
  t.equal(fundingSourceTimeout(1500), 3000, "the processor's default when it leaves room")
  t.equal(fundingSourceTimeout(2900), 3400)
  t.equal(fundingSourceTimeout(1500, 2000), 2000)
  t.throws(() => fundingSourceTimeout(1500, 1800), /leaves no room for JIT_DECISION_BUDGET_MS 1500/)
  t.throws(() => fundingSourceTimeout(1500, 8000), /1000\.\.7000/)
})

t.test('jit-ops reconcile: the Core API client times out after MARQETA_TIMEOUT_MS and backs off MARQETA_BACKOFF_MS', async t => {
  // a processor that accepts the request and never answers
  const silent = createServer(() => {})
  const port = await freePort()
  await new Promise<void>(resolve => silent.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { silent.closeAllConnections(); silent.close(() => { resolve() }) }))
  const db = createDatabase({ url: await createTestDatabase(t, 'reconcile'), poolMin: 0, poolMax: 1 })
  t.teardown(async () => { await db.close(1) })
  let stderr = ''
  const started = Date.now()
  const code = await reconcileCommand(db, { 'base-url': `http://127.0.0.1:${port}`, from: '2026-01-01', to: '2026-01-02' }, {
    env: { MARQETA_TIMEOUT_MS: '200', MARQETA_BACKOFF_MS: '600' },
    stdout: () => {},
    stderr: text => { stderr += text }
  }, async () => 'app-token:access-token')
  const ms = Date.now() - started
  t.equal(code, 1)
  t.match(stderr, /no answer within 200 ms/)
  // four attempts of 200 ms and three backoffs of at least 300 + 600 + 1200 ms: at least 2.9 s,
  // where the default backoff (250 ms) sleeps at most 1.75 s and the default timeout (10 s) alone
  // would take 40 s
  t.ok(ms >= 2800 && ms < 8000, `failed after ${ms} ms`)
})
