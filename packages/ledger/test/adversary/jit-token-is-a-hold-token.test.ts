import t from 'tap'
import { applyTransactionEvent, decideJitFunding, getAccount, getDecision, getHold, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest, webhookEvent, withoutJitFunding } from '../helpers.js'

// Holds are keyed by the JIT token of our decision, or by the message's transaction token for a
// stand-in the processor approved without us (docs/ledger.md "Keys"). A JIT request whose token
// is the transaction token of a stand-in hold already open (a processor reusing a token across
// namespaces, or a forged request) must be answered (a 4xx-class decline, nothing moved), never
// fail the statement (the authorizer would answer a failure and record nothing). An
// authorization would open a second hold under that key: it is a DUPLICATE_TRANSACTION of the
// effect already keyed by the token, recorded, moving nothing. An immediate debit keys no hold
// (its effect key is its own): it is decided as any other.
const db = await ledgerDatabase(t, { poolMax: 4 })

for (const kind of ['authorization', 'immediate_debit'] as const) {
  t.test(`${kind}: JIT token = an open stand-in hold's token`, async t => {
    const c = await fundedCard(db, `adv-holdtok-${kind}`, 100000)
    const tx = `adv-holdtok-${kind}-${Date.now()}`
    const applied = await applyTransactionEvent(db.sql, withoutJitFunding(webhookEvent(c, { type: 'authorization', state: 'PENDING', token: tx, amount: 2000 } as never)))
    t.comment(`stand-in: ${JSON.stringify(applied)}`)
    const method = kind === 'immediate_debit' ? 'pgfs.pindebit' : 'pgfs.authorization'
    const r = await decideJitFunding(db.sql, [jitRequest(c, 1000, { jitToken: tx, method, kind, transactionToken: `${tx}-other` })]).then(x => x[0] as JitDecisionResult, (e: unknown) => e as Error)
    t.notOk(r instanceof Error, `answered, not an error (${r instanceof Error ? `${(r as { code?: string }).code ?? ''} ${r.message}` : `${(r as JitDecisionResult).outcome}/${(r as JitDecisionResult).decline_reason ?? ''}`})`)
    if (r instanceof Error) return
    const expected = kind === 'authorization'
      ? { outcome: 'declined', reason: 'DUPLICATE_TRANSACTION', available: 98000 }
      : { outcome: 'approved', reason: null, available: 97000 }
    t.same({ outcome: r.outcome, reason: r.decline_reason, available: (await getAccount(db.sql, c.account))?.available }, expected,
      kind === 'authorization' ? 'declined DUPLICATE_TRANSACTION; only the stand-in is held' : 'approved and debited beside the stand-in')
    t.equal((await getDecision(db.sql, tx))?.outcome, expected.outcome, 'the answer is recorded under the token')
    if (kind === 'authorization') t.equal((await getHold(db.sql, tx))?.authorized, 2000, 'the stand-in hold is unchanged')
    await assertInvariants(t, db)
  })
}
