import t from 'tap'
import { loadCard, loadLimits, loadUser, setLimits, upsertCard } from '@jit/ledger'
import { loadScreeningRows } from '../src/snapshot.js'
import { build, jitBody } from './helper.js'

const h = await build(t)

t.test('the screening statement reads exactly what the ledger loaders read (the records the Redis cache holds)', async t => {
  const c = await h.fundedCard('rows', 10000)
  const loaders = async (card: string | null): Promise<unknown> => ({
    user: await loadUser(h.db.sql, c.user),
    card: card === null ? null : await loadCard(h.db.sql, card),
    cardLimits: card === null ? null : await loadLimits(h.db.sql, 'card', card, 'USD'),
    userLimits: await loadLimits(h.db.sql, 'user', c.user, 'USD')
  })
  t.same(await loadScreeningRows(h.db.sql, c.user, c.card, 'USD'), await loaders(c.card), 'no limits yet')
  await setLimits(h.db.sql, { scope: 'card', token: c.card, currency: 'USD', per_transaction: 5000, blocked_mccs: ['7995', '5933'] })
  await setLimits(h.db.sql, { scope: 'user', token: c.user, currency: 'USD', daily: 20000, monthly: 90000, daily_count: 7 })
  const rows = await loadScreeningRows(h.db.sql, c.user, c.card, 'USD')
  t.strictSame(rows, await loaders(c.card), 'both scopes limited: the same records, the same types')
  t.equal(typeof rows.cardLimits?.revision, 'number')
  t.strictSame(await loadScreeningRows(h.db.sql, c.user, null, 'USD'), await loaders(null), 'no card token: no card and no card limits')
  t.strictSame(await loadScreeningRows(h.db.sql, c.user, c.card, 'EUR'), { ...await loaders(c.card), cardLimits: null, userLimits: null }, 'limits are per currency')
  t.strictSame(await loadScreeningRows(h.db.sql, 'nobody', 'no-card', 'USD'), { user: null, card: null, cardLimits: null, userLimits: null }, 'unknown tokens')
})

t.test('warm rows decide from memory; a change behind the caches is seen on the retry and then kept', async t => {
  const c = await h.fundedCard('memory', 10000)
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'cold: read once, cached')
  const redisReads = h.cache.stats().hits + h.cache.stats().misses
  t.equal((await h.jit(jitBody(c, 1))).status, 200, 'warm: approved')
  t.equal(h.cache.stats().hits + h.cache.stats().misses, redisReads, 'warm rows come from memory: no Redis read')
  await upsertCard(h.db.sql, { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12' })
  const suspended = await h.jit(jitBody(c, 1))
  t.equal(suspended.body.jit_funding.decline_reason, 'CARD_NOT_ACTIVE', 'the suspension is seen (the statement refused the cached revision)')
  const again = await h.jit(jitBody(c, 1))
  t.equal(again.body.jit_funding.decline_reason, 'CARD_NOT_ACTIVE', 'and kept: the fresh row replaced the stale one')
  t.same(await h.invariants(), [])
})
