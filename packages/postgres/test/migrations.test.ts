import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createTestDatabase } from '@jit/test-support'
import { createDatabase, isPostgresError, runMigrations, type Database } from '../src/index.js'
import { captureLogger } from './helpers.js'

const root = await mkdtemp(join(tmpdir(), 'jit-pg-migrations-'))
t.teardown(async () => { await rm(root, { recursive: true, force: true }) })

let dirCount = 0
async function migrationDir (files: Record<string, string>): Promise<string> {
  const dir = join(root, `set${dirCount++}`)
  await mkdir(dir)
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  return dir
}

async function freshDatabase (t: Test, opts: { statementTimeoutMs?: number, poolMax?: number } = {}): Promise<Database> {
  const url = await createTestDatabase(t, 'mig')
  const db = createDatabase({ url, poolMin: 0, poolMax: opts.poolMax ?? 2, statementTimeoutMs: opts.statementTimeoutMs ?? 5000 })
  t.teardown(async () => { await db.close(5) })
  return db
}

async function appliedRows (db: Database): Promise<string[]> {
  const rows = await db.sql<Array<{ set_name: string, version: number }>>`select set_name, version from schema_migrations order by applied_at, set_name, version`
  return rows.map(r => `${r.set_name}/${r.version}`)
}

async function tableExists (db: Database, name: string): Promise<boolean> {
  const [row] = await db.sql<Array<{ exists: boolean }>>`select to_regclass(${name}) is not null as exists`
  return row?.exists ?? false
}

t.test('applies sets in order and files in numeric order, once', async t => {
  const db = await freshDatabase(t)
  const core = await migrationDir({
    '1_create_accounts.sql': 'create table accounts (id int primary key, balance bigint not null default 0);',
    // Numeric, not lexicographic: 2 before 10.
    '10_seed.sql': "insert into accounts (id) values (1), (2);\ninsert into events (what) values ('seed');",
    '2_functions.sql': `
      create table events (id serial primary key, what text not null);
      create function credit(account int, amount bigint) returns bigint language plpgsql as $$
      begin
        update accounts set balance = balance + amount where id = account;
        return amount; -- a semicolon inside the body
      end
      $$;`,
    'README.md': 'not a migration'
  })
  const ledger = await migrationDir({
    '0001_holds.sql': 'create table holds (account int not null references accounts (id), amount bigint not null);'
  })
  const { logger, lines } = captureLogger()
  const sets = [{ name: 'core', dir: core }, { name: 'ledger', dir: ledger }]
  const first = await runMigrations(db.sql, sets, { logger })
  t.same(first.applied, [
    { set: 'core', version: 1, name: '1_create_accounts.sql' },
    { set: 'core', version: 2, name: '2_functions.sql' },
    { set: 'core', version: 10, name: '10_seed.sql' },
    { set: 'ledger', version: 1, name: '0001_holds.sql' }
  ])
  t.equal(lines.filter(l => l.msg === 'migration applied').length, 4, 'each file logged')
  const [credited] = await db.sql`select credit(1, 50) as amount`
  t.equal(credited?.amount, 50, 'the $$ function body was applied whole')

  const second = await runMigrations(db.sql, sets, { logger })
  t.same(second.applied, [], 'nothing applied twice')
  const [count] = await db.sql`select count(*) as n from accounts`
  t.equal(count?.n, 2, 'seed ran once')
  const rows = await db.sql`select set_name, version, name, length(checksum) as len from schema_migrations order by set_name, version`
  t.same(rows.map(r => [r.set_name, r.version, r.name, r.len]), [
    ['core', 1, '1_create_accounts.sql', 64],
    ['core', 2, '2_functions.sql', 64],
    ['core', 10, '10_seed.sql', 64],
    ['ledger', 1, '0001_holds.sql', 64]
  ])
})

