import t from 'tap'
import { decideJitFunding, getDecision, hasSqlState, jitRequestFingerprint } from '@jit/ledger'
import { build, jitBody } from './helper.js'

const h = await build(t)

t.test('decisions commit with synchronous_commit on: the batch statement refuses to decide without it', async t => {
  const c = await h.fundedCard('durable', 100000)
  // the guard runs inside the decision's own transaction: a decision through the app passes it
  t.equal((await h.jit(jitBody(c, 10))).status, 200)
  const [pool] = await h.db.sql<Array<{ synchronous_commit: string }>>`show synchronous_commit`
  t.equal(pool?.synchronous_commit, 'on', 'the pool the authorizer decides on')

  const token = `async-${Date.now()}`
  const request = {
    jitToken: token,
    fingerprint: jitRequestFingerprint({ method: 'pgfs.authorization', userToken: c.user, actingUserToken: null, cardToken: c.card, amount: '10', currency: 'USD', originalJitToken: null }),
    method: 'pgfs.authorization',
    kind: 'authorization' as const,
    userToken: c.user,
    cardToken: c.card,
    accountToken: c.user,
    amount: 10,
    currency: 'USD',
    mcc: null,
    originalJitToken: null,
    transactionToken: null,
    declineReason: null,
    expect: null,
    echo: { token, method: 'pgfs.authorization', user_token: c.user, amount: 0.1 },
    timezone: 'UTC'
  }
  const err = await h.db.sql.begin(async tx => {
    await tx`set local synchronous_commit = off`
    return await decideJitFunding(tx, [request])
  }).then(() => null, (e: unknown) => e)
  t.ok(hasSqlState(err, 'JT004'), 'an asynchronous commit is refused inside the decision transaction')
  t.equal(await getDecision(h.db.sql, token), null, 'and nothing was recorded')
  t.equal(await h.available(c.user), 99000)
  t.same(await h.invariants(), [])
})
