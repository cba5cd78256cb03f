import t from 'tap'
import { checkLedgerInvariants, getAccount, getHold } from '@jit/ledger'
import { authorize, counterValue, build, fundedCard, testWorkerConfig } from './helper.js'

const env = await build(t)
const { db, registry } = env
// two workers sharing one database, as two replicas would
const one = env.startWorker({ queues: [], loops: false, relay: false })
const two = env.startWorker({ queues: [], loops: false, relay: false })

async function idle (holdToken: string, days: number): Promise<void> {
  await db.sql`update holds set last_activity_at = now() - make_interval(days => ${days}) where hold_token = ${holdToken}`
}

t.test('the sweep expires idle holds after the default days, lodging after its MCC override', async t => {
  t.equal(testWorkerConfig.HOLD_EXPIRY_DAYS, 7)
  t.equal(testWorkerConfig.HOLD_EXPIRY_MCC_DAYS, '7011:30')
  const c = await fundedCard(db, 'exp', 100000)
  const grocery = await authorize(db, c, 3000)
  const hotel = await authorize(db, c, 20000, { mcc: '7011' })
  const fresh = await authorize(db, c, 1000)
  await idle(grocery.jitToken, 8)
  await idle(hotel.jitToken, 8)
  t.same((await getAccount(db.sql, c.account))?.available, 76000)

  const expired = await one.sweepHoldsOnce()
  t.equal(expired, 1, 'only the grocery hold')
  t.equal((await getHold(db.sql, grocery.jitToken))?.state, 'EXPIRED')
  t.equal((await getHold(db.sql, hotel.jitToken))?.state, 'OPEN', 'lodging keeps its hold 30 days')
  t.equal((await getHold(db.sql, fresh.jitToken))?.state, 'OPEN')
  t.same((await getAccount(db.sql, c.account))?.available, 79000, 'the expired remainder is available again')
  t.equal(await counterValue(registry, 'txn_worker_holds_expired_total'), 1)

  await idle(hotel.jitToken, 31)
  t.equal(await one.sweepHoldsOnce(), 1)
  t.equal((await getHold(db.sql, hotel.jitToken))?.state, 'EXPIRED')
  t.equal(await one.sweepHoldsOnce(), 0, 'nothing left to expire')
  t.same(await checkLedgerInvariants(db.sql), [])
})

t.test('two workers sweeping at once expire each hold once', async t => {
  const c = await fundedCard(db, 'race', 100000)
  const holds = []
  for (let i = 0; i < 10; i++) holds.push(await authorize(db, c, 1000))
  for (const h of holds) await idle(h.jitToken, 10)
  const before = await counterValue(registry, 'txn_worker_holds_expired_total')
  const [a, b] = await Promise.all([one.sweepHoldsOnce(), two.sweepHoldsOnce()])
  t.equal((a ?? 0) + (b ?? 0), 10, `together they expired all ten (${String(a)} + ${String(b)})`)
  t.equal(await counterValue(registry, 'txn_worker_holds_expired_total') - before, 10)
  t.same((await getAccount(db.sql, c.account))?.available, 100000)
  t.same(await checkLedgerInvariants(db.sql), [])
})
