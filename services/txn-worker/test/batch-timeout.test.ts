import t from 'tap'
import { checkLedgerInvariants, getAccount } from '@jit/ledger'
import { purchasesOf } from '@jit/processor-sim'
import { holdLocks, sleep, waitFor } from '@jit/test-support'
import { build, fundedCard, txRoutingKey } from './helper.js'

// A batch is one statement, so statement_timeout bounds the lock waits of all its events
// together. Two accounts busy for 0.7 s and 1.4 s (other transactions committing behind their
// rows), a statement timeout of 1 s: the batch's statement times out, and its events must then
// apply one statement each (each waits less than the timeout), not requeue the batch.
const TIMEOUT_MS = 1000
const env = await build(t, { statementTimeoutMs: TIMEOUT_MS })
const { db } = env

t.test('a batch timed out on two busy accounts applies its events one statement each, without a requeue', async t => {
  const a = await fundedCard(db, 'busy-a', 100000)
  const b = await fundedCard(db, 'busy-b', 100000)
  const events = [purchasesOf(a).forceCapture(100), purchasesOf(b).forceCapture(200)]
  // published before the worker starts: delivered together, one batch
  for (const e of events) await env.sendEvent(txRoutingKey(e), e)
  const releaseA = await holdLocks(db.sql, c => c`select 1 from accounts where account_token = ${a.account} for update`)
  const releaseB = await holdLocks(db.sql, c => c`select 1 from accounts where account_token = ${b.account} for update`)
  const worker = env.startWorker({ queues: ['transactions'], loops: false, relay: false })
  await Promise.all([sleep(700).then(releaseA), sleep(1400).then(releaseB)])
  await waitFor(async () => worker.consumerStats().transactions?.acked === 2, 20_000, 'both events acknowledged')
  const stats = worker.consumerStats().transactions
  t.equal(stats?.transient, 0, 'no delivery requeued as transient (the batch did not time out whole)')
  t.equal(stats?.retried, 0, 'no retry')
  t.same([(await getAccount(db.sql, a.account))?.balance, (await getAccount(db.sql, b.account))?.balance], [100000 - 100, 100000 - 200], 'each event applied once')
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
})
