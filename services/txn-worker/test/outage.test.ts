import { randomUUID } from 'node:crypto'
import t from 'tap'
import { PermanentError, TransientError } from '@jit/amqp'
import { getAccount, loadCard } from '@jit/ledger'
import { createDatabase } from '@jit/postgres'
import { createCache } from '@jit/redis'
import { freePort, sleep, startPrivateRedis, waitFor } from '@jit/test-support'
import { isTransientFailure } from '../src/index.js'
import { answersTo, counterValue, build, fundedCard, queueDepth, txEvent, txRoutingKey } from './helper.js'

// Dependency outages longer than the retry delays (3 x 100 ms here, ~31 s in production): the
// messages consumed meanwhile are requeued after a pause, uncounted, and applied once the
// dependency is back; nothing is dead-lettered.
const env = await build(t)
const { db, amqp, registry } = env

async function failureOf (run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

t.test('isTransientFailure recognises real connection-level failures and nothing else', async t => {
  const port = await freePort()
  const closed = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/nowhere`, poolMin: 0, poolMax: 1, connectTimeoutMs: 2000 })
  t.teardown(() => closed.close(1))
  const refused = await failureOf(async () => await closed.sql`select 1`)
  t.equal((refused as { code?: string }).code, 'ECONNREFUSED')
  t.ok(isTransientFailure(refused), 'PostgreSQL not listening')

  // a server-side session ended by the administrator (57P01), as in a failover or restart
  const victim = createDatabase({ url: env.databaseUrl, poolMin: 0, poolMax: 1, applicationName: 'outage-victim' })
  t.teardown(() => victim.close(1))
  const sleeping = failureOf(async () => await victim.sql`select pg_sleep(30)`)
  await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where application_name = 'outage-victim' and state = 'active'`).length === 1, 10_000, 'the victim query running')
  await db.sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'outage-victim'`
  const terminated = await sleeping
  // porsager reports the server's FATAL 57P01 or, as the socket closes first, CONNECTION_CLOSED;
  // on a loaded machine the kernel may report the closed socket as ECONNRESET before either
  t.match((terminated as { code?: string }).code, /^(57P01|CONNECTION_CLOSED|ECONNRESET)$/)
  t.ok(isTransientFailure(terminated), 'the session ended by the server')

  const nul = await failureOf(async () => await db.sql`select ${db.sql.json({ a: '\u0000' })}::jsonb`)
  t.equal((nul as { code?: string }).code, '22P05')
  t.notOk(isTransientFailure(nul), 'a value PostgreSQL refuses is the message\'s problem')
  t.notOk(isTransientFailure(await failureOf(async () => await db.sql`select nope from nowhere`)), 'an SQL error')
  t.notOk(isTransientFailure(Object.assign(new Error('protocol'), { code: '08P01' })), 'protocol_violation can be the message\'s own')
  t.notOk(isTransientFailure(new Error('ledger unavailable')), 'a plain error')
  t.notOk(isTransientFailure(new PermanentError('bad')), 'a permanent error')
  t.ok(isTransientFailure(new TransientError('redis down')))
  t.ok(isTransientFailure(new Error('wrapped', { cause: refused })), 'through a cause chain')
  t.ok(isTransientFailure(Object.assign(new Error('gone'), { code: 'CONNECTION_CLOSED' })))
})

t.test('PostgreSQL unreachable for longer than the retry delays: requeued, uncounted, then applied', async t => {
  const c = await fundedCard(db, 'outage-pg', 100000)
  const port = await freePort()
  const down = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/nowhere`, poolMin: 0, poolMax: 2, connectTimeoutMs: 2000 })
  t.teardown(() => down.close(1))
  const failing = env.startWorker({ db: down, queues: ['transactions'], loops: false, relay: false })
  const refund = txEvent(c, { type: 'refund', state: 'COMPLETION', amount: 1500 })
  await env.sendEvent(txRoutingKey(refund), refund)
  // well past 3 x 100 ms of retry delays
  await waitFor(() => (failing.consumerStats().transactions?.transient ?? 0) >= 4, 20_000, 'several transient failures')
  const stats = failing.consumerStats().transactions
  t.equal(stats?.retried, 0, 'no retry spent')
  t.equal(stats?.dead, 0, 'nothing dead-lettered')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0)
  t.equal((await amqp.queueStats()).find(s => s.queue === 'transactions')?.retryMessages, 0, 'nothing on the retry path')
  t.ok(await counterValue(registry, 'txn_worker_messages_requeued_transient_total', { queue: 'transactions' }) >= 4, 'counted as transient')
  t.equal(await counterValue(registry, 'txn_worker_messages_retried_total', { queue: 'transactions' }), 0)

  const started = Date.now()
  await failing.stop()
  t.ok(Date.now() - started < 3000, `the worker stops during the outage (${Date.now() - started} ms)`)
  await waitFor(async () => await queueDepth(amqp, 'transactions') === 1, 10_000, 'the message back in its queue')

  // PostgreSQL is back (a worker on the reachable database)
  env.startWorker({ queues: ['transactions'], loops: false, relay: false })
  await waitFor(async () => (await getAccount(db.sql, c.account))?.balance === 101500, 15_000, 'the refund applied')
  await sleep(200)
  t.equal((await getAccount(db.sql, c.account))?.balance, 101500, 'applied once')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0)
})

t.test('Redis down while a command is answered: requeued until Redis is back, then answered once', async t => {
  const redis = await startPrivateRedis(t)
  const cache = createCache({ url: redis.url, keyPrefix: `outage-${randomUUID()}:`, commandTimeoutMs: 300 })
  t.teardown(() => cache.close())
  await cache.connect()
  const { seen } = await env.watchEvents(['command.#'])
  const worker = env.startWorker({ cache, queues: ['commands'], loops: false })
  const c = await fundedCard(db, 'outage-redis', 0)
  await cache.set('card', c.card, { card_token: c.card, status: 'ACTIVE' })

  await redis.stop()
  const id = randomUUID()
  await env.sendCommand('card.upsert', { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12', version: 3 }, id)
  await waitFor(() => (worker.consumerStats().commands?.transient ?? 0) >= 3, 30_000, 'transient failures while Redis is down')
  t.equal((await loadCard(db.sql, c.card))?.status, 'SUSPENDED', 'the change is committed')
  t.same(answersTo(seen, id), [], 'not answered while the old cache entry may be served')
  t.equal(worker.consumerStats().commands?.dead, 0)
  t.equal(worker.consumerStats().commands?.retried, 0)
  t.equal(await queueDepth(amqp, 'commands.dead'), 0)

  await redis.start()
  const answers = await waitFor(() => { const a = answersTo(seen, id); return a.length > 0 ? a : null }, 30_000, 'the answer once Redis is back')
  t.equal(answers[0]?.routingKey, 'command.applied')
  t.equal(await cache.get('card', c.card), undefined, 'the old entry invalidated (a fresh Redis holds none anyway)')
  await sleep(300)
  t.equal(answersTo(seen, id).length, 1, 'answered once')
  t.equal(await queueDepth(amqp, 'commands.dead'), 0)
})
