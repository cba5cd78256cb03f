import t from 'tap'
import { createDatabase } from '@jit/postgres'
import { createTestDatabase, sleep } from '@jit/test-support'
import { isTransientFailure } from '../src/index.js'

// Contention errors from a real server: the worker retries them after a pause instead of
// spending its three retries and dead-lettering a clearing that only met a busy account.
const url = await createTestDatabase(t, 'transient')
const a = createDatabase({ url, poolMin: 0, poolMax: 2 })
const b = createDatabase({ url, poolMin: 0, poolMax: 2 })
t.teardown(async () => { await Promise.all([a.close(1), b.close(1)]) })
await a.sql`create table rows (id int primary key, n int not null default 0)`
await a.sql`insert into rows (id) values (1), (2)`

async function failureOf (run: () => Promise<unknown>): Promise<{ code?: string }> {
  try {
    await run()
  } catch (err) {
    return err as { code?: string }
  }
  throw new Error('expected a failure')
}

t.test('a lock wait past lock_timeout (55P03) is transient', async t => {
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const holder = a.sql.begin(async tx => {
    await tx`select * from rows where id = 1 for update`
    await held
  })
  await sleep(50)
  const err = await failureOf(async () => await b.sql.begin(async tx => {
    await tx`set local lock_timeout = '50ms'`
    await tx`update rows set n = n + 1 where id = 1`
  }))
  release()
  await holder
  t.equal(err.code, '55P03')
  t.ok(isTransientFailure(err))
})

t.test('a deadlock victim (40P01) is transient', async t => {
  let bothLocked = 0
  const barrier = async (): Promise<void> => {
    bothLocked++
    // the other transaction's barrier() call raises it while this one sleeps
    for (;;) {
      if (bothLocked >= 2) return
      await sleep(5)
    }
  }
  const cross = (db: typeof a, first: number, second: number): Promise<unknown> => db.sql.begin(async tx => {
    await tx`update rows set n = n + 1 where id = ${first}`
    await barrier()
    await tx`update rows set n = n + 1 where id = ${second}`
  }).then(() => null, (err: unknown) => err)
  const results = await Promise.all([cross(a, 1, 2), cross(b, 2, 1)])
  const victims = results.filter(r => r !== null) as Array<{ code?: string }>
  t.equal(victims.length, 1, 'PostgreSQL rolled one back')
  t.equal(victims[0]?.code, '40P01')
  t.ok(isTransientFailure(victims[0]))
})

t.test('a statement cancelled by statement_timeout (57014) is transient', async t => {
  const err = await failureOf(async () => await a.sql.begin(async tx => {
    await tx`set local statement_timeout = '20ms'`
    await tx`select pg_sleep(1)`
  }))
  t.equal(err.code, '57014')
  t.ok(isTransientFailure(err))
  t.notOk(isTransientFailure({ code: '23505' }), 'a unique violation is not')
})
