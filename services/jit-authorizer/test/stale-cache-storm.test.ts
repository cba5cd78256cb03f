import t from 'tap'
import { upsertCard, upsertUser, setLimits } from '@jit/ledger'
import { build, jitBody } from './helper.js'

// docs/ledger.md: the cache changes speed, never answers. Rows warm in process memory and Redis,
// then changed behind both caches (users suspended, cards terminated, a per-transaction limit
// set below the amount, a limit row created where "no limits" was cached), then decisions of all
// of them at once (so they share batches and screening statements), twice. Expected: each
// decision as the rows now say, no failure answers, nothing held for a declined one.
for (const batch of [1, 64]) {
  t.test(`batches of at most ${batch}: 48 warm cards changed behind the caches`, async t => {
    const h = await build(t, { poolMax: 10, env: { JIT_BATCH_MAX: String(batch), JIT_BATCH_CONCURRENCY: '2', JIT_DECISION_BUDGET_MS: '2900', JIT_DECISION_GRACE_MS: '100' } })
    const cards = await Promise.all(Array.from({ length: 48 }, async (_, i) => await h.fundedCard(`adv-stale-${i}`, 100000)))
    // warm: every card decided once (approved), so memory and Redis hold its rows
    const warm = await Promise.all(cards.map(async c => await h.jit(jitBody(c, 1))))
    t.same(warm.map(w => w.status).filter(s => s !== 200), [], 'warm decisions approved')
    const expected: string[] = []
    for (let i = 0; i < cards.length; i++) {
      const c = cards[i] as { user: string, card: string }
      switch (i % 4) {
        case 0: await upsertUser(h.db.sql, { user_token: c.user, status: 'SUSPENDED' as never }); expected.push('CARDHOLDER_NOT_ACTIVE'); break
        case 1: await upsertCard(h.db.sql, { card_token: c.card, user_token: c.user, status: 'TERMINATED' as never, expiration: '2099-12' }); expected.push('CARD_NOT_ACTIVE'); break
        case 2: await setLimits(h.db.sql, { scope: i % 8 === 2 ? 'card' : 'user', token: i % 8 === 2 ? c.card : c.user, currency: 'USD', per_transaction: 500 }); expected.push('AMOUNT_LIMIT_EXCEEDED'); break
        default: expected.push('approved')
      }
    }
    for (const round of [1, 2]) {
      const answers = await Promise.all(cards.map(async c => await h.jit(jitBody(c, 10))))
      const got = answers.map(a => a.status === 200 ? 'approved' : String(a.body?.jit_funding?.decline_reason ?? a.status) + (a.body?.jit_funding?.memo === 'Declined: the gateway could not decide; try again.' ? ' (failure)' : ''))
      t.same(got, expected, `round ${round}: each decision as the rows now say`)
    }
    for (let i = 0; i < cards.length; i++) {
      const held = 100000 - ((await h.available((cards[i] as { user: string }).user)) ?? 0)
      const want = 100 + (expected[i] === 'approved' ? 2000 : 0)
      if (held !== want) t.fail(`card ${i}: holds ${held}, expected ${want}`)
    }
    t.same(await h.invariants(), [])
  })
}
