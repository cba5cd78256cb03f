import t, { type Test } from 'tap'
import { applyTransactionEvent, retryParkedEvents, type TransactionEventInput } from '../../src/index.js'
import { adversary } from './support.js'
import { ledgerDatabase, assertInvariants, shop, webhookEvent } from '../helpers.js'

// docs/ledger.md "Keys": "What later events read ... is never purged; the `effects` rows are,
// after `jit-ops purge`'s retention"; "Invariants": "each event or command changes money at most
// once whatever the redeliveries". The model test never redelivers a message after a purge
// (generate.ts afterPurge), so every kind is redelivered here after `effects` is emptied, with
// and without its jit_funding.
const db = await ledgerDatabase(t)

const { card, money } = adversary(t, db, 'purge')

function withoutJit (e: TransactionEventInput): TransactionEventInput {
  const copy = structuredClone(e)
  if (copy.gpa_order !== undefined) delete copy.gpa_order.jit_funding
  if (copy.gpa_order_unload !== undefined) delete copy.gpa_order_unload.jit_funding
  return copy
}

async function purge (): Promise<void> {
  await db.sql`delete from effects`
}

type Shop = ReturnType<typeof shop>
type Card = { user: string, card: string, account: string }

const cases: Array<{ name: string, run: (c: Card, s: Shop) => Promise<TransactionEventInput[]> }> = [
  { name: 'stand-in PENDING', run: async (_c, s) => [s.pending(s.purchase(10000))] },
  {
    name: 'PENDING resizing our decision',
    run: async (_c, s) => { const p = s.purchase(10000); await s.decide(p); return [s.pending(p, { amount: 12000 })] }
  },
  {
    name: 'stand-in incremental',
    run: async (_c, s) => { const p = s.purchase(10000); await s.decide(p); return [s.incrementalPending(p, s.purchase(2000))] }
  },
  {
    name: 'partial clearing, not final',
    run: async (_c, s) => { const p = s.purchase(10000); await s.decide(p); return [s.clearing(p, 6000, false)] }
  },
  {
    name: 'reversal 40',
    run: async (_c, s) => { const p = s.purchase(10000); await s.decide(p); return [s.reversal(p, 4000)] }
  },
  {
    name: 'advice releasing 40',
    run: async (_c, s) => { const p = s.purchase(10000); await s.decide(p); return [s.advice(p, 4000)] }
  },
  { name: 'refund 25 (no purchase)', run: async (_c, s) => [s.refund(null, 2500)] },
  { name: 'force capture 30', run: async (_c, s) => [s.forceCapture(3000)] },
  {
    name: 'chargeback credit 15',
    run: async (c, _s) => [webhookEvent(c, { type: 'authorization.clearing.chargeback', state: 'COMPLETION', amount: 1500 })]
  },
  {
    name: 'stand-in PIN debit 30',
    run: async (c, s) => { const p = s.purchase(3000); return [webhookEvent(c, { type: 'pindebit', state: 'COMPLETION', token: p.txToken, amount: 3000, jit: { token: p.jitToken, method: 'pgfs.pindebit' } })] }
  },
  {
    name: 'PIN debit webhook of our decision with another amount (adjustment)',
    run: async (c, s) => { const p = s.purchase(3000); await s.decide(p, 'pgfs.pindebit'); return [webhookEvent(c, { type: 'pindebit', state: 'COMPLETION', token: p.txToken, amount: 4000, jit: { token: p.jitToken, method: 'pgfs.pindebit' } })] }
  },
  {
    name: 'DECLINED repair of our approval',
    run: async (_c, s) => { const p = s.purchase(10000); await s.decide(p); return [s.declined(p, true)] }
  },
  {
    name: 'DECLINED repair of our PIN debit',
    run: async (c, s) => { const p = s.purchase(3000); await s.decide(p, 'pgfs.pindebit'); return [webhookEvent(c, { type: 'pindebit', state: 'DECLINED', token: p.txToken, amount: 3000, timedOut: true, jit: { token: p.jitToken, method: 'pgfs.pindebit' } })] }
  },
  {
    name: 'clearing parked, then applied by the retry once its hold exists',
    run: async (_c, s) => {
      const p = s.purchase(10000)
      const cl = s.clearing(p, 10000, true)
      await applyTransactionEvent(db.sql, cl)
      await applyTransactionEvent(db.sql, s.pending(p))
      await retryParkedEvents(db.sql, { horizonMs: 14 * 86400000, now: new Date(Date.now() + 60000) })
      return [cl]
    }
  }
]

for (const k of cases) {
  t.test(`${k.name}: redelivered after the purge (as sent, and without jit_funding) changes nothing`, async (t: Test) => {
    const { c, s } = await card(k.name.replace(/\W+/g, '-').slice(0, 20))
    const events = await k.run(c, s)
    for (const e of events) t.comment(`first: ${JSON.stringify(await applyTransactionEvent(db.sql, e))}`)
    const before = await money(c.account)
    await purge()
    for (const e of events) {
      for (const copy of [e, withoutJit(e)]) {
        const r = await applyTransactionEvent(db.sql, copy).catch((err: Error) => ({ outcome: `throws ${err.message}` }))
        t.comment(`again: ${JSON.stringify(r)}`)
      }
    }
    t.same(await money(c.account), before, `${k.name}: balances unchanged by the redeliveries`)
    await assertInvariants(t, db)
  })
}
