import t from 'tap'
import { applyTransactionEvent, listOpenHolds, type TransactionEventInput } from '../src/index.js'
import { adversary } from './adversary/support.js'
import { ledgerDatabase, webhookEvent, withoutJitFunding } from './helpers.js'

// auth_plus_capture 30.00 on a card funded with 1000.00 (docs/ledger.md "Keys" row of the stand-in
// hold of an apc bare copy; "Invariants": any order of arrival converges).
const db = await ledgerDatabase(t)
const { card, check, money } = adversary(t, db, 'apcv')

async function run (name: string, steps: Array<'bareP' | 'bareC' | 'bareD' | 'jitC' | 'jitD' | 'decide'>) {
  const { c, s } = await card(name)
  const p = s.purchase(3000)
  const ev = (state: 'PENDING' | 'COMPLETION' | 'DECLINED'): TransactionEventInput => webhookEvent(c, { type: 'authorization', state, token: p.txToken, amount: p.amount, timedOut: state === 'DECLINED', jit: { token: p.jitToken, method: 'pgfs.auth_plus_capture' } })
  const log: string[] = []
  for (const st of steps) {
    if (st === 'decide') { const d = await s.decide(p, 'pgfs.auth_plus_capture'); log.push(`decide:${d.outcome}/${d.decline_reason ?? ''}`); continue }
    const e = { bareP: withoutJitFunding(ev('PENDING')), bareC: withoutJitFunding(ev('COMPLETION')), bareD: withoutJitFunding(ev('DECLINED')), jitC: ev('COMPLETION'), jitD: ev('DECLINED') }[st]
    const r = await applyTransactionEvent(db.sql, e); log.push(`${st}:${r.outcome}/${(r as any).effect ?? (r as any).reason}`)
  }
  const m = await money(c.account)
  const holds = (await listOpenHolds(db.sql, c.account)).map(h => ({ token: h.hold_token, remaining: h.remaining }))
  return { ...m, holds, log }
}

check('the DECLINED with jit_funding releases the stand-in hold its bare copy opened', async t => {
  for (const first of ['bareP', 'bareC'] as const) {
    const r = await run(`jitd-after-${first}`, [first, 'jitD'])
    t.comment(JSON.stringify(r))
    t.same({ balance: r.balance, available: r.available, holds: r.holds.length }, { balance: 100000, available: 100000, holds: 0 }, `${first} > jitD: the declined message holds nothing`)
  }
})

check('a bare DECLINED and the COMPLETION with jit_funding leave the same balances in either order', async t => {
  const a = await run('declined-first', ['bareD', 'jitC'])
  const b = await run('completion-first', ['jitC', 'bareD'])
  t.comment(JSON.stringify(a)); t.comment(JSON.stringify(b))
  t.same({ balance: a.balance, available: a.available }, { balance: b.balance, available: b.available }, 'same balances in both orders')
})

check('after a bare DECLINED, the bare COMPLETION moves nothing whether or not our DUPLICATE decline came between', async t => {
  const a = await run('decision-between', ['bareD', 'decide', 'bareC'])
  const b = await run('decision-last', ['bareD', 'bareC', 'decide'])
  t.comment(JSON.stringify(a)); t.comment(JSON.stringify(b))
  t.same({ balance: a.balance, available: a.available }, { balance: b.balance, available: b.available }, 'a DUPLICATE decline (no money) does not change the outcome')
})
