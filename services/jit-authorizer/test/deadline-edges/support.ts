// What the deadline-edge tests share: a JIT body's token, waits, a starved event loop, and the
// comparison of an answer with the ledger's decision row (the rule: what we answer is what we
// recorded, and a repeat gets the same).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { getDecision } from '@jit/ledger'
import { adminDatabaseUrl, type FundedCard } from '@jit/test-support'
import { jitBody, type Harness } from '../helper.js'

export const tokenOf = (body: Record<string, unknown>): string => String((body.gpa_order as { jit_funding: { token: string } }).jit_funding.token)
export const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
export function starve (ms: number): void { const end = Date.now() + ms; while (Date.now() < end) { /* busy */ } }

export async function rowOf (h: Harness, token: string): Promise<any> {
  const [row] = await h.db.sql`select outcome, decline_reason, response from decisions where jit_token = ${token}`
  return row ?? null
}

/** answer vs record: the answered body must equal the recorded response, and a repeat the same */
export async function compare (h: Harness, body: Record<string, unknown>, answer: { status: number, body: any }): Promise<{ ok: boolean, detail: string }> {
  const token = tokenOf(body)
  const row = await rowOf(h, token)
  const recorded = row?.response ?? null
  const same = JSON.stringify(sortKeys(recorded)) === JSON.stringify(sortKeys(answer.body))
  return { ok: same, detail: `token=${token} answered ${answer.status} ${JSON.stringify(answer.body?.jit_funding)} | recorded ${row === null ? 'NOTHING' : `${row.outcome}/${row.decline_reason} ${JSON.stringify(recorded?.jit_funding)}`}` }
}

function sortKeys (v: any): any {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map(k => [k, sortKeys(v[k])]))
  return v
}
export { getDecision }

/** The memo of the unrecorded decline answered when a decision failed (PostgreSQL unreachable or failing). */
export const FAILURE_MEMO = 'Declined: the gateway could not decide; try again.'

/** One connection and one batch of one at a time: what is queued, and where, is predictable. */
export const ONE_CONNECTION = { poolMax: 1, env: { JIT_DECISION_BUDGET_MS: '500', JIT_DECISION_GRACE_MS: '200', JIT_BATCH_CONCURRENCY: '1', JIT_BATCH_MAX: '1' } }

/** Two funded cards, each decided once so its user, card and limits are cached. */
export async function warmCards (t: Test, h: Harness, prefix: string): Promise<[FundedCard, FundedCard]> {
  const a = await h.fundedCard(`${prefix}-a`, 100000)
  const b = await h.fundedCard(`${prefix}-b`, 100000)
  t.equal((await h.jit(jitBody(a, 1))).status, 200, 'warm a')
  t.equal((await h.jit(jitBody(b, 1))).status, 200, 'warm b')
  return [a, b]
}

/** Keeps one of the pool's connections busy for `seconds` (past the pool's statement_timeout). */
export async function busyConnection (h: Harness, seconds: number): Promise<unknown> {
  return await h.db.sql.begin(async tx => {
    await tx`set local statement_timeout = 0`
    await tx`select pg_sleep(${seconds})`
  })
}

/**
 * Runs `begin; <lock>; pg_sleep(seconds); commit` from another process: psql sends it as one
 * string, so the lock goes at its time whatever this process (whose event loop a test may
 * starve) is doing.
 */
export async function holdFromPsql (h: Harness, lock: string, seconds: number): Promise<unknown> {
  const [{ db } = { db: '' }] = await h.db.sql<Array<{ db: string }>>`select current_database() as db`
  const url = new URL(adminDatabaseUrl)
  url.pathname = `/${db}`
  return await promisify(execFile)('psql', [url.toString(), '-v', 'ON_ERROR_STOP=1', '-qc', `begin; ${lock}; select pg_sleep(${seconds}); commit`])
}

/** The card's available balance is its funds less the warm-up and what its record approved. */
export async function availableMatchesRecord (t: Test, h: Harness, card: FundedCard, body: Record<string, unknown>): Promise<void> {
  const row = await rowOf(h, tokenOf(body))
  t.equal(await h.available(card.user), 100000 - 100 - (row?.outcome === 'approved' ? 1000 : 0), `${card.user}: available exact against the record`)
}

/**
 * Test-only triggers on this test database's `decisions`: an approved decision row of a token
 * starting `bad-` fails with a data error (22023, a member error: its batch is decided apart),
 * one starting `slow-` takes 1.3 s to insert (its batch runs past its deadline).
 */
export async function installSlowAndBadTokens (h: Harness): Promise<void> {
  await h.db.sql.unsafe(`create or replace function test_slow_bad() returns trigger language plpgsql as $f$ begin
      if new.outcome = 'approved' and new.jit_token like 'bad-%' then raise exception 'culprit' using errcode = '22023'; end if;
      if new.outcome = 'approved' and new.jit_token like 'slow-%' then perform pg_sleep(1.3); end if;
      return new; end $f$;
    create trigger test_slow_bad before insert on decisions for each row execute function test_slow_bad()`)
}

/** Holds the account's row lock for `seconds` from another process. */
export async function holdAccount (h: Harness, account: string, seconds: number): Promise<unknown> {
  if (!/^[\w-]+$/.test(account)) throw new Error(`unexpected account token ${account}`)
  return await holdFromPsql(h, `select 1 from accounts where account_token = '${account}' for update`, seconds)
}

/** Funded cards by name, each decided once (warm) unless listed in `cold`. */
export async function fundedByName<K extends string> (t: Test, h: Harness, prefix: string, names: readonly K[], cold: readonly K[] = []): Promise<Record<K, FundedCard>> {
  const cards = {} as Record<K, FundedCard>
  for (const name of names) cards[name] = await h.fundedCard(`${prefix}-${name}`, 100000)
  for (const name of names) if (!cold.includes(name)) t.equal((await h.jit(jitBody(cards[name], 1))).status, 200, `warm ${name}`)
  return cards
}

/**
 * Occupies the one batch slot (JIT_BATCH_CONCURRENCY 1) for about 0.2 s with a decision waiting
 * on its account's lock, so the requests sent next form one batch; resolves when both are done.
 */
export async function occupyBatchSlot (h: Harness, card: FundedCard): Promise<() => Promise<unknown>> {
  const holder = holdAccount(h, card.user, 0.2)
  await sleep(100)
  const blocker = h.jit(jitBody(card, 1))
  await sleep(30)
  return async () => await Promise.all([holder, blocker])
}

/** A warm funded card whose account another process holds locked for `seconds` (from now on). */
export async function warmCardBehindLock (t: Test, h: Harness, name: string, seconds: number): Promise<{ card: FundedCard, holder: Promise<unknown> }> {
  const card = await h.fundedCard(name, 100000)
  t.equal((await h.jit(jitBody(card, 1))).status, 200, 'warm')
  const holder = holdAccount(h, card.user, seconds)
  await sleep(150)
  return { card, holder }
}
