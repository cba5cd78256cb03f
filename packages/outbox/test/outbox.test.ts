import { createHash, randomUUID } from 'node:crypto'
import { readFileSync, existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import t from 'tap'
import postgres from 'postgres'
import { pino } from 'pino'
import { createAmqp, EVENTS_EXCHANGE, type ConsumedMessage, type Publisher } from '@jit/amqp'
import { createTestDatabase, createTestVhost, sleep, waitFor } from '@jit/test-support'
import { createOutboxRelay, createServiceOutboxRelay, outboxMigrations, readOutboxBacklog, writeOutboxEvent } from '../src/index.js'

const silentLogger = pino({ level: 'silent' })

const amqpUrl = await createTestVhost(t)
const dbUrl = await createTestDatabase(t)

const migrationFile = join(outboxMigrations.dir, '0001_outbox.sql')

function pool (): postgres.Sql {
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 5 }))
  return sql
}
const sql = pool()
await sql.unsafe(readFileSync(migrationFile, 'utf8'))

const amqp = createAmqp({
  url: amqpUrl,
  logger: silentLogger,
  topology: { retryDelaysMs: [100], queues: [{ name: 'relayed', bindings: [{ exchange: EVENTS_EXCHANGE, routingKey: 'relay.#' }] }] }
})
t.teardown(() => amqp.close())
await amqp.declareTopology()

const received: ConsumedMessage[] = []
amqp.consume('relayed', async msg => { received.push(msg) }, { concurrency: 16 })

async function insertRows (n: number, routingKey = 'relay.item', exchange: string = EVENTS_EXCHANGE): Promise<string[]> {
  const rows = await sql<Array<{ id: string, message_id: string }>>`
    INSERT INTO outbox (routing_key, exchange, correlation_id, payload)
    SELECT ${routingKey}, ${exchange}, 'corr-' || (g - 1), jsonb_build_object('i', g - 1, 'amount', 1050)
    FROM generate_series(1, ${n}::int) AS g
    ORDER BY g
    RETURNING id, message_id`
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id)).map(r => r.message_id)
}

async function resetAll (): Promise<void> {
  await sql`DELETE FROM outbox`
  await waitFor(async () => (await amqp.connection.queueDeclare({ queue: 'relayed', passive: true })).messageCount === 0, 10_000, 'queue drained')
  received.length = 0
}

t.test('the migration set points at the shipped SQL', async t => {
  t.equal(outboxMigrations.name, 'outbox')
  t.ok(isAbsolute(outboxMigrations.dir))
  t.ok(existsSync(migrationFile), 'the migration ships in the package')
  // Released: databases record this checksum under set 'outbox' version 1 and refuse a change.
  t.equal(createHash('sha256').update(readFileSync(migrationFile, 'utf8')).digest('hex'),
    'e8be3c765da633bb78adb1f13e5ee53773db9b2cce36214938b272d22463bb74', 'the released file is unchanged')
  const [table] = await sql`SELECT to_regclass('outbox')::text AS name`
  t.equal(table?.name, 'outbox')
})

t.test('two relays racing over 500 rows publish each row once', async t => {
  await resetAll()
  const ids = await insertRows(500)
  const delaysA: number[] = []
  const delaysB: number[] = []
  const relayA = createOutboxRelay({ sql: pool(), publisher: amqp.createPublisher(), logger: silentLogger, batchSize: 50, intervalMs: 20, onPublished: ms => delaysA.push(ms) })
  const relayB = createOutboxRelay({ sql: pool(), publisher: amqp.createPublisher(), logger: silentLogger, batchSize: 50, intervalMs: 20, onPublished: ms => delaysB.push(ms) })
  relayA.start()
  relayB.start()
  await waitFor(async () => (await sql`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`)[0]?.n === 0, 30_000, 'all rows published')
  await Promise.all([relayA.stop(), relayB.stop()])
  await waitFor(() => received.length >= 500, 20_000, '500 messages consumed')
  await sleep(300)

  const a = relayA.stats()
  const b = relayB.stats()
  t.equal(a.published + b.published, 500, 'published once in total')
  t.ok(a.published > 0 && b.published > 0, `both relays worked (${a.published} + ${b.published})`)
  t.equal(a.failed + b.failed, 0)
  t.equal(received.length, 500, 'no duplicates in normal operation')
  t.same(new Set(received.map(m => m.messageId)), new Set(ids), 'message_id is the row\'s')
  const sample = received.find(m => m.messageId === ids[7])
  t.equal(sample?.routingKey, 'relay.item')
  t.equal(sample?.correlationId, 'corr-7')
  t.same(sample?.body, { i: 7, amount: 1050 })

  const [row] = await sql`SELECT count(*)::int AS n, min(attempts)::int AS lo, max(attempts)::int AS hi FROM outbox WHERE published_at >= created_at AND last_error IS NULL`
  t.same(row, { n: 500, lo: 1, hi: 1 }, 'rows marked published after one attempt')

  t.equal(delaysA.length + delaysB.length, 500, 'a delay per published row')
  t.ok([...delaysA, ...delaysB].every(ms => ms >= 0 && ms < 30_000))
  t.ok((a.maxDelayMs ?? -1) >= (a.lastDelayMs ?? Infinity))
  t.ok((a.meanDelayMs ?? 0) > 0)
  t.equal(a.running, false)
})

