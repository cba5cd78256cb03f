import t from 'tap'
import { applyTransactionEvent, decideJitFunding, retryParkedEvents, type TransactionEventInput } from '../src/index.js'
import { ledgerDatabase, lifecycleKit, jitRequest, webhookEvent } from './helpers.js'

// Only jit_funding.method tells some messages from others of their type: an auth_plus_capture
// is typed `authorization`, a force capture `authorization.clearing`. A copy without
// jit_funding (or without gpa_order) is still the same network message (docs/ledger.md "Keys":
// one effect per message token, whichever identifiers each copy carried), so it is routed by
// what the ledger knows of that message: our decision of it, or the kind its other copy took.
const db = await ledgerDatabase(t)
const kit = lifecycleKit(t, db, 'routing-copies')
const { money, moneyTest } = kit
const card = async (balance?: number) => await kit.account('card', balance)
const DAY = 86_400_000

function without (e: TransactionEventInput, what: 'gpa_order' | 'jit_funding'): TransactionEventInput {
  const copy = structuredClone(e) as Record<string, unknown>
  if (what === 'gpa_order') delete copy.gpa_order
  else delete (copy.gpa_order as Record<string, unknown> | undefined)?.jit_funding
  return copy as TransactionEventInput
}

for (const state of ['PENDING', 'COMPLETION', 'DECLINED'] as const) {
  for (const what of ['gpa_order', 'jit_funding'] as const) {
    moneyTest(`auth_plus_capture 30 approved; its ${state} webhook typed authorization without ${what}`, async t => {
      const { c, s } = await card()
      const p = s.purchase(3000)
      t.equal((await s.decide(p, 'pgfs.auth_plus_capture')).outcome, 'approved')
      const webhook = webhookEvent(c, {
        type: 'authorization', state, token: p.txToken, amount: p.amount, timedOut: state === 'DECLINED', jit: { token: p.jitToken, method: 'pgfs.auth_plus_capture' }
      })
      await applyTransactionEvent(db.sql, without(webhook, what))
      t.same(await money(c.account), state === 'DECLINED' ? { balance: 100000, available: 100000 } : { balance: 97000, available: 97000 },
        state === 'DECLINED' ? 'credited back' : 'confirmed, no hold on top of the debit')
    })
  }
}

moneyTest('force capture 30 and its copy without gpa_order, in both orders: debited once', async t => {
  for (const first of [true, false]) {
    const { c, s } = await card()
    const fc = s.forceCapture(3000)
    const copies = first ? [fc, without(fc, 'gpa_order')] : [without(fc, 'gpa_order'), fc]
    for (const e of copies) await applyTransactionEvent(db.sql, e)
    t.same(await money(c.account), { balance: 97000, available: 97000 }, `force capture 30 (${first ? 'full copy' : 'bare copy'} first)`)
  }
})

moneyTest('force capture 30 and a copy without jit_funding that waits: debited once, also past the park horizon', async t => {
  const { c, s } = await card()
  const fc = s.forceCapture(3000)
  const now = new Date()
  for (const e of [fc, without(fc, 'jit_funding')]) await applyTransactionEvent(db.sql, e, { now })
  await retryParkedEvents(db.sql, { now: new Date(now.getTime() + 15 * DAY), horizonMs: 14 * DAY })
  t.same(await money(c.account), { balance: 97000, available: 97000 })
})

moneyTest('a force capture and its copy without gpa_order at the same moment: debited once', async t => {
  for (let i = 0; i < 10; i++) {
    const { c, s } = await card()
    const fc = s.forceCapture(3000)
    await Promise.all([applyTransactionEvent(db.sql, fc), applyTransactionEvent(db.sql, without(fc, 'gpa_order'))])
    t.same(await money(c.account), { balance: 97000, available: 97000 }, `round ${i}`)
  }
})

moneyTest('one network message asked under two JIT tokens: the second ask is a duplicate, one hold', async t => {
  for (const method of ['pgfs.authorization', 'pgfs.pindebit'] as const) {
    const { c, s } = await card()
    const p = s.purchase(10000)
    const kind = method === 'pgfs.pindebit' ? 'immediate_debit' : 'authorization'
    const ask = async (jitToken: string) => (await decideJitFunding(db.sql, [jitRequest(c, p.amount, { jitToken, method, kind, transactionToken: p.txToken })]))[0]
    const [first, second] = await Promise.all([ask(p.jitToken), ask(`${p.jitToken}-again`)])
    t.same([first?.outcome, second?.outcome].sort(), ['approved', 'declined'], `${method}: one approval`)
    t.equal(first?.decline_reason ?? second?.decline_reason, 'DUPLICATE_TRANSACTION')
    t.same(await money(c.account), method === 'pgfs.pindebit' ? { balance: 90000, available: 90000 } : { balance: 100000, available: 90000 })
    // the processor's webhook of that message names the JIT token it asked last
    const last = first?.outcome === 'approved' ? `${p.jitToken}-again` : p.jitToken
    await applyTransactionEvent(db.sql, webhookEvent(c, method === 'pgfs.pindebit'
      ? { type: 'pindebit', state: 'COMPLETION', token: p.txToken, amount: p.amount, jit: { token: last, method } }
      : { type: 'authorization', state: 'PENDING', token: p.txToken, amount: p.amount, jit: { token: last, method } }))
    t.same(await money(c.account), method === 'pgfs.pindebit' ? { balance: 90000, available: 90000 } : { balance: 100000, available: 90000 },
      `${method}: its webhook confirms the approval`)
  }
})
