import t from 'tap'
import { applyTransactionEvent, decideJitFunding, getAccount, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, shop, webhookEvent, jitRequest, withoutJitFunding } from '../helpers.js'

// docs/ledger.md "Keys": the webhook that confirms a decision "shares the decision's effect
// whichever other identifiers it carries" (never a second hold), and "Invariants": "one
// decision per JIT token (... one hold at most)"; docs/processor-protocol.md: webhooks "arrive
// late, twice and out of order" (the webhook may arrive before the decision's own record is
// written).
// Our JIT decision (J, request token T) and the processor's PENDING webhook of that message sent
// without jit_funding (so it cannot claim the decision row J), at the same time, many rounds.
const db = await ledgerDatabase(t, { poolMax: 8 })

const variants = [
  { name: 'authorization 100 and its PENDING', method: 'pgfs.authorization', expect: { balance: 100000, available: 90000 } },
  { name: 'PIN debit 30 and its COMPLETION', method: 'pgfs.pindebit', expect: { balance: 97000, available: 97000 } },
  { name: 'authorization 100 and its timed-out DECLINED', method: 'pgfs.authorization', declined: true, expect: { balance: 100000, available: 100000 } },
  { name: 'incremental 20 (on an approved 100) and its PENDING', method: 'pgfs.authorization.incremental', expect: { balance: 100000, available: 88000 } }
]

for (const v of variants) {
  t.test(`${v.name} without jit_funding, at once: ${JSON.stringify(v.expect)} whatever the interleaving`, async t => {
    const bad: string[] = []
    const rounds = 30
    for (let i = 0; i < rounds; i++) {
      const c = await fundedCard(db, `adv-race-${v.method}-${v.declined === true ? 'd' : 'p'}-${i}`, 100000)
      const s = shop(db, c)
      const incremental = v.method === 'pgfs.authorization.incremental'
      const original = s.purchase(10000)
      if (incremental) await s.decide(original)
      const p = incremental ? s.purchase(2000) : s.purchase(v.method === 'pgfs.pindebit' ? 3000 : 10000)
      const webhook = v.method === 'pgfs.pindebit'
        ? webhookEvent(c, { type: 'pindebit', state: 'COMPLETION', token: p.txToken, amount: p.amount })
        : incremental
          ? withoutJitFunding(s.incrementalPending(original, p))
          : withoutJitFunding(v.declined === true ? s.declined(p, true) : s.pending(p))
      const later = async <T>(f: () => Promise<T>): Promise<T> => await new Promise(resolve => setImmediate(resolve)).then(f)
      const decide = async () => incremental
        ? (await decideJitFunding(db.sql, [jitRequest(c, p.amount, { jitToken: p.jitToken, method: v.method, kind: 'incremental', originalJitToken: original.jitToken, transactionToken: p.txToken })]))[0] as JitDecisionResult
        : await s.decide(p, v.method)
      const hook = async () => await applyTransactionEvent(db.sql, webhook)
      const [decision, applied] = await Promise.all([i % 2 === 0 ? decide() : later(decide), i % 2 === 1 ? hook() : later(hook)])
      const a = await getAccount(db.sql, c.account)
      const got = { balance: a?.balance, available: a?.available }
      if (JSON.stringify(got) !== JSON.stringify(v.expect)) {
        bad.push(`round ${i}: decision ${decision.outcome}/${decision.decline_reason ?? ''}, webhook ${applied.effect ?? applied.outcome}: ${JSON.stringify(got)}`)
      }
    }
    t.same(bad, [], `every one of ${rounds} rounds`)
    await assertInvariants(t, db)
  })
}