t.test('a failing file leaves nothing of itself; earlier files stay applied', async t => {
  const db = await freshDatabase(t)
  const dir = await migrationDir({
    '0001_a.sql': 'create table a (id int);',
    '0002_b.sql': 'create table b (id int);\nselect 1 / 0;',
    '0003_c.sql': 'create table c (id int);'
  })
  const err = await runMigrations(db.sql, [{ name: 'core', dir }]).catch((e: unknown) => e)
  t.type(err, Error)
  t.match((err as Error).message, /core\/0002_b\.sql/, 'the error names the file')
  t.ok(isPostgresError((err as Error).cause, '22012'), 'the server error is the cause')
  t.same(await appliedRows(db), ['core/1'])
  t.ok(await tableExists(db, 'a'), 'file 1 applied')
  t.notOk(await tableExists(db, 'b'), 'nothing of file 2')
  t.notOk(await tableExists(db, 'c'), 'file 3 not attempted')

  await writeFile(join(dir, '0002_b.sql'), 'create table b (id int);')
  const fixed = await runMigrations(db.sql, [{ name: 'core', dir }])
  t.same(fixed.applied.map(a => a.version), [2, 3], 'a fixed file and the rest apply on the next run')
  t.ok(await tableExists(db, 'c'))
})

t.test('an applied file that changed is refused', async t => {
  const db = await freshDatabase(t)
  const dir = await migrationDir({ '0001_a.sql': 'create table a (id int);' })
  await runMigrations(db.sql, [{ name: 'core', dir }])
  await writeFile(join(dir, '0001_a.sql'), 'create table a (id int, extra text);')
  await writeFile(join(dir, '0002_b.sql'), 'create table b (id int);')
  await t.rejects(runMigrations(db.sql, [{ name: 'core', dir }]), /0001_a\.sql changed after it was applied/)
  t.notOk(await tableExists(db, 'b'), 'nothing applied after a mismatch')
  t.same(await appliedRows(db), ['core/1'])

  // Only line endings differ: the same migration.
  const crlf = await migrationDir({ '0001_x.sql': 'create table x (id int);\nselect 1;' })
  await runMigrations(db.sql, [{ name: 'crlf', dir: crlf }])
  await writeFile(join(crlf, '0001_x.sql'), 'create table x (id int);\r\nselect 1;')
  t.same((await runMigrations(db.sql, [{ name: 'crlf', dir: crlf }])).applied.map(a => a.name), [], 'CRLF checkout is not a change')
})

t.test('bad sets are refused before anything is applied', async t => {
  const db = await freshDatabase(t)
  const good = await migrationDir({ '0001_a.sql': 'create table a (id int);' })
  const duplicate = await migrationDir({ '0001_x.sql': 'select 1;', '001_y.sql': 'select 1;' })
  await t.rejects(runMigrations(db.sql, [{ name: 'good', dir: good }, { name: 'dup', dir: duplicate }]), /share version 1/)
  const badName = await migrationDir({ 'create_things.sql': 'select 1;' })
  await t.rejects(runMigrations(db.sql, [{ name: 'bad', dir: badName }]), /not named like/)
  await t.rejects(runMigrations(db.sql, [{ name: 'missing', dir: join(root, 'nope') }]), { code: 'ENOENT' })
  await t.rejects(runMigrations(db.sql, [{ name: 'good', dir: good }, { name: 'good', dir: good }]), /listed twice/)
  t.notOk(await tableExists(db, 'a'), 'the good set was not applied either')

  await runMigrations(db.sql, [{ name: 'good', dir: good }])
  await writeFile(join(good, '0003_c.sql'), 'create table c (id int);')
  await runMigrations(db.sql, [{ name: 'good', dir: good }])
  await writeFile(join(good, '0002_b.sql'), 'create table b (id int);')
  await t.rejects(runMigrations(db.sql, [{ name: 'good', dir: good }]), /0002_b\.sql is pending but version 3 is already applied/)
  t.notOk(await tableExists(db, 'b'))
})

t.test('migrations run without the pool statement timeout, which comes back afterwards', async t => {
  const db = await freshDatabase(t, { statementTimeoutMs: 200, poolMax: 1 })
  const dir = await migrationDir({ '0001_slow.sql': 'select pg_sleep(0.5);\ncreate table slow (id int);' })
  const result = await runMigrations(db.sql, [{ name: 'core', dir }])
  t.equal(result.applied.length, 1)
  const [row] = await db.sql`show statement_timeout`
  t.equal(row?.statement_timeout, '200ms', 'session setting restored on the reserved connection')
  await t.rejects(db.sql`select pg_sleep(1)`, { code: '57014' })
})

