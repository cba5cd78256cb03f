import t from 'tap'
import { holdLocks } from '@jit/test-support'
import { applyTransactionEvent, decideJitFunding, getAccount, getDecision, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest, shop } from '../helpers.js'

// ledger_lc_claim_decision: "a webhook racing an in-flight jit_decide waits for it and then sees
// its hold". The processor's PENDING webhook with jit_funding (token J) but no card_token (so no
// card lock to serialize on) arrives while our decision of J is in flight (past its replay check,
// waiting for the account row another transaction holds). Expected: the decision answers what
// it decided and the webhook confirms that hold (one hold, approved 200), as the claim's comment
// says; the webhook may not take the token from under a decision being made.
const db = await ledgerDatabase(t, { poolMax: 8 })

for (const variant of ['no card_token', 'another card_token'] as const) {
  t.test(`a PENDING with jit_funding and ${variant}, during our decision of its token`, async t => {
    const c = await fundedCard(db, `adv-nocard-${variant.replace(/ /g, '-')}`, 100000)
    const other = await fundedCard(db, `adv-nocard-other-${variant.replace(/ /g, '-')}`, 100000)
    const s = shop(db, c)
    const p = s.purchase(1000)
    const hook = s.pending(p) as Record<string, unknown>
    if (variant === 'no card_token') delete hook.card_token
    else hook.card_token = other.card
    const release = await holdLocks(db.sql, async conn => await conn`select 1 from accounts where account_token = ${c.account} for update`)
    const decision = decideJitFunding(db.sql, [jitRequest(c, p.amount, { jitToken: p.jitToken, transactionToken: p.txToken })]).then(r => r[0] as JitDecisionResult, (e: unknown) => e as Error)
    await new Promise(resolve => setTimeout(resolve, 300))
    const applied = applyTransactionEvent(db.sql, hook as never).then(r => r, (e: unknown) => e as Error)
    await new Promise(resolve => setTimeout(resolve, 300))
    await release()
    const [d, w] = await Promise.all([decision, applied])
    t.comment(`decision: ${d instanceof Error ? d.message : `${d.status} ${d.outcome}/${d.decline_reason ?? ''} replay=${String(d.replay)} duplicate=${String(d.duplicate)}`}`)
    t.comment(`webhook: ${w instanceof Error ? w.message : JSON.stringify(w)}`)
    const stored = await getDecision(db.sql, p.jitToken)
    t.comment(`stored decision: ${JSON.stringify({ outcome: stored?.outcome, reason: stored?.decline_reason, fingerprint: (stored as { request_fingerprint?: string } | null)?.request_fingerprint })}`)
    t.notOk(d instanceof Error, 'the decision is answered')
    t.notOk(w instanceof Error, `the webhook is applied, not rolled back (${w instanceof Error ? `${(w as { code?: string }).code ?? ''} ${w.message}` : ''})`)
    if (!(d instanceof Error)) t.equal(d.outcome, 'approved', 'our decision is the one recorded: approved')
    t.equal(stored?.outcome, 'approved', 'the stored decision is our approval')
    const a = await getAccount(db.sql, c.account)
    t.same({ balance: a?.balance, available: a?.available }, { balance: 100000, available: 99000 }, 'one hold of 10.00')
    await assertInvariants(t, db)
  })
}
