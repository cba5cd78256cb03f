import t from 'tap'
import { loadCard, loadLimits, loadUser, setLimits, upsertCard } from '@jit/ledger'
import { createScreeningReader, loadScreeningRows, type ScreeningRows } from '../src/snapshot.js'
import { build, jitBody } from './helper.js'

const h = await build(t)
const one = async (userToken: string, cardToken: string | null, currency: string): Promise<ScreeningRows | undefined> =>
  (await loadScreeningRows(h.db.sql, [{ userToken, cardToken, currency }]))[0]

t.test('the screening statement reads exactly what the ledger loaders read (the records the Redis cache holds)', async t => {
  const c = await h.fundedCard('rows', 10000)
  const loaders = async (card: string | null): Promise<Record<string, unknown>> => ({
    user: await loadUser(h.db.sql, c.user),
    card: card === null ? null : await loadCard(h.db.sql, card),
    cardLimits: card === null ? null : await loadLimits(h.db.sql, 'card', card, 'USD'),
    userLimits: await loadLimits(h.db.sql, 'user', c.user, 'USD')
  })
  t.same(await one(c.user, c.card, 'USD'), await loaders(c.card), 'no limits yet')
  await setLimits(h.db.sql, { scope: 'card', token: c.card, currency: 'USD', per_transaction: 5000, blocked_mccs: ['7995', '5933'] })
  await setLimits(h.db.sql, { scope: 'user', token: c.user, currency: 'USD', daily: 20000, monthly: 90000, daily_count: 7 })
  const rows = await one(c.user, c.card, 'USD')
  t.strictSame(rows, await loaders(c.card), 'both scopes limited: the same records, the same types')
  t.equal(typeof rows?.cardLimits?.revision, 'number')
  t.strictSame(await one(c.user, null, 'USD'), await loaders(null), 'no card token: no card and no card limits')
  t.strictSame(await one(c.user, c.card, 'EUR'), { ...await loaders(c.card), cardLimits: null, userLimits: null }, 'limits are per currency')
  t.strictSame(await one('nobody', 'no-card', 'USD'), { user: null, card: null, cardLimits: null, userLimits: null }, 'unknown tokens')
})

t.test('several decisions in one screening statement: each gets its own rows, in order', async t => {
  const a = await h.fundedCard('batch-a', 100)
  const b = await h.fundedCard('batch-b', 100)
  await setLimits(h.db.sql, { scope: 'user', token: b.user, currency: 'USD', per_transaction: 77 })
  const keys = [
    { userToken: b.user, cardToken: b.card, currency: 'USD' },
    { userToken: 'nobody', cardToken: null, currency: 'USD' },
    { userToken: a.user, cardToken: a.card, currency: 'USD' },
    { userToken: b.user, cardToken: b.card, currency: 'USD' }
  ]
  const together = await loadScreeningRows(h.db.sql, keys)
  t.strictSame(together, await Promise.all(keys.map(async k => await one(k.userToken, k.cardToken, k.currency))), 'the same as one by one')
  t.equal(together[0]?.userLimits?.per_transaction, 77)
  t.equal(together[2]?.card?.card_token, a.card)
  t.same(await loadScreeningRows(h.db.sql, []), [])
  // reads that arrive while one is in flight ride in the next statement, each answered its own
  const read = createScreeningReader({ sql: h.db.sql, maxConcurrent: 1 })
  const answers = await Promise.all([...keys, ...keys].map(async k => await read(k)))
  t.strictSame(answers, [...together, ...together])
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