t.test('concurrent runners apply each file exactly once', async t => {
  const url = await createTestDatabase(t, 'migrace')
  const a = createDatabase({ url, poolMin: 0, poolMax: 2 })
  const b = createDatabase({ url, poolMin: 0, poolMax: 2 })
  t.teardown(async () => { await Promise.all([a.close(5), b.close(5)]) })
  const dir = await migrationDir({
    '0001_log.sql': "create table log (file text not null);\nselect pg_sleep(0.3);\ninsert into log values ('0001');",
    '0002_more.sql': "insert into log values ('0002');",
    '0003_more.sql': "insert into log values ('0003');"
  })
  const sets = [{ name: 'core', dir }]
  const [ra, rb] = await Promise.all([runMigrations(a.sql, sets), runMigrations(b.sql, sets)])
  const counts = [ra.applied.length, rb.applied.length].sort()
  t.same(counts, [0, 3], 'one runner applied everything, the other nothing')
  const rows = await a.sql`select file from log order by file`
  t.same(rows.map(r => r.file), ['0001', '0002', '0003'], 'each file ran once')
  const [lock] = await a.sql`select count(*) as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`
  t.equal(lock?.n, 0, 'the advisory lock was released')
})

t.test('repeatable files apply after the numbered ones, again whenever they change, and never twice', async t => {
  const db = await freshDatabase(t)
  const dir = await migrationDir({ '0001_accounts.sql': 'create table accounts (id int primary key, balance bigint not null default 0);' })
  const functions = await migrationDir({
    // a SQL function calling one defined in a later file (name order): bodies are not checked at creation
    'a_total.sql': 'create or replace function a_total() returns bigint language sql\nas $$ select z_sum() $$;',
    'z_sum.sql': 'create or replace function z_sum() returns bigint language sql as $$ select coalesce(sum(balance), 0)::bigint from accounts $$;'
  })
  const sets = [{ name: 'core', dir, repeatableDir: functions }]
  const first = await runMigrations(db.sql, sets)
  t.same(first.applied.map(a => a.name), ['0001_accounts.sql'])
  t.same(first.repeatable, [{ set: 'core', name: 'a_total.sql' }, { set: 'core', name: 'z_sum.sql' }])
  await db.sql`insert into accounts values (1, 70), (2, 30)`
  const [sum] = await db.sql`select a_total() as n`
  t.equal(Number(sum?.n), 100)

  t.same((await runMigrations(db.sql, sets)).repeatable, [], 'unchanged files are not applied again')

  await writeFile(join(functions, 'z_sum.sql'), 'create or replace function z_sum() returns bigint language sql as $$ select coalesce(max(balance), 0)::bigint from accounts $$;')
  // Only line endings differ: not a change.
  await writeFile(join(functions, 'a_total.sql'), 'create or replace function a_total() returns bigint language sql\r\nas $$ select z_sum() $$;')
  const changed = await runMigrations(db.sql, sets)
  t.same(changed.repeatable, [{ set: 'core', name: 'z_sum.sql' }], 'only the edited file is applied')
  const [max] = await db.sql`select a_total() as n`
  t.equal(Number(max?.n), 70, 'the edited rule is in force')
  const rows = await db.sql<Array<{ name: string }>>`select name from schema_repeatable_migrations where set_name = 'core' order by name`
  t.same(rows.map(r => r.name), ['a_total.sql', 'z_sum.sql'])
})

t.test('a failing repeatable file leaves the previous version in force and names itself', async t => {
  const db = await freshDatabase(t)
  const dir = await migrationDir({ '0001_t.sql': 'create table t (id int);' })
  const functions = await migrationDir({ 'answer.sql': 'create or replace function answer() returns int language sql as $$ select 42 $$;' })
  const sets = [{ name: 'core', dir, repeatableDir: functions }]
  await runMigrations(db.sql, sets)
  await writeFile(join(functions, 'answer.sql'), 'create or replace function answer() returns int language sql as $$ select 41 $$;\nselect 1 / 0;')
  const err = await runMigrations(db.sql, sets).catch((e: unknown) => e)
  t.match((err as Error).message, /repeatable migration core\/answer\.sql failed/)
  const [row] = await db.sql`select answer() as n`
  t.equal(row?.n, 42, 'the failed file changed nothing')
  await writeFile(join(functions, 'answer.sql'), 'create or replace function answer() returns int language sql as $$ select 41 $$;')
  t.same((await runMigrations(db.sql, sets)).repeatable.map(r => r.name), ['answer.sql'], 'the fixed file applies on the next run')

  const badName = await migrationDir({ '0001_x.sql': 'select 1;' })
  await t.rejects(runMigrations(db.sql, [{ name: 'bad', dir, repeatableDir: badName }]), /repeatable 0001_x\.sql is not named like/)
})
