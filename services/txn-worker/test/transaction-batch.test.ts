import t from 'tap'
import { createAmqp } from '@jit/amqp'
import { checkLedgerInvariants, getAccount } from '@jit/ledger'
import { createDatabase } from '@jit/postgres'
import { purchasesOf } from '@jit/processor-sim'
import { waitFor } from '@jit/test-support'
import { authorize, build, fundedCard, silentLogger, testWorkerConfig, txRoutingKey, TEST_RETRY_DELAYS_MS, queueDepth } from './helper.js'

// Two workers (each its own broker connection and PostgreSQL pool) consume one vhost's
// `transactions` queue in batches while every event hits one account: the result must be the
// sequential one, whatever the batch boundaries and the interleaving of the two workers.
const env = await build(t, { poolMax: 4 })
const { db } = env
const config = { ...testWorkerConfig, WORKER_BATCH_MAX: 10 }

const db2 = createDatabase({ url: env.databaseUrl, poolMin: 0, poolMax: 4, statementTimeoutMs: 20_000 })
const amqp2 = createAmqp({ url: env.amqpUrl, logger: silentLogger, topology: { retryDelaysMs: TEST_RETRY_DELAYS_MS }, connectionName: 'txn-worker-test-2' })
t.teardown(async () => {
  await amqp2.close().catch(() => {})
  await db2.close(2).catch(() => {})
})
// the second worker runs on the first one's metrics registry; only its connections differ
const one = env.startWorker({ config, queues: ['transactions'], relay: false })
const two = env.startWorker({ config, queues: ['transactions'], relay: false, loops: false, amqp: amqp2, db: db2, publisher: amqp2.createPublisher() })
t.teardown(async () => { await two.stop() })

t.test('two batching workers, one hot account: balance and available as applied one by one, invariants clean', async t => {
  const start = 10_000_000
  const c = await fundedCard(db, 'hot', start)
  const sim = purchasesOf(c)
  const events: Array<Record<string, unknown>> = []
  let spent = 0
  // purchases we approved (JIT holds), their webhooks in either order, final clearings below the hold
  for (let i = 0; i < 30; i++) {
    const p = sim.purchase(1000 + 10 * i)
    await authorize(db, c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })
    const pair = [sim.pending(p), sim.clearing(p, p.amount - 100, true)]
    events.push(...(i % 2 === 0 ? pair : pair.reverse()))
    spent += p.amount - 100
  }
  // stand-in purchases: the clearing comes before the authorization it belongs to and is parked
  for (let i = 0; i < 5; i++) {
    const p = sim.purchase(2000 + i)
    events.push(sim.clearing(p, p.amount, true), sim.pending(p, { standinApprovedBy: 'NETWORK' }))
    spent += p.amount
  }
  for (let i = 0; i < 20; i++) { events.push(sim.forceCapture(500)); spent += 500 }
  for (let i = 0; i < 10; i++) { events.push(sim.refund(null, 300)); spent -= 300 }
  // redeliveries by the processor (new message ids): applied once
  const copies = events.filter((_, i) => i % 7 === 0)

  await Promise.all([...events, ...copies].map(async e => await env.sendEvent(txRoutingKey(e), e)))
  // a poison message among them: it alone is dead-lettered
  await env.sendEvent('webhook.transactions.authorization', ['not', 'an', 'event'])

  const expected = { balance: start - spent, available: start - spent }
  await waitFor(async () => {
    const a = await getAccount(db.sql, c.account)
    return a !== null && a.balance === expected.balance && a.available === expected.available
  }, 60_000, 'the ledger to reach the sequential result')
  await waitFor(async () => await queueDepth(env.amqp, 'transactions.dead') === 1, 15_000, 'the poison message dead-lettered')
  const a = await getAccount(db.sql, c.account)
  t.same({ balance: a?.balance, available: a?.available, held: a?.held }, { ...expected, held: 0 })
  const [{ n } = { n: -1 }] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from parked_events`
  t.equal(n, 0, 'nothing left parked')
  const s1 = one.consumerStats().transactions
  const s2 = two.consumerStats().transactions
  t.ok((s1?.acked ?? 0) > 0 && (s2?.acked ?? 0) > 0, `both workers applied events (${s1?.acked} + ${s2?.acked})`)
  t.equal((s1?.acked ?? 0) + (s2?.acked ?? 0), events.length + copies.length, 'every good message acknowledged once')
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
})
