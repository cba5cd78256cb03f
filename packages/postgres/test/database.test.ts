import { createServer, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import postgres from 'postgres'
import { createTestDatabase, eventually, freePort, sleep, uniqueTestName } from '@jit/test-support'
import { createDatabase, isPostgresError, type Database, type PostgresOptions } from '../src/index.js'
import { captureLogger } from './helpers.js'

const url = await createTestDatabase(t, 'pgdb')

// A plain client outside the pool under test, to look at the server's side.
const observer = postgres(url, { max: 1, onnotice: () => {} })
t.teardown(async () => { await observer.end({ timeout: 5 }) })

function open (t: Test, opts: Partial<PostgresOptions> = {}): Database {
  const db = createDatabase({ url, poolMin: 1, poolMax: 4, ...opts })
  t.teardown(async () => { await db.close(5) })
  return db
}

async function backendsNamed (name: string): Promise<number> {
  const [row] = await observer<Array<{ n: number }>>`select count(*)::int as n from pg_stat_activity where application_name = ${name}`
  return row?.n ?? -1
}

await observer`create table accounts (id int primary key, balance bigint not null)`

t.test('connect() opens poolMin connections eagerly', async t => {
  const applicationName = uniqueTestName('warm')
  const db = open(t, { poolMin: 3, poolMax: 4, applicationName })
  t.equal(await backendsNamed(applicationName), 0, 'nothing opened before connect()')
  await db.connect()
  t.equal(await backendsNamed(applicationName), 3, 'three backends in pg_stat_activity')
  t.match(db.stats(), { open: 3, idle: 3, inUse: 0, min: 3, max: 4 })
})

t.test('poolMin is capped at poolMax and defaults apply', async t => {
  const db = open(t, { poolMin: undefined, poolMax: 2 })
  t.equal(db.stats().min, 2, 'default min 5 capped at max 2')
  const defaults = createDatabase({ url })
  t.equal(defaults.stats().min, 5)
  t.equal(defaults.stats().max, 20)
  await defaults.close(1)
})

t.test('invalid options are refused', async t => {
  t.throws(() => createDatabase({ url, poolMax: 0 }), RangeError)
  t.throws(() => createDatabase({ url, poolMin: -1 }), RangeError)
  t.throws(() => createDatabase({ url, connectTimeoutMs: 1.5 }), RangeError)
})

t.test('idle connections above poolMin close and poolMin stays open', async t => {
  const applicationName = uniqueTestName('idle')
  const db = open(t, { poolMin: 2, poolMax: 4, idleTimeoutS: 1, applicationName })
  await db.connect()
  await Promise.all([1, 2, 3, 4].map(async () => await db.query('sleep', async sql => await sql`select pg_sleep(0.2)`)))
  t.equal(db.stats().open, 4, 'grew to max under load')
  await sleep(2500)
  t.ok(await eventually(() => db.stats().open === 2, 4000), 'shrank back to poolMin')
  t.ok(await eventually(async () => await backendsNamed(applicationName) === 2, 2000), 'server agrees')
  await sleep(1500)
  t.equal(db.stats().open, 2, 'poolMin kept across idle timeouts')
})

t.test('connect() rejects when the server is unreachable', async t => {
  const port = await freePort()
  const db = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/x`, poolMin: 1, poolMax: 1, connectTimeoutMs: 2000 })
  t.teardown(async () => { await db.close(1) })
  await t.rejects(db.connect(), { code: 'ECONNREFUSED' })
  t.equal(db.stats().open, 0)
})

t.test('connectTimeoutMs bounds a server that accepts but never answers', async t => {
  const sockets: Socket[] = []
  const silent = createServer(s => { sockets.push(s) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise(resolve => silent.close(resolve))
  })
  const address = silent.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const db = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/x`, poolMin: 1, poolMax: 1, connectTimeoutMs: 300 })
  t.teardown(async () => { await db.close(1) })
  const started = Date.now()
  await t.rejects(db.connect(), { code: 'CONNECT_TIMEOUT' })
  t.ok(Date.now() - started < 3000, 'failed fast')
})

