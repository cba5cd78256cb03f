import t from 'tap'
import { applyTransactionEvent } from '../../src/index.js'
import { adversary } from './support.js'
import { ledgerDatabase, webhookEvent, withoutGpaOrder } from '../helpers.js'

// docs/ledger.md "Keys": "the same message redelivered with other identifiers applies once".
// Beyond the routing of a copy without jit_funding (ledger_apply_transaction: "what the ledger
// knows of the network message decides"): (1) a stand-in auth_plus_capture whose bare copy
// (typed `authorization`) comes first, before anything tells it is a debit; (2) the two copies
// of a force capture at the same moment; (3) our auth_plus_capture decision and its bare webhook
// at the same moment.
const db = await ledgerDatabase(t, { poolMax: 8 })
const { card, check, money } = adversary(t, db, 'route')

const bare = withoutGpaOrder

check('stand-in auth_plus_capture 30: bare copy (typed authorization) first, then the copy with jit_funding', async t => {
  const { c, s } = await card('apc-standin')
  const p = s.purchase(3000)
  const full = webhookEvent(c, { type: 'authorization', state: 'COMPLETION', token: p.txToken, amount: 3000, jit: { token: p.jitToken, method: 'pgfs.auth_plus_capture' } })
  for (const e of [bare(full), full]) t.comment(JSON.stringify(await applyTransactionEvent(db.sql, e)))
  t.same(await money(c.account), { balance: 97000, available: 97000 }, 'one single-message debit of 30 ("single-message PIN debit 30 | 970 | 970")')
})

check('stand-in auth_plus_capture 30: the copy with jit_funding first, then the bare copy (control)', async t => {
  const { c, s } = await card('apc-standin-ctl')
  const p = s.purchase(3000)
  const full = webhookEvent(c, { type: 'authorization', state: 'COMPLETION', token: p.txToken, amount: 3000, jit: { token: p.jitToken, method: 'pgfs.auth_plus_capture' } })
  for (const e of [full, bare(full)]) t.comment(JSON.stringify(await applyTransactionEvent(db.sql, e)))
  t.same(await money(c.account), { balance: 97000, available: 97000 })
})

check('force capture 30 and its copy without gpa_order at the same moment: debited once (20 rounds)', async t => {
  const bad: string[] = []
  for (let i = 0; i < 20; i++) {
    const { c, s } = await card(`fc-race-${i}`)
    const fc = s.forceCapture(3000)
    const results = await Promise.all([applyTransactionEvent(db.sql, fc), applyTransactionEvent(db.sql, bare(fc))])
    const m = await money(c.account)
    if (m.balance !== 97000) bad.push(`round ${i}: ${results.map(r => `${r.action}/${r.outcome}`).join(', ')}: ${JSON.stringify(m)}`)
  }
  t.same(bad, [], 'every round 970/970')
})

for (const state of ['COMPLETION', 'DECLINED']) {
  check(`our auth_plus_capture decision 30 and its bare ${state} webhook (typed authorization) at the same moment (20 rounds)`, async t => {
    const bad: string[] = []
    const expected = state === 'DECLINED' ? 100000 : 97000
    for (let i = 0; i < 20; i++) {
      const { c, s } = await card(`apc-race-${state}-${i}`)
      const p = s.purchase(3000)
      const webhook = webhookEvent(c, { type: 'authorization', state, token: p.txToken, amount: 3000, timedOut: state === 'DECLINED' })
      const [d, w] = await Promise.all([s.decide(p, 'pgfs.auth_plus_capture'), applyTransactionEvent(db.sql, webhook)])
      const m = await money(c.account)
      if (m.balance !== expected || m.available !== expected) bad.push(`round ${i}: decision ${d.outcome}, webhook ${w.action}/${w.effect ?? w.outcome}: ${JSON.stringify(m)}`)
    }
    t.same(bad, [], `every round ${expected / 100}/${expected / 100}`)
  })
}
