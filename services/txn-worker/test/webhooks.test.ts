import t from 'tap'
import { loadCard, loadUser, upsertCard } from '@jit/ledger'
import { sleep, waitFor } from '@jit/test-support'
import { counterValue, build, fundedCard, queueDepth, token } from './helper.js'

const env = await build(t)
const { db, cache, archive, amqp, registry } = env
// transactions too: the webhooks queue does not get the transaction events, their handler archives them
env.startWorker({ queues: ['webhooks', 'jit-funding', 'transactions'], loops: false, relay: false })
// commands too, for a card.upsert between a transition and its redelivery
env.startWorker({ queues: ['commands'], loops: false, relay: false })

async function archived (eventToken: string, kind: 'webhook' | 'decision' = 'webhook') {
  return await waitFor(async () => await archive.findByToken(eventToken, kind), 15_000, `${kind} ${eventToken} archived`)
}

t.test('a card transition suspends the card and invalidates its cache entry before the ack', async t => {
  const c = await fundedCard(db, 'ct', 0)
  await cache.set('card', c.card, { card_token: c.card, status: 'ACTIVE' })
  const eventToken = token('ct')
  await env.sendEvent('webhook.cardtransitions.SUSPENDED', {
    token: eventToken, card_token: c.card, user_token: c.user, state: 'SUSPENDED', type: 'state.suspended', created_time: new Date().toISOString()
  })
  const doc = await archived(eventToken)
  t.equal(doc.family, 'cardtransitions')
  t.equal(doc.type, 'SUSPENDED')
  t.equal(doc.card_token, c.card)
  t.equal((await loadCard(db.sql, c.card))?.status, 'SUSPENDED')
  t.equal(await cache.get('card', c.card), undefined, 'the cached ACTIVE card is gone')

  // an older transition, delivered late, does not undo the newer one
  const late = token('ct-late')
  await env.sendEvent('webhook.cardtransitions.ACTIVE', {
    token: late, card_token: c.card, user_token: c.user, state: 'ACTIVE', created_time: new Date(Date.now() - 3600_000).toISOString()
  })
  await archived(late)
  t.equal((await loadCard(db.sql, c.card))?.status, 'SUSPENDED', 'the late, older transition changed nothing')

  // a newer one does
  const reinstated = token('ct-new')
  await env.sendEvent('webhook.cardtransitions.ACTIVE', {
    token: reinstated, card_token: c.card, state: 'ACTIVE', created_time: new Date(Date.now() + 1000).toISOString()
  })
  await archived(reinstated)
  t.equal((await loadCard(db.sql, c.card))?.status, 'ACTIVE')
})

