import t, { type Test } from 'tap'
import {
  HEADER_FAILURE_REASON, HEADER_ORIGINAL_QUEUE, HEADER_ORIGINAL_ROUTING_KEY, HEADER_RETRY_COUNT
} from '@jit/amqp'
import { checkLedgerInvariants, getAccount, getHold } from '@jit/ledger'
import { waitFor } from '@jit/test-support'
import { TEST_RETRY_DELAYS_MS, authorize, counterValue, build, fundedCard, queueDepth, testWorkerConfig, token, txEvent, txRoutingKey } from './helper.js'
import { ledgerAround } from './fixtures/ledger.js'

const env = await build(t)
const { db, amqp, registry } = env
// A poison message on demand: the real ledger fails no event forever any more (NUL characters
// are replaced before PostgreSQL sees them), so events whose token starts with `poison-` fail here.
const ledger = ledgerAround({
  before: (_sql, event) => {
    if (String(event.token).startsWith('poison-')) throw new Error('the ledger chokes on this event (test)')
  }
})
const worker = env.startWorker({ queues: ['transactions'], ledger })

async function money (account: string): Promise<{ balance: number, available: number }> {
  const a = await getAccount(db.sql, account)
  return { balance: a?.balance ?? NaN, available: a?.available ?? NaN }
}

async function publishTx (event: Record<string, unknown>, messageId?: string): Promise<string> {
  return await env.sendEvent(txRoutingKey(event), event, messageId)
}

/** Takes one message off a dead-letter queue (acknowledged: the test consumes it). */
async function takeDead (queue: string): Promise<{ headers: Record<string, unknown>, body: unknown, messageId: string | undefined }> {
  const msg = await waitFor(async () => await amqp.connection.basicGet({ queue, noAck: true }), 15_000, `a message in ${queue}`)
  return { headers: msg.headers ?? {}, body: msg.body, messageId: msg.messageId }
}

/** A test that ends by checking the ledger invariants. */
function moneyTest (name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async t => {
    await fn(t)
    t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
  })
}

moneyTest('a transaction webhook event published to cards.events is applied to the ledger once', async t => {
  const c = await fundedCard(db, 'refund', 100000)
  const refund = txEvent(c, { type: 'refund', state: 'COMPLETION', amount: 2500 })
  const before = await counterValue(registry, 'txn_worker_messages_applied_total', { queue: 'transactions' })
  await publishTx(refund)
  await waitFor(async () => (await money(c.account)).balance === 102500, 15_000, 'the refund credited')
  t.same(await money(c.account), { balance: 102500, available: 102500 })
  t.equal(await counterValue(registry, 'txn_worker_messages_applied_total', { queue: 'transactions' }), before + 1)

  // the processor sends it again (a new message id): the ledger's effect key makes it a duplicate
  const dupBefore = await counterValue(registry, 'txn_worker_duplicates_skipped_total', { queue: 'transactions' })
  await publishTx(refund)
  await waitFor(async () => await counterValue(registry, 'txn_worker_duplicates_skipped_total', { queue: 'transactions' }) > dupBefore, 15_000, 'the duplicate')
  t.same(await money(c.account), { balance: 102500, available: 102500 }, 'credited once')
  t.match(await registry.metrics(), /txn_worker_webhook_to_ledger_lag_seconds_count\{service="txn-worker"\} [1-9]/, 'lag observed')
})

moneyTest('a purchase: decision, PENDING webhook, final clearing', async t => {
  const c = await fundedCard(db, 'purchase', 100000)
  const txToken = token('auth')
  const { jitToken, outcome } = await authorize(db, c, 10000, { transactionToken: txToken })
  t.equal(outcome, 'approved')
  t.same(await money(c.account), { balance: 100000, available: 90000 })
  await publishTx(txEvent(c, { type: 'authorization', state: 'PENDING', token: txToken, amount: 10000, jit: { token: jitToken, method: 'pgfs.authorization' } }))
  await publishTx(txEvent(c, {
    type: 'authorization.clearing',
    state: 'COMPLETION',
    amount: 5000,
    preceding: txToken,
    isFinal: true,
    jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: jitToken }
  }))
  await waitFor(async () => (await getHold(db.sql, jitToken))?.state === 'CLOSED', 15_000, 'the hold closed by the final clearing')
  t.same(await money(c.account), { balance: 95000, available: 95000 }, 'auth 100; clear 50 final')
})

