import t from 'tap'
import type { ArchiveDocument, DocumentArchive } from '@jit/archive'
import { checkLedgerInvariants, getAccount } from '@jit/ledger'
import { purchasesOf } from '@jit/processor-sim'
import { waitFor } from '@jit/test-support'
import { ledgerAround } from './fixtures/ledger.js'
import { build, fundedCard, queueDepth, testWorkerConfig, txRoutingKey } from './helper.js'

// Messages published before the worker starts are delivered together, so they share batches:
// one event whose SQL fails (and aborts the batch's one-statement transaction) and one document the archive
// refuses must each fail alone, while every other message of their batches is applied once.
const env = await build(t)
const { db, amqp } = env

t.test('one failing event or document in a batch: the rest applied and archived once, it alone dead-lettered', async t => {
  const start = 1_000_000
  const c = await fundedCard(db, 'fallback', start)
  const sim = purchasesOf(c)
  const events = Array.from({ length: 40 }, () => sim.forceCapture(100))
  const poison = sim.forceCapture(100)
  const poisonToken = String(poison.token)

  // The real ledger, except that the poison event runs a statement that fails in PostgreSQL (as
  // a broken event would), which aborts the transaction it is in.
  let applyCalls = 0
  const ledger = ledgerAround({
    before: async (sql, event) => {
      applyCalls++
      if (event.token === poisonToken) await sql`select 1 / 0`
    }
  })
  // The real archive, except that it refuses the poison's document (alone or in a batch).
  const batches: number[] = []
  const refuse = (doc: ArchiveDocument): void => { if (doc.token === poisonToken) throw new TypeError('archive refuses this document') }
  const archive: DocumentArchive = {
    ...env.archive,
    store: async doc => { refuse(doc); return await env.archive.store(doc) },
    storeMany: async docs => { batches.push(docs.length); docs.forEach(refuse); return await env.archive.storeMany(docs) }
  }

  const all = [...events.slice(0, 20), poison, ...events.slice(20)]
  for (const e of all) await env.sendEvent(txRoutingKey(e), e)
  const worker = env.startWorker({ config: { ...testWorkerConfig, WORKER_BATCH_MAX: 50 }, ledger, archive, queues: ['transactions', 'webhooks'], loops: false, relay: false })

  await waitFor(async () => await queueDepth(amqp, 'transactions.dead') === 1, 30_000, 'the poison dead-lettered')
  const a = await getAccount(db.sql, c.account)
  t.same({ balance: a?.balance, available: a?.available }, { balance: start - 40 * 100, available: start - 40 * 100 }, 'the 40 good force captures applied exactly once (the aborted attempt left nothing)')
  t.ok(applyCalls > all.length, `the batch with the failing event was applied again one savepoint each (${applyCalls} apply calls for ${all.length} events)`)
  const stats = worker.consumerStats()
  t.equal(stats.transactions?.acked, 40, 'every good transaction event acknowledged')
  t.equal(stats.webhooks?.acked ?? 0, 0, 'the webhooks queue got none of them (the transactions handler archives them)')
  t.equal(await queueDepth(amqp, 'webhooks.dead'), 0)
  const [{ n } = { n: -1 }] = await db.sql<Array<{ n: number }>>`select count(*)::int as n from archive_documents where kind = 'webhook'`
  t.equal(n, 40, 'the 40 good webhooks archived, the refused one not')
  t.ok(Math.max(...batches) > 1, `documents archived in batches (largest ${Math.max(...batches)})`)
  t.ok(batches.length < all.length, `fewer archive calls (${batches.length}) than messages`)
  const text = await env.registry.metrics()
  const series = (name: string): number => Number(new RegExp(`^txn_worker_batch_size_${name}\\{[^}]*queue="transactions"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  t.ok(series('sum') >= all.length && series('sum') / series('count') > 1, `the batch sizes are counted (${series('sum')} messages in ${series('count')} transactions)`)
  t.same(await checkLedgerInvariants(db.sql), [], 'ledger invariants hold')
})
