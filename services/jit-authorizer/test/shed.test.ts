// Overload sheds: answered at once without the database, recorded off the hot path, so a repeat
// of the token gets the same decline (issue: every decline we answer is recorded).
import t from 'tap'
import { getDecision } from '@jit/ledger'
import { build, jitBody } from './helper.js'

const h = await build(t, { env: { JIT_MAX_EVENT_LOOP_DELAY_MS: '100' } })

/** Blocks the event loop well past the shedding threshold; under-pressure sees it at its next sample. */
async function overload (): Promise<void> {
  const until = Date.now() + 1500
  while (Date.now() < until) { /* busy: the event loop is stalled */ }
  for (let i = 0; i < 40 && !h.app.isUnderPressure(); i++) await new Promise(resolve => setTimeout(resolve, 25))
}

t.test('a shed decline is recorded in bulk and a repeat of the token gets the same answer', async t => {
  const c = await h.fundedCard('shed', 100000)
  const bodies = [jitBody(c, 10), jitBody(c, 20), { ...jitBody(c, 'not-an-amount') }]
  await overload()
  t.ok(h.app.isUnderPressure(), 'the gateway is shedding')
  const shed = await Promise.all(bodies.map(async b => await h.jit(b)))
  for (const s of shed) {
    t.equal(s.status, 402, 'shed: declined at once')
    t.match(s.body.jit_funding.memo, /time budget/, 'as the TIMEOUT decline it is recorded as')
  }
  // the recorder writes every 250 ms; wait until it did and the pressure is gone
  const tokens = bodies.map(b => String((b.gpa_order as { jit_funding: { token: string } }).jit_funding.token))
  for (let i = 0; i < 80; i++) {
    const recorded = await Promise.all(tokens.map(async token => await getDecision(h.db.sql, token)))
    if (recorded.every(d => d !== null) && !h.app.isUnderPressure()) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  for (const [i, token] of tokens.entries()) {
    const d = await getDecision(h.db.sql, token)
    t.equal(d?.outcome, 'declined', `shed ${i} recorded`)
    t.equal(d?.decline_reason, 'TIMEOUT', `shed ${i} recorded as a TIMEOUT decline`)
  }
  t.notOk(h.app.isUnderPressure(), 'the pressure is gone')
  for (const [i, b] of bodies.entries()) {
    const again = await h.jit(b)
    t.same({ status: again.status, body: again.body }, { status: shed[i]?.status, body: shed[i]?.body }, `the repeat of shed ${i} gets the same answer`)
  }
  t.equal(await h.available(c.user), 100000, 'nothing held')
  const metrics = await h.app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /jit_shed_recorded_total\{result="recorded"\} 3/)
  t.same(await h.invariants(), [])
})