t.test('statementTimeoutMs cancels a long statement with 57014', async t => {
  const db = open(t, { statementTimeoutMs: 300 })
  const [setting] = await db.sql`show statement_timeout`
  t.equal(setting?.statement_timeout, '300ms', 'set as a connection parameter')
  const started = Date.now()
  const err = await db.query('sleep.long', async sql => await sql`select pg_sleep(3)`).catch((e: unknown) => e)
  t.ok(isPostgresError(err, '57014'), 'query_canceled')
  t.ok(Date.now() - started < 2500, 'cancelled well before the sleep ended')
  t.equal(db.stats().errors, 1)
  t.equal(db.stats().queries, 1)
  t.equal((await db.query('after', async sql => await sql`select 1 as one`))[0]?.one, 1, 'pool still usable')
})

t.test('transaction commits on success and rolls back on any error', async t => {
  const db = open(t)
  const result = await db.transaction('accounts.create', async tx => {
    await tx`insert into accounts (id, balance) values (1, 100)`
    return 'done'
  })
  t.equal(result, 'done')

  await t.rejects(db.transaction('accounts.create-then-fail', async tx => {
    await tx`insert into accounts (id, balance) values (2, 200)`
    throw new Error('business rule failed')
  }), /business rule failed/)

  const err = await db.transaction('accounts.duplicate', async tx => {
    await tx`insert into accounts (id, balance) values (3, 300)`
    await tx`insert into accounts (id, balance) values (1, 1)`
  }).catch((e: unknown) => e)
  t.ok(isPostgresError(err, '23505'), 'unique violation surfaced')

  const rows = await observer<Array<{ id: number }>>`select id from accounts order by id`
  t.same(rows.map(r => r.id), [1], 'only the committed row persisted')
  t.equal(db.stats().errors, 2)
  t.equal(db.stats().queries, 3)
})

t.test('transaction options: local statement timeout and isolation', async t => {
  const db = open(t, { poolMin: 2, statementTimeoutMs: 5000 })
  await db.connect()
  const err = await db.transaction('tx.short', async tx => {
    await tx`select pg_sleep(2)`
  }, { statementTimeoutMs: 150 }).catch((e: unknown) => e)
  t.ok(isPostgresError(err, '57014'), 'local statement timeout applied')

  const settings = await db.transaction('tx.settings', async tx => {
    const [row] = await tx`select current_setting('statement_timeout') as st, current_setting('lock_timeout') as lt, current_setting('transaction_isolation') as iso`
    return row
  }, { lockTimeoutMs: 1234, isolation: 'serializable' })
  t.same(settings, { st: '5s', lt: '1234ms', iso: 'serializable' }, 'only the given option changes')

  for (let i = 0; i < 3; i++) {
    const [row] = await db.sql`select current_setting('statement_timeout') as st, current_setting('lock_timeout') as lt`
    t.same(row, { st: '5s', lt: '0' }, 'SET LOCAL did not leak to the connection')
  }

  await t.rejects(db.transaction('tx.bad', async () => 1, { isolation: 'chaos' as 'serializable' }), RangeError)
  await t.rejects(db.transaction('tx.bad', async () => 1, { lockTimeoutMs: -5 }), RangeError)
})

t.test('lock_timeout makes a blocked update fail fast with 55P03', async t => {
  const db = open(t, { poolMin: 2 })
  await observer`insert into accounts (id, balance) values (10, 0) on conflict do nothing`
  let release = (): void => {}
  const released = new Promise<void>(resolve => { release = resolve })
  let locked = (): void => {}
  const isLocked = new Promise<void>(resolve => { locked = resolve })
  const holder = db.sql.begin(async tx => {
    await tx`select id from accounts where id = 10 for update`
    locked()
    await released
  })
  await isLocked
  const started = Date.now()
  const err = await db.transaction('accounts.debit', async tx => {
    await tx`update accounts set balance = balance - 1 where id = 10`
  }, { lockTimeoutMs: 200 }).catch((e: unknown) => e)
  const elapsed = Date.now() - started
  release()
  await holder
  t.ok(isPostgresError(err, '55P03'), 'lock_not_available')
  t.ok(elapsed < 3000, `failed fast (${elapsed} ms)`)
  const [row] = await observer<Array<{ balance: number }>>`select balance::int as balance from accounts where id = 10`
  t.equal(row?.balance, 0, 'nothing changed')
})

