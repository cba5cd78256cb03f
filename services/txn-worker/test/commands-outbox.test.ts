import { randomUUID } from 'node:crypto'
import t from 'tap'
import { loadCard, type CardRecord } from '@jit/ledger'
import { createCache } from '@jit/redis'
import { sleep, startPrivateRedis, waitFor } from '@jit/test-support'
import { answersTo, build, fundedCard, type SeenEvent } from './helper.js'

// Command answers go through the outbox: written in the command's transaction, published by the
// worker's relay, and never before the command's cache entries are invalidated.
const env = await build(t)
const { db, cache } = env

// What the card cache held when each answer arrived (the subscriber's view at that moment).
const cachedAtAnswer = new Map<string, CardRecord | null | undefined>()
const { seen } = await env.watchEvents(['command.#'], async (e: SeenEvent) => {
  const token = e.body.entity_token
  if (e.body.command_type === 'card.upsert' && typeof token === 'string') {
    cachedAtAnswer.set(String(e.correlationId), await cache.get<CardRecord | null>('card', token))
  }
})

async function answerTo (messageId: string): Promise<SeenEvent> {
  const [answer] = await waitFor(() => { const a = answersTo(seen, messageId); return a.length > 0 ? a : null }, 15_000, `the answer to ${messageId}`)
  return answer as SeenEvent
}

/** The outbox rows answering one command. */
async function outboxAnswers (messageId: string): Promise<Array<{ message_id: string, routing_key: string, published: boolean, xmin: string }>> {
  return await db.sql`
    select message_id::text, routing_key, published_at is not null as published, xmin::text
    from outbox where correlation_id = ${messageId} and routing_key like 'command.%'`
}

t.test('the answer is written to the outbox in the command\'s transaction and published by the relay', async t => {
  // without its relay the worker records and answers, but nothing leaves
  const quiet = env.startWorker({ queues: ['commands'], loops: false, relay: false })
  const ids: string[] = []
  for (const [type, body] of [
    ['user.upsert', { user_token: 'u-outbox', status: 'ACTIVE' }],
    ['card.destroy', { card_token: 'c-outbox' }]
  ] as const) {
    const id = randomUUID()
    ids.push(id)
    await env.sendCommand(type, body, id)
    const record = await waitFor(async () => {
      const [row] = await db.sql<Array<{ xmin: string, answer_routing_key: string }>>`
        select xmin::text, answer_routing_key from worker_commands where message_id = ${id} and answered_at is not null`
      return row ?? null
    }, 15_000, `${type} recorded and answered`)
    const rows = await outboxAnswers(id)
    t.equal(rows.length, 1, `${type}: one outbox row`)
    t.equal(rows[0]?.routing_key, record.answer_routing_key)
    t.equal(rows[0]?.published, false)
    t.equal(rows[0]?.xmin, record.xmin, 'the record and the answer were written by one transaction')
  }
  await quiet.stop()
  t.same(ids.map(id => answersTo(seen, id)), [[], []], 'nothing published without the relay')

  const worker = env.startWorker({ queues: ['commands'], loops: false })
  t.teardown(() => worker.stop())
  for (const id of ids) {
    const answer = await answerTo(id)
    t.equal(answer.messageId, (await outboxAnswers(id))[0]?.message_id, 'published under the row\'s message id')
  }
  t.equal(answersTo(seen, ids[1] as string)[0]?.body.reason, 'UNKNOWN_COMMAND', 'a rejection takes the same path')
})

t.test('a fill racing the commands never brings the old card back before an answer', async t => {
  const worker = env.startWorker({ queues: ['commands'], loops: false })
  t.teardown(() => worker.stop())
  const c = await fundedCard(db, 'race', 0)
  // a reader as the authorizer is one: loads from PostgreSQL on a miss and fills the cache
  const reader = { on: true }
  const reads = (async () => {
    let n = 0
    while (reader.on) {
      await cache.getOrLoad('card', c.card, async () => await loadCard(db.sql, c.card))
      if (++n % 20 === 0) await sleep(1)
    }
    return n
  })()
  const statuses = ['SUSPENDED', 'ACTIVE', 'SUSPENDED', 'ACTIVE', 'SUSPENDED', 'ACTIVE', 'SUSPENDED', 'ACTIVE']
  for (const [i, status] of statuses.entries()) {
    const id = randomUUID()
    await env.sendCommand('card.upsert', { card_token: c.card, user_token: c.user, status, expiration: '2099-12', version: i + 1 }, id)
    await answerTo(id)
    const cached = cachedAtAnswer.get(id)
    t.ok(cached === undefined || cached?.status === status,
      `answer ${i + 1} (${status}): the cache held ${cached === undefined ? 'nothing' : String(cached?.status)}`)
  }
  reader.on = false
  t.ok(await reads > statuses.length, 'the reader kept loading and filling meanwhile')
})

t.test('Redis down: the change commits, but no answer is written or published until the invalidation succeeds', async t => {
  const redis = await startPrivateRedis(t)
  const privateCache = createCache({ url: redis.url, keyPrefix: `commands-outbox-${randomUUID()}:`, commandTimeoutMs: 300 })
  t.teardown(() => privateCache.close())
  await privateCache.connect()
  const worker = env.startWorker({ cache: privateCache, queues: ['commands'], loops: false })
  t.teardown(() => worker.stop())
  const c = await fundedCard(db, 'redis-down', 0)

  await redis.stop()
  const id = randomUUID()
  await env.sendCommand('card.upsert', { card_token: c.card, user_token: c.user, status: 'SUSPENDED', expiration: '2099-12', version: 1 }, id)
  await waitFor(() => (worker.consumerStats().commands?.transient ?? 0) >= 2, 30_000, 'requeued while Redis is down')
  t.equal((await loadCard(db.sql, c.card))?.status, 'SUSPENDED', 'the change is committed')
  t.same(await outboxAnswers(id), [], 'no answer in the outbox')
  t.same(answersTo(seen, id), [], 'nothing published')

  await redis.start()
  await answerTo(id)
  await sleep(300)
  t.equal(answersTo(seen, id).length, 1, 'answered once')
  t.equal((await outboxAnswers(id)).length, 1, 'one outbox row')
  t.equal(worker.consumerStats().commands?.dead, 0, 'nothing dead-lettered')
})
