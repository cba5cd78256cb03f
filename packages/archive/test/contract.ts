import type { Test } from 'tap'
import type { ArchiveDocument, DocumentArchive } from '../src/index.js'

/** One archive under test plus a way to read what really reached its store. */
export interface ArchiveHarness {
  archive: DocumentArchive
  /** The stored row or document, read straight from the database, bypassing the archive. */
  readRaw: (kind: string, token: string) => Promise<unknown>
}

/** Builds a fresh, empty, initialised archive whose storage is dropped at `t`'s teardown. */
export type MakeArchive = (t: Test, opts?: { retentionDays?: number }) => Promise<ArchiveHarness>

const BASE = new Date('2024-03-01T12:00:00.000Z')
const DAY = 24 * 60 * 60 * 1000
const at = (offsetMs: number): Date => new Date(BASE.getTime() + offsetMs)

function doc (token: string, extra: Partial<ArchiveDocument> = {}): ArchiveDocument {
  return { token, kind: 'webhook', occurred_at: BASE, body: { token }, ...extra }
}

/**
 * The behaviour every {@link DocumentArchive} implementation must have. Each subtest gets an
 * archive of its own, so counts and purges are exact.
 */
export function archiveContract (t: Test, makeArchive: MakeArchive): void {
  t.test('store, idempotency by (kind, token) and findByToken', async t => {
    const { archive } = await makeArchive(t)
    const first = doc('tok-1', {
      family: 'transactions',
      type: 'authorization.clearing',
      user_token: 'user-1',
      card_token: 'card-1',
      body: { amount: 12.34, currency_code: 'USD', nested: { list: [1, 'two', { three: true }] } }
    })
    const before = Date.now()
    t.same(await archive.store(first), { inserted: true })
    t.same(await archive.store({ ...first, body: { changed: true } }), { inserted: false }, 'a repeat is a no-op')
    t.same(await archive.store({ ...first, kind: 'decision' }), { inserted: true }, 'the same token of another kind is another document')

    const found = await archive.findByToken('tok-1', 'webhook')
    t.ok(found, 'found')
    if (found === null) return
    t.same(found.body, first.body, 'the first version is kept, body intact')
    t.equal(found.kind, 'webhook')
    t.equal(found.family, 'transactions')
    t.equal(found.type, 'authorization.clearing')
    t.equal(found.user_token, 'user-1')
    t.equal(found.card_token, 'card-1')
    t.ok(found.occurred_at instanceof Date)
    t.equal(found.occurred_at.getTime(), BASE.getTime())
    t.ok(found.archived_at instanceof Date)
    t.ok(found.archived_at.getTime() >= before - 60_000, 'archived_at is the storage time')

    t.same(await archive.store(doc('tok-2')), { inserted: true })
    const bare = await archive.findByToken('tok-2')
    t.same(
      bare !== null ? [bare.family, bare.type, bare.user_token, bare.card_token] : 'missing',
      [null, null, null, null],
      'absent optional fields read back as null'
    )

    t.equal(await archive.findByToken('tok-1', 'nope'), null, 'wrong kind')
    t.equal(await archive.findByToken('missing'), null, 'unknown token')

    await archive.store(doc('tok-3', { kind: 'webhook', occurred_at: at(-DAY) }))
    await archive.store(doc('tok-3', { kind: 'decision', occurred_at: at(DAY) }))
    t.equal((await archive.findByToken('tok-3'))?.kind, 'decision', 'no kind: the most recent document')
  })

  t.test('concurrent stores of one token insert it once', async t => {
    const { archive } = await makeArchive(t)
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      archive.store(doc('race', { body: { attempt: i } }))))
    t.equal(results.filter(r => r.inserted).length, 1, 'exactly one insert wins')
    t.equal((await archive.query({ token: 'race' })).length, 1)
  })

  t.test('storeMany skips duplicates inside a batch and across batches', async t => {
    const { archive } = await makeArchive(t)
    t.same(await archive.storeMany([]), { inserted: 0 }, 'empty batch')
    t.same(await archive.storeMany([
      doc('a', { body: { v: 'first' } }),
      doc('b'),
      doc('a', { body: { v: 'second' } }),
      doc('a', { kind: 'decision' })
    ]), { inserted: 3 }, 'the in-batch duplicate is skipped')
    t.same((await archive.findByToken('a', 'webhook'))?.body, { v: 'first' }, 'the first of the batch wins')

    t.same(await archive.storeMany([doc('b'), doc('c'), doc('a', { kind: 'decision' }), doc('d')]), { inserted: 2 },
      'only the new ones count')
    t.same(await archive.storeMany([doc('c'), doc('d')]), { inserted: 0 }, 'a fully repeated batch inserts nothing')
    t.equal((await archive.query({})).length, 5, 'five distinct documents')

    const many = Array.from({ length: 1205 }, (_, i) => doc(`bulk-${i}`, { kind: 'bulk', occurred_at: at(i * 1000) }))
    t.same(await archive.storeMany(many), { inserted: 1205 }, 'a batch larger than one insert chunk')
    t.same(await archive.storeMany(many.slice(1000)), { inserted: 0 })
  })

  t.test('query by user, card, kind, token and time range, newest first', async t => {
    const { archive } = await makeArchive(t)
    await archive.storeMany([
      doc('u1-old', { user_token: 'u1', card_token: 'c1', occurred_at: at(-3 * DAY) }),
      doc('u1-mid', { user_token: 'u1', card_token: 'c2', occurred_at: at(-2 * DAY), kind: 'decision' }),
      doc('u1-new', { user_token: 'u1', card_token: 'c1', occurred_at: at(-1 * DAY) }),
      doc('u2-new', { user_token: 'u2', card_token: 'c3', occurred_at: at(0) }),
      doc('tie-a', { user_token: 'u3', occurred_at: at(0) }),
      doc('tie-b', { user_token: 'u3', occurred_at: at(0) })
    ])
    const tokens = async (q: Parameters<DocumentArchive['query']>[0]): Promise<string[]> =>
      (await archive.query(q)).map(d => d.token)

    t.same(await tokens({ user_token: 'u1' }), ['u1-new', 'u1-mid', 'u1-old'], 'by user, newest first')
    t.same(await tokens({ card_token: 'c1' }), ['u1-new', 'u1-old'], 'by card')
    t.same(await tokens({ kind: 'decision' }), ['u1-mid'], 'by kind')
    t.same(await tokens({ token: 'u2-new' }), ['u2-new'], 'by token')
    t.same(await tokens({ user_token: 'u1', kind: 'webhook' }), ['u1-new', 'u1-old'], 'filters combine')
    t.same(await tokens({ user_token: 'nobody' }), [], 'no match')
    t.same(await tokens({ from: at(-2 * DAY), to: at(0) }), ['u1-new', 'u1-mid'], 'from inclusive, to exclusive')
    const recent = await tokens({ from: at(-1 * DAY) })
    t.equal(recent.length, 4, 'open-ended range')
    t.equal(recent[3], 'u1-new', 'the oldest of the range last')
    t.same(recent.slice(0, 3), ['u2-new', 'tie-b', 'tie-a'], 'ties in time ordered by token, descending')
    t.same(await tokens({ to: at(-2 * DAY) }), ['u1-old'], 'open start')
    t.same(await tokens({ user_token: 'u1', limit: 2 }), ['u1-new', 'u1-mid'], 'limit keeps the newest')

    const all = await archive.query({})
    t.equal(all.length, 6)
    for (let i = 1; i < all.length; i++) {
      t.ok((all[i - 1] as { occurred_at: Date }).occurred_at >= (all[i] as { occurred_at: Date }).occurred_at, `ordered at ${i}`)
    }

    await t.rejects(archive.query({ limit: 0 }), RangeError, 'a zero limit is refused')
    await t.rejects(archive.query({ limit: 2.5 }), RangeError, 'a fractional limit is refused')
    await t.rejects(archive.query({ from: new Date('garbage') }), TypeError, 'an invalid date is refused')
  })

  t.test('limit defaults to 100 and is capped at 1000', async t => {
    const { archive } = await makeArchive(t)
    await archive.storeMany(Array.from({ length: 1010 }, (_, i) => doc(`n-${String(i).padStart(4, '0')}`, { occurred_at: at(i) })))
    const byDefault = await archive.query({})
    t.equal(byDefault.length, 100, 'default 100')
    t.equal(byDefault[0]?.token, 'n-1009', 'the newest first')
    t.equal((await archive.query({ limit: 5000 })).length, 1000, 'capped at 1000')
    t.equal((await archive.query({ limit: 1000 })).at(-1)?.token, 'n-0010')
  })

  t.test('purgeExpired deletes what is older than the retention', async t => {
    const { archive } = await makeArchive(t, { retentionDays: 30 })
    const now = at(0)
    await archive.storeMany([
      doc('ancient', { occurred_at: at(-400 * DAY) }),
      doc('just-expired', { occurred_at: at(-30 * DAY - 1) }),
      doc('at-the-limit', { occurred_at: at(-30 * DAY) }),
      doc('recent', { occurred_at: at(-29 * DAY) }),
      doc('future', { occurred_at: at(DAY) })
    ])
    t.equal(await archive.purgeExpired(now), 2, 'two expired')
    t.same((await archive.query({})).map(d => d.token).sort(), ['at-the-limit', 'future', 'recent'])
    t.equal(await archive.purgeExpired(now), 0, 'a second purge finds nothing')
    t.equal(await archive.findByToken('ancient'), null)
    t.same(await archive.store(doc('ancient', { occurred_at: at(-400 * DAY) })), { inserted: true },
      'a purged token can be archived again')
    t.equal(await archive.purgeExpired(), 4, 'by default now is the current time: everything from 2024 is past 30 days')
    await t.rejects(archive.purgeExpired(new Date(Number.NaN)), TypeError)
  })

  t.test('the default retention is 400 days', async t => {
    const { archive } = await makeArchive(t)
    await archive.storeMany([
      doc('old', { occurred_at: at(-401 * DAY) }),
      doc('kept', { occurred_at: at(-399 * DAY) })
    ])
    t.equal(await archive.purgeExpired(at(0)), 1)
    t.ok(await archive.findByToken('kept'))
  })

  t.test('card numbers are masked before they reach storage', async t => {
    const { archive, readRaw } = await makeArchive(t)
    const input: ArchiveDocument = doc('masked-1', {
      type: 'card 4111111111111111 used',
      body: {
        card: { pan: '5555555555554444', last_four: '4444' },
        memo: 'paid with 4111 1111 1111 1111 at store',
        events: [{ detail: { note: 'amex 3782-822463-10005' } }],
        amount: 12.34,
        card_as_number: 4111111111111111,
        reference: '7c5b9e2e-1a0f-4b7e-9a35-6c1f1d9e3b2a'
      }
    })
    const snapshot = JSON.stringify(input)
    t.same(await archive.store(input), { inserted: true })
    t.equal(JSON.stringify(input), snapshot, 'the caller\'s document is not modified')

    const raw = JSON.stringify(await readRaw('webhook', 'masked-1'))
    t.ok(raw.length > 10, 'the raw row was read')
    for (const pan of ['4111111111111111', '4111 1111 1111 1111', '5555555555554444', '378282246310005', '3782-822463-10005']) {
      t.notOk(raw.includes(pan), `${pan} never reaches storage`)
    }
    t.ok(raw.includes('555555******4444'), 'the pan field is masked')
    t.ok(raw.includes('paid with 411111******1111 at store'), 'a spaced PAN in free text is masked')
    t.ok(raw.includes('378282*****0005'), 'a nested dashed PAN is masked')
    t.ok(raw.includes('card 411111******1111 used'), 'top-level string fields are masked too')
    t.ok(raw.includes('7c5b9e2e-1a0f-4b7e-9a35-6c1f1d9e3b2a'), 'UUIDs untouched')

    const found = await archive.findByToken('masked-1')
    t.same(found?.body.card, { pan: '555555******4444', last_four: '4444' })
    t.equal(found?.body.amount, 12.34, 'amounts untouched')
    t.equal(found?.body.card_as_number, '411111******1111', 'a PAN sent as a number becomes a masked string')

    await archive.storeMany([doc('masked-2', { body: { pan: '4111111111111111' } })])
    t.notOk(JSON.stringify(await readRaw('webhook', 'masked-2')).includes('4111111111111111'), 'storeMany masks too')
  })

  t.test('invalid documents are refused and nothing is stored', async t => {
    const { archive } = await makeArchive(t)
    const bad: unknown[] = [
      { ...doc('x'), token: '' },
      { ...doc('x'), token: 42 },
      { ...doc('x'), kind: '' },
      { ...doc('x'), occurred_at: '2024-01-01' },
      { ...doc('x'), occurred_at: new Date(Number.NaN) },
      { ...doc('x'), body: null },
      { ...doc('x'), body: [1, 2] },
      { ...doc('x'), user_token: 7 },
      null
    ]
    for (const [i, b] of bad.entries()) {
      await t.rejects(archive.store(b as ArchiveDocument), TypeError, `bad document ${i}`)
    }
    await t.rejects(archive.storeMany([doc('ok-1'), bad[0] as ArchiveDocument]), TypeError, 'one bad document fails the batch')
    t.same(await archive.query({}), [], 'nothing was stored, not even the valid part of the batch')
  })

  t.test('ping and close', async t => {
    const { archive } = await makeArchive(t)
    const ms = await archive.ping()
    t.ok(ms >= 0 && ms < 10_000, `ping ${ms} ms`)
    await archive.close()
    await archive.close()
    await t.rejects(archive.store(doc('late')), /closed/, 'a closed archive refuses work')
    await t.rejects(archive.query({}), /closed/)
    await t.rejects(archive.ping(), /closed/)
  })
}