t.test('a publish failure leaves the row unpublished with attempts and the error', async t => {
  await resetAll()
  const [bad] = await insertRows(1, 'relay.bad', 'no-such-exchange')
  const [good] = await insertRows(1, 'relay.good')
  const relay = createOutboxRelay({ sql, publisher: amqp.createPublisher(), logger: silentLogger })
  t.equal(await relay.drainOnce(), 1, 'the good row still goes out')
  t.equal(await relay.drainOnce(), 0)
  const rows = await sql`SELECT message_id, published_at, attempts, last_error FROM outbox ORDER BY id`
  t.equal(rows[0]?.message_id, bad)
  t.equal(rows[0]?.published_at, null)
  t.equal(rows[0]?.attempts, 2)
  t.match(rows[0]?.last_error, /NOT_FOUND|no exchange/i)
  t.equal(rows[1]?.message_id, good)
  t.not(rows[1]?.published_at, null)
  t.equal(relay.stats().failed, 2)
  t.match(relay.stats().lastError, /NOT_FOUND|no exchange/i)
  await waitFor(() => received.length === 1, 10_000, 'good row consumed')
  t.equal(received[0]?.messageId, good)
})

t.test('a failure after the broker got the message gives a duplicate, never a loss', async t => {
  await resetAll()
  const ids = await insertRows(5)
  const real = amqp.createPublisher()
  // The broker confirms, then the relay "crashes" before it can mark the row.
  const crashing: Publisher = {
    publish: async (...args) => {
      await real.publish(...args)
      throw new Error('crashed before marking')
    },
    close: async () => {}
  }
  const first = createOutboxRelay({ sql, publisher: crashing })
  t.equal(await first.drainOnce(), 0)
  const second = createOutboxRelay({ sql, publisher: real })
  t.equal(await second.drainOnce(), 5)
  await waitFor(() => received.length === 10, 10_000, 'both copies consumed')
  const counts = new Map<string, number>()
  for (const m of received) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1)
  t.same([...counts.keys()].sort(), [...ids].sort())
  t.ok([...counts.values()].every(n => n === 2), 'each row twice, with the same message_id to dedupe on')
  const [row] = await sql`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`
  t.equal(row?.n, 0)
})

t.test('stop finishes the batch in flight and stops polling; LISTEN wakes the relay', async t => {
  await resetAll()
  const relay = createOutboxRelay({ sql, publisher: amqp.createPublisher(), logger: silentLogger, intervalMs: 60_000, listenChannel: 'outbox' })
  relay.start()
  relay.start()
  t.equal(relay.stats().running, true)
  // Let the first (empty) batch run and LISTEN be established; the next poll is a minute away.
  await sleep(500)
  await sql.begin(async tx => {
    await tx`INSERT INTO outbox (routing_key, payload) VALUES ('relay.notified', ${tx.json({ n: 1 })})`
    await tx`SELECT pg_notify('outbox', '')`
  })
  await waitFor(async () => (await sql`SELECT published_at FROM outbox`)[0]?.published_at !== null, 10_000, 'published on NOTIFY')
  const startedStop = Date.now()
  await relay.stop()
  t.ok(Date.now() - startedStop < 5000, 'stop did not wait for the poll interval')
  t.equal(relay.stats().running, false)
  await insertRows(3)
  await sleep(300)
  const [row] = await sql`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`
  t.equal(row?.n, 3, 'a stopped relay publishes nothing')
})

t.test('option checks', async t => {
  const publisher = amqp.createPublisher()
  t.throws(() => createOutboxRelay({ sql, publisher, batchSize: 0 }), /batchSize/)
  t.throws(() => createOutboxRelay({ sql, publisher, intervalMs: -1 }), /intervalMs/)
  await publisher.close()
})

t.test('writeOutboxEvent: published after its commit (woken by NOTIFY), never after a rollback, once per message id', async t => {
  await resetAll()
  const relay = createServiceOutboxRelay({
    config: { OUTBOX_RELAY_BATCH: 10, OUTBOX_RELAY_INTERVAL_MS: 60_000 },
    sql,
    publisher: amqp.createPublisher(),
    logger: silentLogger
  })
  relay.start()
  t.teardown(async () => { await relay.stop() })
  // the first (empty) batch runs and LISTEN is established; the next poll is a minute away
  await sleep(500)

  await sql.begin(async tx => {
    await writeOutboxEvent(tx, { routingKey: 'relay.rolled-back', payload: { n: 0 } })
    throw new Error('the change fails')
  }).catch(() => {})
  const answerId = randomUUID()
  const written = await sql.begin(async tx => [
    await writeOutboxEvent(tx, { routingKey: 'relay.answer', payload: { amount: 1050 }, messageId: answerId, correlationId: 'cmd-1' }),
    await writeOutboxEvent(tx, { routingKey: 'relay.answer', payload: { amount: 1 }, messageId: answerId })
  ])
  t.same(written, [true, false], 'a second write of one message id keeps the first')

  await waitFor(() => received.length >= 1, 10_000, 'the committed event published on NOTIFY')
  await sleep(300)
  t.equal(received.length, 1, 'nothing of the rolled-back transaction')
  t.equal(received[0]?.messageId, answerId)
  t.equal(received[0]?.routingKey, 'relay.answer')
  t.equal(received[0]?.correlationId, 'cmd-1')
  t.same(received[0]?.body, { amount: 1050 })
  t.same(await readOutboxBacklog(sql), { pending: 0, oldestAgeSeconds: 0 })
})
