import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { DLX_EXCHANGE, HEADER_FAILURE_REASON, HEADER_ORIGINAL_QUEUE } from '@jit/amqp'
import { getAccount } from '@jit/ledger'
import { EXIT, listDeadLetters, purgeHistory, redriveDeadLetters, runCli } from '../src/index.js'
import { waitFor } from '@jit/test-support'
import { build, fundedCard, queueDepth, txEvent, txRoutingKey } from './helper.js'
import { flakyLedger } from './fixtures/console.js'

const run = promisify(execFile)
const env = await build(t)
const { db, amqp } = env

const flaky = flakyLedger()
env.startWorker({ queues: ['transactions'], loops: false, relay: false, ledger: flaky.ledger })

const cliEnv = { DATABASE_URL: env.databaseUrl, AMQP_URL: env.amqpUrl, DEPLOY_ENV: 'local', LOG_LEVEL: 'error' }

function capture (): { out: string[], err: string[], io: { env: Record<string, string>, stdout: (s: string) => void, stderr: (s: string) => void } } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { env: cliEnv, stdout: s => { out.push(s) }, stderr: s => { err.push(s) } } }
}

const c = await fundedCard(db, 'ops', 100000)
const refund = txEvent(c, { type: 'refund', state: 'COMPLETION', amount: 700 })

t.test('dead-letters list shows dead messages with their reasons and loses none', async t => {
  const messageId = await env.sendEvent(txRoutingKey(refund), refund)
  await waitFor(async () => await queueDepth(amqp, 'transactions.dead') === 1, 15_000, 'the refund dead-lettered')

  const letters = await listDeadLetters(amqp, { queue: 'transactions' })
  t.equal(letters.length, 1)
  t.match(letters[0], {
    deadQueue: 'transactions.dead',
    originalQueue: 'transactions',
    messageId,
    routingKey: 'webhook.transactions.refund',
    retryCount: 3
  })
  t.match(letters[0]?.reason, /ledger unavailable/)
  t.same((letters[0]?.body as Record<string, unknown>).token, refund.token)
  t.equal(await queueDepth(amqp, 'transactions.dead'), 1, 'still there after listing')
  t.equal((await listDeadLetters(amqp)).length, 1, 'all queues: the same one message, listed again')

  const cli = capture()
  t.equal(await runCli(['dead-letters', 'list', '--queue', 'transactions'], cli.io), EXIT.ok)
  t.match(cli.out.join(''), /1 dead-lettered message\(s\)[\s\S]*webhook\.transactions\.refund[\s\S]*ledger unavailable/)
  const json = capture()
  t.equal(await runCli(['dead-letters', 'list', '--json'], json.io), EXIT.ok)
  t.equal(JSON.parse(json.out.join('')).length, 1)
  t.equal(await queueDepth(amqp, 'transactions.dead'), 1, 'the CLI lost nothing either')
})

t.test('dead-letters redrive moves them back to their queue, where they apply once', async t => {
  flaky.broken = false
  const cli = capture()
  t.equal(await runCli(['dead-letters', 'redrive', '--queue', 'transactions'], cli.io), EXIT.ok, cli.err.join(''))
  t.match(cli.out.join(''), /1 message\(s\) moved from transactions\.dead: \{"transactions":1\}/)
  await waitFor(async () => (await getAccount(db.sql, c.account))?.balance === 100700, 15_000, 'the redriven refund applied')
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0)
  const again = await redriveDeadLetters(amqp, { queue: 'transactions.dead' })
  t.same(again, { deadQueue: 'transactions.dead', redriven: 0, byQueue: {}, unroutable: {}, unencodable: 0 }, 'nothing left to move')
})

t.test('a dead letter whose queue does not exist stays in the dead queue (mandatory publish)', async t => {
  await env.publisher.publish('transactions.dead', { token: 'orphan-1' }, {
    exchange: DLX_EXCHANGE,
    messageId: 'orphan-1',
    headers: { [HEADER_ORIGINAL_QUEUE]: 'no-such-queue', [HEADER_FAILURE_REASON]: 'test' },
    mandatory: true
  })
  t.equal(await queueDepth(amqp, 'transactions.dead'), 1)
  const result = await redriveDeadLetters(amqp, { queue: 'transactions' })
  t.same(result, { deadQueue: 'transactions.dead', redriven: 0, byQueue: {}, unroutable: { 'no-such-queue': 1 }, unencodable: 0 })
  t.equal(await queueDepth(amqp, 'transactions.dead'), 1, 'kept, not acknowledged into the void')

  const cli = capture()
  t.equal(await runCli(['dead-letters', 'redrive', '--queue', 'transactions'], cli.io), EXIT.failed, 'the CLI says it could not move everything')
  t.match(cli.err.join(''), /1 message\(s\) left in transactions\.dead, their queue does not exist: \{"no-such-queue":1\}/)
  const kept = await amqp.connection.basicGet({ queue: 'transactions.dead', noAck: true })
  t.equal(kept?.messageId, 'orphan-1', 'the same message, still there')
  t.same(kept?.body, { token: 'orphan-1' })
})