moneyTest('an early event is parked (acknowledged), then applied by the park loop', async t => {
  const c = await fundedCard(db, 'early', 100000)
  const txToken = token('auth')
  const jitToken = token('jit')
  const parkedBefore = await counterValue(registry, 'txn_worker_events_parked_total')
  // the clearing arrives before anything about its purchase
  await publishTx(txEvent(c, {
    type: 'authorization.clearing',
    state: 'COMPLETION',
    amount: 3000,
    preceding: txToken,
    isFinal: true,
    jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: jitToken }
  }))
  await waitFor(async () => await counterValue(registry, 'txn_worker_events_parked_total') > parkedBefore, 15_000, 'the clearing parked')
  t.equal(await queueDepth(amqp, 'transactions'), 0, 'acknowledged: it lives in PostgreSQL now')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0)
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'nothing moved while parked')

  // then the processor's stand-in authorization: a forced hold, which the parked clearing captures
  await publishTx(txEvent(c, { type: 'authorization', state: 'PENDING', token: txToken, amount: 3000, standinApprovedBy: 'VISA', jit: { token: jitToken, method: 'pgfs.authorization' } }))
  await waitFor(async () => (await money(c.account)).balance === 97000, 20_000, 'the parked clearing applied')
  t.same(await money(c.account), { balance: 97000, available: 97000 })
  // counted when the round ends; each event commits on its own before that
  t.ok(await waitFor(async () => await counterValue(registry, 'txn_worker_parked_events_applied_total') >= 1, 10_000, 'counted'))
})

// Publishes an event whose purchase is never seen, waits until it is parked (`whileParked` then
// checks what must hold meanwhile), and makes it two days old against the one-day horizon.
async function parkPastHorizon (event: Record<string, unknown>, whileParked?: () => Promise<void>): Promise<void> {
  const parkedBefore = await counterValue(registry, 'txn_worker_events_parked_total')
  await publishTx(event)
  await waitFor(async () => await counterValue(registry, 'txn_worker_events_parked_total') > parkedBefore, 15_000, 'parked')
  await whileParked?.()
  await db.sql`update parked_events set first_parked_at = now() - interval '2 days', next_attempt_at = now() where token = ${event.token as string}`
}

