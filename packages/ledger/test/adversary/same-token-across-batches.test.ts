import t from 'tap'
import { decideJitFunding, getAccount, upsertCard, type JitDecisionResult } from '../../src/index.js'
import { ledgerDatabase, fundedCard, assertInvariants, jitRequest } from '../helpers.js'

// docs/ledger.md "Lock order": a batch takes its card locks first, then account rows in account
// order, so two batches never deadlock. A JIT token reused under another card in a second
// batch adds a wait that order does not know. Batch A = [J on account 1, M on account X];
// batch B = [N on account X (another card of X's user), J again on another card, account 2];
// accounts 1 < X < 2. A decides J (its row and hold uncommitted) and waits for M's message row
// (a webhook of M's network message holds it); meanwhile B takes account X for N and waits for
// A's token J; the webhook commits, A's M needs account X. Expected: both batches answered (the
// reused J a DUPLICATE_TRANSACTION); nothing errors.
const db = await ledgerDatabase(t, { poolMax: 8 })

t.test('a token reused under another card in a concurrent batch deadlocks neither batch', async t => {
  const a1 = await fundedCard(db, 'adv-dl-1', 100000)
  const ax = await fundedCard(db, 'adv-dl-5', 100000)
  const a2 = await fundedCard(db, 'adv-dl-9', 100000)
  await upsertCard(db.sql, { card_token: 'c-adv-dl-5-second', user_token: ax.user, status: 'ACTIVE', expiration: '2099-12' })
  const axSecond = { ...ax, card: 'c-adv-dl-5-second' }
  t.ok(a1.account < ax.account && ax.account < a2.account, 'account order 1 < X < 2')
  const jitToken = `adv-dl-${Date.now()}`
  const txM = `${jitToken}-m`
  // the webhook of M's network message, in flight: it holds M's message row
  let releaseWebhook: () => void = () => {}
  const webhookHeld = new Promise<void>(resolve => { releaseWebhook = resolve })
  let webhookReady: () => void = () => {}
  const ready = new Promise<void>(resolve => { webhookReady = resolve })
  const webhook = db.sql.begin(async tx => {
    await tx`insert into ledger_messages (kind, message_token) values ('authorization', ${txM}) on conflict do nothing`
    await tx`select 1 from ledger_messages where kind = 'authorization' and message_token = ${txM} for update`
    webhookReady()
    await webhookHeld
  })
  await ready
  const describe = (x: unknown): string => x instanceof Error ? `error ${(x as { code?: string }).code ?? ''} ${x.message}` : JSON.stringify((x as JitDecisionResult[]).map(r => `${r.outcome}/${r.decline_reason ?? ''}`))
  const batchA = decideJitFunding(db.sql, [jitRequest(a1, 1000, { jitToken }), jitRequest(ax, 300, { transactionToken: txM })]).then(r => r, (e: unknown) => e as Error)
  await new Promise(resolve => setTimeout(resolve, 300))
  const batchB = decideJitFunding(db.sql, [jitRequest(axSecond, 500), jitRequest(a2, 700, { jitToken })]).then(r => r, (e: unknown) => e as Error)
  await new Promise(resolve => setTimeout(resolve, 300))
  releaseWebhook()
  await webhook
  const [a, b] = await Promise.all([batchA, batchB])
  t.notOk(a instanceof Error, `batch A answered: ${describe(a)}`)
  t.notOk(b instanceof Error, `batch B answered: ${describe(b)}`)
  if (!(a instanceof Error) && !(b instanceof Error)) {
    t.same([...a, ...b].map(r => r.decline_reason), [null, null, null, 'DUPLICATE_TRANSACTION'], 'the reused token is the duplicate; the others approved')
  }
  t.comment(`available: account 1 ${(await getAccount(db.sql, a1.account))?.available ?? ''}, X ${(await getAccount(db.sql, ax.account))?.available ?? ''}, 2 ${(await getAccount(db.sql, a2.account))?.available ?? ''}`)
  await assertInvariants(t, db)
})