t.test('invariants: exit 0 when they hold, 1 with the violations printed', async t => {
  const ok = capture()
  t.equal(await runCli(['invariants'], ok.io), EXIT.ok)
  t.match(ok.out.join(''), /ledger invariants hold/)

  // a real spawn of the CLI entry point (TypeScript source, with this process's loader flags)
  const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
  const spawned = await run(process.execPath, [...process.execArgv, cliPath, 'invariants'], { env: { ...process.env, ...cliEnv }, timeout: 60_000 })
  t.match(spawned.stdout, /ledger invariants hold/)

  // corrupt the ledger behind its back: held no longer matches the open holds
  await db.sql`update accounts set held = held + 1 where account_token = ${c.account}`
  const bad = capture()
  t.equal(await runCli(['invariants'], bad.io), EXIT.failed)
  t.match(bad.out.join(''), /held = sum of open holds/)
  const failed = await run(process.execPath, [...process.execArgv, cliPath, 'invariants'], { env: { ...process.env, ...cliEnv }, timeout: 60_000 })
    .then(() => ({ code: 0, stdout: '' }), (err: { code: number, stdout: string }) => err)
  t.equal(failed.code, 1, 'the process exits non-zero')
  t.match(failed.stdout, /held = sum of open holds/)
  await db.sql`update accounts set held = held - 1 where account_token = ${c.account}`
})

t.test('usage and configuration errors', async t => {
  const none = capture()
  t.equal(await runCli([], none.io), EXIT.usage)
  const unknown = capture()
  t.equal(await runCli(['frobnicate'], unknown.io), EXIT.usage)
  t.match(unknown.err.join(''), /unknown command 'frobnicate'/)
  const noQueue = capture()
  t.equal(await runCli(['dead-letters', 'redrive'], noQueue.io), EXIT.usage)
  const badLimit = capture()
  t.equal(await runCli(['dead-letters', 'list', '--limit', 'many'], badLimit.io), EXIT.usage)
  const badFlag = capture()
  t.equal(await runCli(['invariants', '--bogus'], badFlag.io), EXIT.usage)
  const badConfig = capture()
  t.equal(await runCli(['invariants'], { ...badConfig.io, env: { DATABASE_URL: 'mysql://nope' } }), EXIT.config)
  t.match(badConfig.err.join(''), /DATABASE_URL/)
  const help = capture()
  t.equal(await runCli(['--help'], help.io), EXIT.ok)
  t.match(help.out.join(''), /dead-letters redrive/)
})

t.test('purge deletes old published outbox rows, old effect keys and answered commands only', async t => {
  await db.sql`insert into outbox (routing_key, payload, created_at, published_at) values
    ('ledger.account.credited', '{}', now() - interval '40 days', now() - interval '40 days'),
    ('ledger.account.overdrawn', '{}', now() - interval '40 days', now() - interval '40 days'),
    ('ledger.account.credited', '{}', now() - interval '40 days', null),
    ('ledger.account.credited', '{}', now(), now())`
  await db.sql`insert into effects (kind, key, applied_at) values ('test.old', 'k1', now() - interval '60 days'), ('test.new', 'k2', now())`
  await db.sql`insert into worker_commands (message_id, command_type, outcome, answer_routing_key, answer, processed_at, answered_at) values
    ('old-answered', 'user.upsert', 'applied', 'command.applied', '{}', now() - interval '60 days', now() - interval '60 days'),
    ('old-unanswered', 'user.upsert', 'applied', 'command.applied', '{}', now() - interval '60 days', null)`

  await t.rejects(purgeHistory({ db }, { effectsDays: 5 }), RangeError, 'effect keys younger than the retry horizon are refused')
  const cli = capture()
  t.equal(await runCli(['purge', '--effects-days', '3'], cli.io), EXIT.usage)
  t.match(cli.err.join(''), />= 21/)

  const result = await purgeHistory({ db, archive: env.archive }, { outboxDays: 30, effectsDays: 30, archive: true })
  t.equal(result.outbox, 1, 'only the old published, non-overdraft row')
  t.equal(result.effects, 1)
  t.equal(result.commands, 1, 'an unanswered command is kept for its redelivery')
  t.type(result.archive, 'number')
  const [left] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from effects where kind in ('test.old', 'test.new')`
  t.equal(left?.n, 1)
  const [unanswered] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from worker_commands where message_id = 'old-unanswered'`
  t.equal(unanswered?.n, 1)

  const viaCli = capture()
  t.equal(await runCli(['purge', '--outbox-days', '30', '--archive'], viaCli.io), EXIT.ok, viaCli.err.join(''))
  t.match(viaCli.out.join(''), /purged: \{"outbox":0,"effects":null,"commands":null,"archive":\d+\}/)
})
