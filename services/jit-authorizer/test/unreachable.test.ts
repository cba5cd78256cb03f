// The one case where an answer is not recorded: the database cannot be reached at all. The answer
// is a decline (nothing can be held), and a repeat of the token later gets what the ledger then
// holds: here nothing, so it is decided afresh.
import t from 'tap'
import { Registry } from 'prom-client'
import { pino } from 'pino'
import { JitAuthorizerConfig, loadConfig } from '@jit/config'
import { createDatabase } from '@jit/postgres'
import { getDecision } from '@jit/ledger'
import { AUTH, build, jitBody } from './helper.js'
import { buildApp } from '../src/app.js'

const h = await build(t)

t.test('PostgreSQL unreachable: a decline that is not recorded; a repeat is decided afresh once it is back', async t => {
  const c = await h.fundedCard('unreachable', 100000)
  const config = loadConfig(JitAuthorizerConfig, { DEPLOY_ENV: 'local', JIT_BASIC_AUTH: 'jit-test:Test-Only-Passw0rd-For-Jit!', LOG_LEVEL: 'silent', JIT_DECISION_BUDGET_MS: '500', JIT_DECISION_GRACE_MS: '100' })
  // a pool on a port nothing listens on, the same cache as the working app
  const down = createDatabase({ url: 'postgres://postgres@127.0.0.1:1/none', poolMin: 0, poolMax: 2, connectTimeoutMs: 200 })
  const app = await buildApp({ config, logger: pino({ level: 'silent' }), db: down, cache: h.cache, registry: new Registry() })
  t.teardown(async () => { await app.close().catch(() => {}); await down.close(1).catch(() => {}) })
  const body = jitBody(c, 10)
  const token = String((body.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
  const started = Date.now()
  const res = await app.inject({ method: 'POST', url: '/v1/jit-funding', headers: { authorization: AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  t.ok(Date.now() - started < 2900, 'answered within the processor\'s deadline')
  t.equal(res.statusCode, 402)
  t.match(res.json().jit_funding.memo, /could not decide/)
  t.equal(await getDecision(h.db.sql, token), null, 'nothing recorded')
  t.equal(await h.available(c.user), 100000, 'nothing held')
  // The two apps share one cache object, whose loads are shared while in flight: let the
  // unreachable app's lookups fail out first, as they would in a process of its own.
  await app.close()
  await down.close(1)
  const repeat = await h.jit(body)
  t.equal(repeat.status, 200, 'the repeat, with the database back, is decided afresh')
  t.equal((await getDecision(h.db.sql, token))?.outcome, 'approved')
  t.same(await h.invariants(), [])
})