t.test('a redelivered transition does not undo a later card.upsert; it only invalidates the cache again', async t => {
  // one with the processor's own time, one without (its time is then the publish time, newer on a re-send)
  for (const withTime of [true, false]) {
    const c = await fundedCard(db, `ct-redeliver-${String(withTime)}`, 0)
    await upsertCard(db.sql, { card_token: c.card, user_token: c.user, status: 'UNACTIVATED', expiration: '2099-12' })
    const transition: Record<string, unknown> = { token: token('ct-act'), card_token: c.card, user_token: c.user, state: 'ACTIVE' }
    if (withTime) transition.created_time = new Date().toISOString()
    await env.sendEvent('webhook.cardtransitions.ACTIVE', transition)
    await archived(transition.token as string)
    t.equal((await loadCard(db.sql, c.card))?.status, 'ACTIVE', 'the transition applied')
    // the program suspends the card for fraud
    await env.sendCommand('card.upsert', { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12', version: 10 })
    await waitFor(async () => (await loadCard(db.sql, c.card))?.status === 'SUSPENDED', 15_000, 'the card.upsert applied')
    await cache.set('card', c.card, { card_token: c.card, status: 'SUSPENDED' })
    if (!withTime) await sleep(1100) // publish times have second precision
    // the processor re-sends the old transition (same event token)
    const before = await counterValue(registry, 'txn_worker_duplicates_skipped_total', { queue: 'webhooks' })
    await env.sendEvent('webhook.cardtransitions.ACTIVE', transition)
    await waitFor(async () => await counterValue(registry, 'txn_worker_duplicates_skipped_total', { queue: 'webhooks' }) > before, 15_000, 'the redelivery handled')
    t.equal((await loadCard(db.sql, c.card))?.status, 'SUSPENDED', `${withTime ? 'timed' : 'untimed'} redelivery: the card stays suspended`)
    t.equal(await cache.get('card', c.card), undefined, 'the cache entry invalidated again')
  }
  t.equal(await queueDepth(amqp, 'webhooks.dead'), 0)
})

t.test('a NUL character in a webhook is archived as U+FFFD, not dead-lettered', async t => {
  const eventToken = token('nul')
  await env.sendEvent('webhook.transactions.authorization', {
    token: eventToken, type: 'authorization', state: 'PENDING', user_token: 'u-nul\u0000', card_acceptor: { name: 'GROCERY\u0000' }, 'memo\u0000': 'x'
  })
  const doc = await archived(eventToken)
  t.equal(doc.user_token, 'u-nul\ufffd')
  t.same(doc.body.card_acceptor, { name: 'GROCERY\ufffd' })
  t.equal(doc.body['memo\ufffd'], 'x', 'keys too')
  t.equal(await queueDepth(amqp, 'webhooks.dead'), 0)
})

t.test('a user transition changes the user status and invalidates the user entry', async t => {
  const c = await fundedCard(db, 'ut', 0)
  await cache.set('user', c.user, { user_token: c.user, status: 'ACTIVE' })
  const eventToken = token('ut')
  await env.sendEvent('webhook.usertransitions.CLOSED', { token: eventToken, user_token: c.user, status: 'CLOSED', created_time: new Date().toISOString() })
  await archived(eventToken)
  t.equal((await loadUser(db.sql, c.user))?.status, 'CLOSED')
  t.equal(await cache.get('user', c.user), undefined)
})

t.test('a transition for an unknown card or an unmodelled state is archived and changes nothing', async t => {
  const unknown = token('ct-unknown')
  await env.sendEvent('webhook.cardtransitions.SUSPENDED', { token: unknown, card_token: 'no-such-card', state: 'SUSPENDED' })
  await archived(unknown)
  t.equal(await loadCard(db.sql, 'no-such-card'), null)

  const c = await fundedCard(db, 'ct-odd', 0)
  const odd = token('ct-odd')
  await env.sendEvent('webhook.cardtransitions.UNSUPPORTED', { token: odd, card_token: c.card, state: 'UNSUPPORTED' })
  await archived(odd)
  t.equal((await loadCard(db.sql, c.card))?.status, 'ACTIVE')
})

t.test('every webhook event is archived with card numbers masked, once', async t => {
  const eventToken = token('tx')
  const event = {
    token: eventToken,
    type: 'authorization.clearing',
    state: 'COMPLETION',
    user_token: 'u-archive',
    card_token: 'c-archive',
    created_time: '2026-01-15T10:00:00Z',
    memo: 'card 4111 1111 1111 1111 used',
    card: { pan: '4111111111111111' }
  }
  await env.sendEvent('webhook.transactions.authorization.clearing', event)
  const doc = await archived(eventToken)
  t.equal(doc.type, 'authorization.clearing')
  t.equal(doc.user_token, 'u-archive')
  t.equal(doc.occurred_at.toISOString(), '2026-01-15T10:00:00.000Z', 'the processor\'s own time')
  const text = JSON.stringify(doc.body)
  t.notMatch(text, /4111111111111111|4111 1111 1111 1111/, 'no full card number stored')
  t.match(text, /411111\*+1111/)

  const before = await counterValue(registry, 'txn_worker_transaction_events_archived_total', { outcome: 'duplicate' })
  await env.sendEvent('webhook.transactions.authorization.clearing', event)
  await waitFor(async () => await counterValue(registry, 'txn_worker_transaction_events_archived_total', { outcome: 'duplicate' }) > before, 15_000, 'the repeat')
  t.equal((await archive.query({ token: eventToken })).length, 1, 'stored once')
  t.equal(await queueDepth(amqp, 'webhooks'), 0, 'the webhooks queue never got the transaction event')
})

t.test('a webhook that is not a JSON object is dead-lettered at once', async t => {
  await env.sendEvent('webhook.cardtransitions.ACTIVE', 'nonsense')
  await waitFor(async () => await queueDepth(amqp, 'webhooks.dead') === 1, 15_000, 'the dead letter')
  t.equal(await queueDepth(amqp, 'webhooks.dead'), 1)
})

t.test('every JIT decision event is archived as a decision document', async t => {
  const jitToken = token('jit')
  await env.sendEvent('jit.decision.declined', {
    jit_token: jitToken,
    decision: 'declined',
    http_status: 402,
    method: 'pgfs.authorization',
    user_token: 'u-dec',
    card_token: 'c-dec',
    decline_reason: 'INSUFFICIENT_FUNDS',
    occurred_at: '2026-02-01T08:30:00.000Z'
  })
  const doc = await archived(jitToken, 'decision')
  t.equal(doc.kind, 'decision')
  t.equal(doc.type, 'declined')
  t.equal(doc.card_token, 'c-dec')
  t.equal(doc.occurred_at.toISOString(), '2026-02-01T08:30:00.000Z')
  t.equal(doc.body.decline_reason, 'INSUFFICIENT_FUNDS')
  t.ok(await counterValue(registry, 'txn_worker_messages_applied_total', { queue: 'jit-funding' }) >= 1)
})
