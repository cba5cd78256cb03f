import t from 'tap'
import type { Publisher } from '@jit/amqp'
import { applyTransactionEvent, checkLedgerInvariants, getAccount, type TransactionEventInput } from '@jit/ledger'
import { authorize, build, fundedCard, queueDepth, token, txEvent } from './helper.js'

// The park loop's round: each parked event in a transaction of its own, and the dead letters of
// expired events published with no transaction open (no account, hold or parked row locked while
// the broker is waited for), the parked row deleted only after the confirm.
const env = await build(t)
const { db, amqp } = env

interface PublishSeen { routingKey: string, accountLockable: boolean, parkedRowLockable: boolean, parkedRows: number }
const publishes: PublishSeen[] = []
let failNext = false
let watch: { account: string, parkedToken: string } | undefined

async function lockable (run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run()
    return true
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return false
    throw err
  }
}

// The real publisher, looking at the database from another connection at the moment of the publish.
const publisher: Publisher = {
  async publish (routingKey, body, options) {
    if (watch !== undefined) {
      const w = watch
      const [count] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from parked_events where token = ${w.parkedToken}`
      publishes.push({
        routingKey,
        accountLockable: await lockable(async () => await db.sql.begin(async tx => await tx`select 1 from accounts where account_token = ${w.account} for update nowait`)),
        parkedRowLockable: await lockable(async () => await db.sql.begin(async tx => await tx`select 1 from parked_events where token = ${w.parkedToken} for update nowait`)),
        parkedRows: count?.n ?? 0
      })
    }
    if (failNext) {
      failNext = false
      throw new Error('broker unreachable (test)')
    }
    return await env.publisher.publish(routingKey, body, options)
  },
  close: async () => {}
}
const worker = env.startWorker({ queues: [], loops: false, relay: false, publisher })

async function parked (eventToken: string): Promise<number> {
  const [row] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from parked_events where token = ${eventToken}`
  return row?.n ?? 0
}

t.test('an expired event is dead-lettered with no lock held, after the applied events committed', async t => {
  const c = await fundedCard(db, 'park-locks', 100000)
  // a clearing parked before its purchase's authorization webhook (our decision is in)
  const txToken = token('auth')
  const { jitToken } = await authorize(db, c, 4000, { transactionToken: txToken })
  const clearing = txEvent(c, {
    type: 'authorization.clearing', state: 'COMPLETION', amount: 4000, preceding: token('unknown-yet'), isFinal: true
  }) as TransactionEventInput
  t.equal((await applyTransactionEvent(db.sql, clearing)).outcome, 'parked')
  // ... which becomes applicable: its preceding token is now the purchase's
  await db.sql`update parked_events set payload = jsonb_set(payload, '{preceding_related_transaction_token}', to_jsonb(${txToken}::text)),
    next_attempt_at = now() - interval '1 minute' where token = ${clearing.token}`
  // and a reversal of a purchase never seen, parked for two days: past the one-day horizon
  const reversal = txEvent(c, { type: 'authorization.reversal', state: 'CLEARED', amount: 1000, preceding: token('never') }) as TransactionEventInput
  t.equal((await applyTransactionEvent(db.sql, reversal)).outcome, 'parked')
  await db.sql`update parked_events set first_parked_at = now() - interval '2 days', next_attempt_at = now() - interval '1 second' where token = ${reversal.token}`

  watch = { account: c.account, parkedToken: reversal.token }
  const round = await worker.retryParkedOnce()
  watch = undefined
  t.same(round, { applied: 1, forced: 0, stillParked: 0, deadLettered: 1 })
  t.equal(publishes.length, 1)
  t.equal(publishes[0]?.routingKey, 'transactions.dead')
  t.ok(publishes[0]?.accountLockable, 'the account row was not locked while the broker was waited for')
  t.ok(publishes[0]?.parkedRowLockable, 'nor the parked row')
  t.equal(publishes[0]?.parkedRows, 1, 'the parked row still existed at the publish')
  t.equal(await parked(reversal.token), 0, 'deleted after the confirm')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 1)
  const dead = await amqp.connection.basicGet({ queue: 'transactions.dead', noAck: true })
  t.equal(dead?.messageId, `parked-expired:${reversal.token}`)
  t.same((await getAccount(db.sql, c.account))?.balance, 96000, 'the clearing applied')
  t.equal((await db.sql<Array<{ state: string }>>`select state from holds where hold_token = ${jitToken}`)[0]?.state, 'CLOSED')
  t.same(await checkLedgerInvariants(db.sql), [])
})

t.test('a dead letter that cannot be published leaves the event parked; a later round delivers it', async t => {
  const c = await fundedCard(db, 'park-fail', 100000)
  const reversal = txEvent(c, { type: 'authorization.reversal', state: 'CLEARED', amount: 1000, preceding: token('never') }) as TransactionEventInput
  t.equal((await applyTransactionEvent(db.sql, reversal)).outcome, 'parked')
  await db.sql`update parked_events set first_parked_at = now() - interval '2 days', next_attempt_at = now() - interval '1 second' where token = ${reversal.token}`
  failNext = true
  const failed = await worker.retryParkedOnce()
  t.same(failed, { applied: 0, forced: 0, stillParked: 1, deadLettered: 0 })
  t.equal(await parked(reversal.token), 1, 'still parked: not lost')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0)

  await db.sql`update parked_events set next_attempt_at = now() - interval '1 second' where token = ${reversal.token}`
  const next = await worker.retryParkedOnce()
  t.same(next, { applied: 0, forced: 0, stillParked: 0, deadLettered: 1 })
  t.equal(await parked(reversal.token), 0)
  t.equal(await queueDepth(amqp, 'transactions.dead'), 1)
})