moneyTest('a parked event past the horizon goes to transactions.dead with its reason', async t => {
  const c = await fundedCard(db, 'horizon', 100000)
  const reversal = txEvent(c, {
    type: 'authorization.reversal',
    state: 'CLEARED',
    amount: 2000,
    preceding: token('never-seen'),
    unload: true,
    jit: { token: token('jitr'), method: 'pgfs.authorization.reversal', original: token('never-decided') }
  })
  await parkPastHorizon(reversal)
  const dead = await takeDead('transactions.dead')
  t.equal(dead.messageId, `parked-expired:${String(reversal.token)}`)
  t.match(String(dead.headers[HEADER_FAILURE_REASON]), /not known yet/)
  t.equal(dead.headers[HEADER_ORIGINAL_QUEUE], 'transactions')
  t.equal(dead.headers[HEADER_ORIGINAL_ROUTING_KEY], 'webhook.transactions.authorization.reversal')
  t.same((dead.body as Record<string, unknown>).token, reversal.token, 'the event itself')
  // the dead letter is confirmed before the transaction that removes the parked row commits
  await waitFor(async () => {
    const [row] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from parked_events where token = ${reversal.token as string}`
    return row?.n === 0
  }, 10_000, 'the parked row removed')
  await waitFor(async () => await counterValue(registry, 'txn_worker_messages_dead_lettered_total', { queue: 'transactions', reason: 'park_expired' }) >= 1, 10_000, 'counted')
  t.pass('no longer parked, and counted')
  t.same(await money(c.account), { balance: 100000, available: 100000 })
})

moneyTest('a clearing parked past the horizon is applied as a forced debit and counted, not dead-lettered', async t => {
  const c = await fundedCard(db, 'late-clearing', 100000)
  const clearing = txEvent(c, {
    type: 'authorization.clearing',
    state: 'COMPLETION',
    amount: 2500,
    isFinal: true,
    preceding: token('never-seen'),
    jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: token('never-decided') }
  })
  const forcedBefore = await counterValue(registry, 'txn_worker_parked_events_forced_total')
  await parkPastHorizon(clearing, async () => {
    t.same(await money(c.account), { balance: 100000, available: 100000 }, 'nothing moved while it waited')
  })
  await waitFor(async () => await counterValue(registry, 'txn_worker_parked_events_forced_total') > forcedBefore, 15_000, 'applied as forced')
  t.same(await money(c.account), { balance: 97500, available: 97500 }, 'the settled money moved')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0, 'not dead-lettered')
})

moneyTest('a poison message reaches transactions.dead after exactly the configured retries, with the reason', async t => {
  const c = await fundedCard(db, 'poison', 100000)
  const poison = txEvent(c, { type: 'refund', state: 'COMPLETION', amount: 100, token: `poison-${token('p')}` })
  const retriedBefore = await counterValue(registry, 'txn_worker_messages_retried_total', { queue: 'transactions' })
  const messageId = await publishTx(poison)
  const dead = await takeDead('transactions.dead')
  t.equal(dead.messageId, messageId)
  t.equal(Number(dead.headers[HEADER_RETRY_COUNT]), TEST_RETRY_DELAYS_MS.length, 'retried exactly 3 times first')
  t.ok(String(dead.headers[HEADER_FAILURE_REASON]).length > 0, `reason: ${String(dead.headers[HEADER_FAILURE_REASON])}`)
  t.equal(dead.headers[HEADER_ORIGINAL_ROUTING_KEY], 'webhook.transactions.refund')
  t.equal(await counterValue(registry, 'txn_worker_messages_retried_total', { queue: 'transactions' }) - retriedBefore, 3)
  t.same(await money(c.account), { balance: 100000, available: 100000 }, 'nothing moved')
})

moneyTest('an event the ledger can never apply is dead-lettered at once with its code', async t => {
  const c = await fundedCard(db, 'inexact', 100000)
  const inexact = { ...txEvent(c, { type: 'refund', state: 'COMPLETION' }), amount: '1.001', gpa: { impacted_amount: '1.001' } }
  await publishTx(inexact)
  const dead = await takeDead('transactions.dead')
  t.equal(Number(dead.headers[HEADER_RETRY_COUNT] ?? 0), 0, 'no retries')
  t.match(String(dead.headers[HEADER_FAILURE_REASON]), /INVALID_AMOUNT/)

  await env.sendEvent('webhook.transactions.refund', ['not', 'an', 'object'])
  const notObject = await takeDead('transactions.dead')
  t.match(String(notObject.headers[HEADER_FAILURE_REASON]), /not a JSON object/)
  t.same(await money(c.account), { balance: 100000, available: 100000 })
})

moneyTest('a webhook in another currency than its hold is dead-lettered with the reason and counted, never resized', async t => {
  const c = await fundedCard(db, 'yen', 100000)
  const txToken = token('auth')
  const { jitToken } = await authorize(db, c, 10000, { transactionToken: txToken })
  const before = await counterValue(registry, 'txn_worker_transaction_events_refused_total', { code: 'CURRENCY_MISMATCH' })
  const yen = txEvent(c, { type: 'authorization', state: 'PENDING', token: txToken, amount: 150, jit: { token: jitToken, method: 'pgfs.authorization' } })
  // 150 yen: the whole message in JPY
  yen.currency_code = 'JPY'
  yen.amount = 150
  yen.gpa = { currency_code: 'JPY', impacted_amount: -150 }
  yen.gpa_order = { ...(yen.gpa_order as Record<string, unknown>), currency_code: 'JPY', jit_funding: { token: jitToken, method: 'pgfs.authorization', user_token: c.user, amount: 150 } }
  await publishTx(yen)
  const dead = await takeDead('transactions.dead')
  t.equal(Number(dead.headers[HEADER_RETRY_COUNT] ?? 0), 0, 'no retries')
  t.match(String(dead.headers[HEADER_FAILURE_REASON]), /CURRENCY_MISMATCH: .*JPY.*USD/)
  t.equal(await counterValue(registry, 'txn_worker_transaction_events_refused_total', { code: 'CURRENCY_MISMATCH' }), before + 1)
  t.same(await money(c.account), { balance: 100000, available: 90000 }, 'the 100.00 hold stays 100.00')
})

moneyTest('a NUL character in a merchant name does not stop a clearing: it is applied', async t => {
  const c = await fundedCard(db, 'nul', 100000)
  const txToken = token('auth')
  const { jitToken } = await authorize(db, c, 2500, { transactionToken: txToken })
  const clearing = txEvent(c, {
    type: 'authorization.clearing',
    state: 'COMPLETION',
    amount: 2500,
    preceding: txToken,
    isFinal: true,
    jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: jitToken }
  })
  clearing.card_acceptor = { mid: '000000000011111', mcc: '5411', name: 'GROCERY\u0000 \ud800STORE', country_code: 'USA' }
  const deadBefore = await queueDepth(amqp, 'transactions.dead')
  await publishTx(clearing)
  await waitFor(async () => (await getHold(db.sql, jitToken))?.state === 'CLOSED', 15_000, 'the clearing applied')
  t.same(await money(c.account), { balance: 97500, available: 97500 }, 'auth 25; clear 25 final')
  t.equal(await queueDepth(amqp, 'transactions.dead'), deadBefore, 'nothing dead-lettered')
})

moneyTest('a NUL in an early event\'s text: parked, then applied by the park loop', async t => {
  const c = await fundedCard(db, 'nul-park', 100000)
  const txToken = token('auth')
  const jitToken = token('jit')
  const clearing = txEvent(c, {
    type: 'authorization.clearing',
    state: 'COMPLETION',
    amount: 1000,
    preceding: txToken,
    isFinal: true,
    jit: { token: token('jitc'), method: 'pgfs.authorization.capture', original: jitToken }
  })
  clearing.card_acceptor = { name: 'CAFE\u0000', mcc: '5814' }
  const parkedBefore = await counterValue(registry, 'txn_worker_events_parked_total')
  await publishTx(clearing)
  await waitFor(async () => await counterValue(registry, 'txn_worker_events_parked_total') > parkedBefore, 15_000, 'parked')
  const [row] = await db.sql<Array<{ name: string }>>`select payload->'card_acceptor'->>'name' as name from parked_events where token = ${clearing.token as string}`
  t.equal(row?.name, 'CAFE\ufffd')
  await publishTx(txEvent(c, { type: 'authorization', state: 'PENDING', token: txToken, amount: 1000, standinApprovedBy: 'VISA', jit: { token: jitToken, method: 'pgfs.authorization' } }))
  await waitFor(async () => (await money(c.account)).balance === 99000, 20_000, 'the parked clearing applied')
  t.same(await money(c.account), { balance: 99000, available: 99000 })
})

t.test('the worker settings come from config', async t => {
  t.equal(testWorkerConfig.PARK_HORIZON_S, 86400, 'the horizon the park test relies on')
  const round = await worker.retryParkedOnce()
  t.same(round, { applied: 0, forced: 0, stillParked: 0, deadLettered: 0 }, 'nothing left parked')
})