t.test('slow queries are logged by name, never with parameters', async t => {
  const { logger, lines, raw } = captureLogger()
  const db = open(t, { slowQueryMs: 100, logger })
  const secret = 'card-4111111111111111'
  await db.query('cards.lookup.slow', async sql => await sql`select pg_sleep(0.2), ${secret}::text as token`)
  await db.query('cards.lookup.fast', async sql => await sql`select ${secret}::text as token`)
  await db.query('cards.failed.slow', async sql => {
    await sql`select pg_sleep(0.2)`
    return await sql`select ${secret}::int`
  }).catch(() => {})
  const slow = lines.filter(l => l.msg === 'slow query')
  t.same(slow.map(l => l.query), ['cards.lookup.slow', 'cards.failed.slow'])
  t.ok((slow[0]?.durationMs as number) >= 100, 'duration logged')
  t.equal(slow[1]?.failed, true)
  t.equal(slow[1]?.code, '22P02', 'failure code, not its message')
  t.notOk(raw.join('').includes('4111'), 'no parameter value anywhere in the log')
  t.notOk(raw.join('').includes('pg_sleep'), 'no SQL text in the log')
  t.equal(db.stats().slowQueries, 2)
})

t.test('stats count queries, slow queries and in-flight work', async t => {
  const db = open(t, { poolMin: 4, poolMax: 4, slowQueryMs: 150 })
  await db.connect()
  const work = Array.from({ length: 6 }, async (_, i) => await db.query(`sleep.${i}`, async sql => await sql`select pg_sleep(0.4)`))
  await sleep(100)
  const during = db.stats()
  t.equal(during.inUse, 4, 'in use capped at max')
  t.equal(during.waiting, 2, 'the rest wait')
  t.equal(during.utilisation, 1)
  t.equal(during.idle, 0)
  await Promise.all(work)
  await db.query('fast', async sql => await sql`select 1`)
  await db.query('broken', async sql => await sql`select * from no_such_table`).catch(() => {})
  t.match(db.stats(), { queries: 8, slowQueries: 6, errors: 1, inUse: 0, waiting: 0, utilisation: 0, open: 4, idle: 4 }, 'afterwards')
})

t.test('int8 comes back as a checked safe integer; numeric stays a string', async t => {
  const db = open(t)
  const [row] = await db.sql`select 123::int8 as small, (-9007199254740991)::int8 as low, 1.50::numeric as exact, array[1, 2]::int8[] as list, count(*) as n from accounts`
  t.equal(row?.small, 123)
  t.equal(row?.low, -9007199254740991)
  t.equal(row?.exact, '1.50')
  t.same(row?.list, [1, 2])
  t.type(row?.n, 'number', 'count(*) is int8 too')
  await t.rejects(db.sql`select 9007199254740992::int8 as big`, { name: 'RangeError' })
  await t.rejects(db.sql`select array[9007199254740992]::int8[] as big`, { name: 'RangeError' })
  const [back] = await db.sql`select ${42n as unknown as number}::int8 as v, ${db.sql.typed(7, 20)} as w`
  t.same(back, { v: 42, w: 7 }, 'bigint and typed int8 parameters serialize')
  await t.rejects(db.sql`select ${db.sql.typed(1.5, 20)} as bad`, { name: 'RangeError' })
  const [still] = await db.sql`select 1 as one`
  t.equal(still?.one, 1, 'connection usable after a refused value')
})

t.test('ping measures a round trip', async t => {
  const db = open(t)
  const ms = await db.ping()
  t.ok(ms >= 0 && ms < 5000)
  t.equal(db.stats().queries, 0, 'ping is not counted as a query')
})

t.test('close ends the pool', async t => {
  const db = createDatabase({ url, poolMin: 2, poolMax: 2 })
  await db.connect()
  t.equal(db.stats().open, 2)
  await db.close(1)
  t.ok(await eventually(() => db.stats().open === 0, 2000), 'connections closed')
  await t.rejects(db.query('late', async sql => await sql`select 1`), { code: 'CONNECTION_ENDED' })
})

t.test('isPostgresError', async t => {
  t.notOk(isPostgresError(undefined))
  t.notOk(isPostgresError('23505'))
  t.notOk(isPostgresError(Object.assign(new Error('x'), { code: '23505' })), 'an arbitrary error with a code')
  t.notOk(isPostgresError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })))
  const err = await observer`select 1/0`.catch((e: unknown) => e)
  t.ok(isPostgresError(err))
  t.ok(isPostgresError(err, '22012'))
  t.notOk(isPostgresError(err, '23505'))
})
