import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { upsertUser, upsertCard, creditAccount, checkLedgerInvariants, type InvariantViolation } from '@jit/ledger'

export const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export function databaseUrl (name: string): string {
  const url = new URL(adminUrl)
  url.pathname = '/' + name
  return url.toString()
}

/** What the seeded database holds; both sides read the same cards and balances. */
export interface SeedSpec {
  /** W1/W4: one cardholder per account, each with one card. */
  accounts: number
  /** W1/W4: each account's balance, minor units. */
  balance: number
  /** W3: cards behind the one hot funding account. */
  hotCards: number
  /** W3: the hot account's balance, minor units. */
  hotBalance: number
}

export interface SeedCard { user: string, card: string, account: string }

export const HOT_ACCOUNT = 'bench-hot-account'

export function uniformCards (spec: SeedSpec): SeedCard[] {
  return Array.from({ length: spec.accounts }, (_, i) => ({ user: `bu-${i}`, card: `bc-${i}`, account: `bu-${i}` }))
}

export function hotCards (spec: SeedSpec): SeedCard[] {
  return Array.from({ length: spec.hotCards }, (_, i) => ({ user: `hu-${i}`, card: `hc-${i}`, account: HOT_ACCOUNT }))
}

async function withAdmin<T> (run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    return await run(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** Every migration and SQL function file of the repo: a change of any means a new seed. */
function schemaFingerprint (root: string, spec: SeedSpec): string {
  const h = createHash('sha256').update(JSON.stringify(spec))
  const walk = (dir: string): void => {
    let entries: string[]
    try { entries = readdirSync(dir).sort() } catch { return }
    for (const e of entries) {
      if (e === 'node_modules' || e === 'dist' || e.startsWith('.')) continue
      const p = join(dir, e)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else if (e.endsWith('.sql')) h.update(p).update(readFileSync(p))
    }
  }
  for (const top of ['packages', 'services', 'bench/base']) walk(join(root, top))
  // and how the seed is made (this module: provisioning, the relay's drain, the statistics)
  h.update(readFileSync(fileURLToPath(import.meta.url)))
  return h.digest('hex').slice(0, 12)
}

export async function databaseExists (name: string): Promise<boolean> {
  return await withAdmin(async sql => (await sql`select 1 from pg_database where datname = ${name}`).length > 0)
}

export async function createDatabase (name: string, template?: string): Promise<string> {
  await withAdmin(async sql => {
    await sql.unsafe(template === undefined ? `CREATE DATABASE "${name}"` : `CREATE DATABASE "${name}" TEMPLATE "${template}"`)
  })
  return databaseUrl(name)
}

export async function dropDatabase (name: string): Promise<void> {
  await withAdmin(async sql => { await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
}

/** Drops the seed databases of other fingerprints (each holds a full copy of the data). */
export async function dropOldSeeds (keep: string): Promise<void> {
  const names = await withAdmin(async sql => await sql<Array<{ datname: string }>>`select datname from pg_database where datname like 'jit_bench_seed_%'`)
  for (const { datname } of names) if (datname !== keep) await dropDatabase(datname)
}

export function seedName (root: string, spec: SeedSpec): string {
  return `jit_bench_seed_${schemaFingerprint(root, spec)}`
}

/**
 * Provisions the seed through the ledger's own API (users, cards, credits: the same commands the
 * worker applies), and BASE's tables from the same list; `withAuthorizer` then runs the authorizer
 * on it until its relay has published the provisioning's outbox events, and the tables are analyzed.
 */
export async function seedDatabase (url: string, spec: SeedSpec, baseSchema: string, withAuthorizer: (url: string, whileRunning: () => Promise<void>) => Promise<void>): Promise<void> {
  const sql = postgres(url, { max: 8, onnotice: () => {} })
  try {
    const uniform = uniformCards(spec)
    const hot = hotCards(spec)
    const all = [...uniform, ...hot]
    await creditAccount(sql, { accountToken: HOT_ACCOUNT, currency: 'USD', amount: spec.hotBalance, effectKind: 'bench.seed', effectKey: HOT_ACCOUNT })
    // the ledger's own commands, a few hundred per transaction (one commit each, not three per card)
    const chunks: SeedCard[][] = []
    for (let i = 0; i < all.length; i += 250) chunks.push(all.slice(i, i + 250))
    let next = 0
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++] as SeedCard[]
        await sql.begin(async tx => {
          for (const c of chunk) {
            await upsertUser(tx, { user_token: c.user, status: 'ACTIVE' })
            await upsertCard(tx, { card_token: c.card, user_token: c.user, status: 'ACTIVE', expiration: '2099-12', account_token: c.account === c.user ? null : c.account })
            if (c.account === c.user) await creditAccount(tx, { accountToken: c.account, currency: 'USD', amount: spec.balance, effectKind: 'bench.seed', effectKey: c.account })
          }
        })
      }
    }))
    await sql.unsafe(baseSchema)
    await sql`
      insert into base.accounts (account_token, balance)
      select * from unnest(${[...uniform.map(c => c.account), HOT_ACCOUNT]}::text[], ${[...uniform.map(() => spec.balance), spec.hotBalance]}::bigint[])
    `
    await sql`insert into base.cards (card_token, account_token) select * from unnest(${all.map(c => c.card)}::text[], ${all.map(c => c.account)}::text[])`
    // every phase would otherwise start with one unpublished event per credit (20,001) and relay
    // them inside its measurement; the authorizer's own relay publishes them here, once
    await withAuthorizer(url, async () => { await waitForOutboxDrained(sql, 300_000) })
    await analyzeNonEmptyTables(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/**
 * VACUUM ANALYZE of the tables that hold rows; the empty ones (decisions, holds, hold_history,
 * ledger_messages, BASE's decisions and holds...) are left never analyzed (reltuples -1).
 * Analyzed while empty, they would say 0 rows: the pooled connections' cached generic plans
 * then seq-scan them (a seq scan of nothing costs nothing) and, with autovacuum off as on the
 * shared server, nothing ever re-plans them while the phase fills them, so every lookup by token
 * scans the phase's whole history (both sides: BASE's FK check on base.decisions too). Never
 * analyzed, the planner assumes at least 10 pages and takes the indexes, and its estimates grow
 * with the table's actual size, which is what production gets from autovacuum's ANALYZE after
 * the first rows (it invalidates the plans). The tables with rows are analyzed as provisioned.
 */
async function analyzeNonEmptyTables (sql: postgres.Sql): Promise<void> {
  const tables = await sql<Array<{ name: string }>>`
    select format('%I.%I', n.nspname, c.relname) as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname !~ '^(pg_|information_schema$)'
    order by 1
  `
  for (const { name } of tables) {
    const [row] = await sql.unsafe<Array<{ rows: boolean }>>(`select exists (select from ${name}) as rows`)
    if (row?.rows === true) await sql.unsafe(`vacuum analyze ${name}`)
  }
}

/**
 * Waits (reading only) until the outbox holds no unpublished event: a running service's relay
 * publishes them. Returns the ms waited; throws after `timeoutMs`.
 */
export async function waitForOutboxDrained (sql: postgres.Sql, timeoutMs: number): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    const [row] = await sql<Array<{ pending: number }>>`select count(*)::int as pending from outbox where published_at is null`
    const pending = row?.pending ?? 0
    if (pending === 0) return Date.now() - t0
    if (Date.now() - t0 > timeoutMs) throw new Error(`the outbox still holds ${pending} unpublished events after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** BASE's books: held equals its open holds, never above the balance, one hold per decision at most. */
export async function checkBaseInvariants (sql: postgres.Sql): Promise<InvariantViolation[]> {
  const rows = await sql<Array<{ account_token: string, held: string, holds: string, balance: string }>>`
    select a.account_token, a.held::text, coalesce(sum(h.amount), 0)::text as holds, a.balance::text
    from base.accounts a left join base.holds h on h.account_token = a.account_token
    group by a.account_token
    having a.held <> coalesce(sum(h.amount), 0) or a.held > a.balance
  `
  return rows.map(r => ({ invariant: 'BASE: held = sum of holds <= balance', detail: { ...r } }))
}

/** The ledger's own invariant check (the same one the tests and `jit-ops invariants` run). */
export async function checkOurInvariants (sql: postgres.Sql): Promise<InvariantViolation[]> {
  return await checkLedgerInvariants(sql)
}
