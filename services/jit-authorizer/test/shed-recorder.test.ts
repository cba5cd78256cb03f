// The shed recorder's retry window (JIT_SHED_RETRY_MS): while PostgreSQL refuses the record, the
// answered decline is kept (a repeat gets it) and retried, then dropped once the window passed.
import t from 'tap'
import { pino } from 'pino'
import { createDatabase } from '@jit/postgres'
import { createTestDatabase, waitFor } from '@jit/test-support'
import type { JitDecisionRequest } from '@jit/ledger'
import { createShedRecorder } from '../src/shed-recorder.js'

t.test('a record PostgreSQL keeps refusing is retried for retryMs, then dropped', async t => {
  // A database without the ledger's migrations: every record fails (jit_decide_batch is missing).
  const db = createDatabase({ url: await createTestDatabase(t, 'shedrec'), poolMin: 0, poolMax: 1 })
  t.teardown(async () => { await db.close(1) })
  const results: string[] = []
  const recorder = createShedRecorder({ sql: db.sql, logger: pino({ level: 'silent' }), flushMs: 50, retryMs: 400, closeWaitMs: 100, onRecorded: (_count, result) => { results.push(result) } })
  t.teardown(async () => { await recorder.close() })
  const request = { jitToken: 'shed-retry-1', fingerprint: 'f', timezone: 'UTC' } as unknown as JitDecisionRequest
  const started = Date.now()
  recorder.record(request)
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(recorder.pending('shed-retry-1'), request, 'still kept (and retried) within the window')
  await waitFor(() => results.includes('dropped'), 5000, 'dropped after the window')
  const after = Date.now() - started
  t.ok(after >= 400 && after < 3000, `dropped after ${after} ms (retryMs 400; the default is 60 s)`)
  t.equal(recorder.pending('shed-retry-1'), undefined, 'a repeat is decided afresh')
  t.equal(recorder.queued(), 0)
})

t.test('beyond maxQueued (JIT_SHED_QUEUE_MAX) the oldest records are dropped', async t => {
  const db = createDatabase({ url: await createTestDatabase(t, 'shedcap'), poolMin: 0, poolMax: 1 })
  t.teardown(async () => { await db.close(1) })
  const dropped: number[] = []
  // flushMs far beyond the test: nothing is written meanwhile, only the cap acts
  const recorder = createShedRecorder({ sql: db.sql, logger: pino({ level: 'silent' }), flushMs: 60_000, maxQueued: 3, closeWaitMs: 100, onRecorded: (count, result) => { if (result === 'dropped') dropped.push(count) } })
  t.teardown(async () => { await recorder.close() })
  for (let i = 0; i < 5; i++) recorder.record({ jitToken: `shed-cap-${i}`, fingerprint: 'f', timezone: 'UTC' } as unknown as JitDecisionRequest)
  t.equal(recorder.queued(), 3, 'three kept (the default keeps 10000)')
  t.same(dropped, [1, 1], 'the two oldest dropped, one at a time')
  t.equal(recorder.pending('shed-cap-0'), undefined, 'the oldest is decided afresh')
  t.type(recorder.pending('shed-cap-4'), 'object', 'the newest is kept')
})
