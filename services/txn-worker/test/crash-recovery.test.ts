import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { checkLedgerInvariants, getAccount } from '@jit/ledger'
import { sharedRedisUrl, sleep, waitFor } from '@jit/test-support'
import { TEST_RETRY_DELAYS_MS, answersTo, build, fundedCard, queueDepth, txEvent, txRoutingKey } from './helper.js'

const env = await build(t)
const { db, amqp } = env

t.test('a worker killed mid-batch and restarted applies every event exactly once', async t => {
  const c = await fundedCard(db, 'crash', 100000)
  const { seen } = await env.watchEvents(['command.#'])

  const victim = spawn(process.execPath, [
    ...process.execArgv,
    fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url)),
    JSON.stringify({ databaseUrl: env.databaseUrl, amqpUrl: env.amqpUrl, redisUrl: sharedRedisUrl, redisPrefix: env.redisPrefix, retryDelaysMs: TEST_RETRY_DELAYS_MS, delayMs: 40 })
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { if (victim.exitCode === null) victim.kill('SIGKILL') })
  let output = ''
  victim.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  await waitFor(() => output.includes('ready'), 60_000, 'the worker process to start')

  // 30 refunds (1.00 each) through the transactions queue, 20 credits (1.00 each) as commands
  const commandIds: string[] = []
  for (let i = 0; i < 50; i++) {
    if (i % 5 < 3) {
      const refund = txEvent(c, { type: 'refund', state: 'COMPLETION', amount: 100 })
      await env.sendEvent(txRoutingKey(refund), refund)
    } else {
      const id = randomUUID()
      commandIds.push(id)
      await env.sendCommand('account.credit', { account_token: c.account, amount: '1.00', currency: 'USD' }, id)
    }
  }

  const moved = async (): Promise<number> => ((await getAccount(db.sql, c.account))?.balance ?? 0) - 100000
  await waitFor(async () => await moved() >= 500, 30_000, 'some events applied')
  victim.kill('SIGKILL')
  await new Promise(resolve => victim.once('exit', resolve))
  const atKill = await moved()
  t.ok(atKill > 0 && atKill < 5000, `killed mid-batch: ${atKill / 100} of 50.00 applied`)

  env.startWorker({ queues: ['transactions', 'commands'], loops: false })
  await waitFor(async () => await moved() === 5000, 60_000, 'every event applied')
  await waitFor(async () => commandIds.every(id => answersTo(seen, id).length > 0), 30_000, 'every command answered')
  // anything still redelivered now must change nothing
  await sleep(500)
  t.equal(await moved(), 5000, 'each of the 50 applied exactly once')
  t.equal(await queueDepth(amqp, 'transactions'), 0)
  t.equal(await queueDepth(amqp, 'commands'), 0)
  t.equal(await queueDepth(amqp, 'transactions.dead'), 0, 'nothing dead-lettered')
  t.equal(await queueDepth(amqp, 'commands.dead'), 0)
  const [lines] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from journal_lines where account_token = ${c.account}`
  t.equal(lines?.n, 51, 'one journal line per event, plus the initial load')
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
})
