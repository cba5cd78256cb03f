import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { JitAuthorizerConfig, loadConfig } from '@jit/config'
import { createDatabase, runMigrations, type Database } from '@jit/postgres'
import { createCache, type Cache } from '@jit/redis'
import * as ledger from '@jit/ledger'
import { createTestDatabase, createTestRedisPrefix, fundedCards, sharedRedisUrl, swaggerValidator, type FundedCard, type FundedCardOptions, type Teardownable } from '@jit/test-support'
import { basicAuthHeader } from '@jit/http-auth'
import { jitFundingRequest } from '@jit/processor-sim'
import { buildApp } from '../src/app.js'

export const AUTH = basicAuthHeader('jit-test', 'Test-Only-Passw0rd-For-Jit!')

export interface Harness {
  app: FastifyInstance
  db: Database
  cache: Cache
  /** Creates an ACTIVE user and card funded with `balance` minor units (USD); names may repeat. */
  fundedCard: (name: string, balance: number, opts?: FundedCardOptions) => Promise<FundedCard>
  available: (account: string) => Promise<number | undefined>
  balance: (account: string) => Promise<number | undefined>
  /** POSTs a JIT funding request with valid credentials. */
  jit: (body: unknown, headers?: Record<string, string>) => Promise<{ status: number, body: any }>
  invariants: () => Promise<unknown[]>
}

const fundedCard = fundedCards(ledger)

/**
 * The app as server.ts builds it, on a migrated database and a Redis key prefix of this test
 * file's own; closed (app, cache, pool) at teardown.
 */
export async function build (t: Teardownable, opts: { env?: Record<string, string>, redisUrl?: string, poolMax?: number, statementTimeoutMs?: number } = {}): Promise<Harness> {
  const url = await createTestDatabase(t, 'jit')
  const prefix = createTestRedisPrefix(t)
  const config = loadConfig(JitAuthorizerConfig, {
    DEPLOY_ENV: 'local',
    DATABASE_URL: url,
    JIT_BASIC_AUTH: 'jit-test:Test-Only-Passw0rd-For-Jit!',
    LOG_LEVEL: 'silent',
    ...opts.env
  })
  const db = createDatabase({ url, poolMin: 1, poolMax: opts.poolMax ?? 8, statementTimeoutMs: opts.statementTimeoutMs ?? config.JIT_DECISION_BUDGET_MS })
  await runMigrations(db.sql, ledger.ledgerMigrationSets)
  const cache = createCache({ url: opts.redisUrl ?? sharedRedisUrl, keyPrefix: prefix, commandTimeoutMs: 200 })
  await cache.connect()
  const { default: pino } = await import('pino')
  const app = await buildApp({ config, logger: pino({ level: 'silent' }), db, cache, registry: new Registry() })
  t.teardown(async () => {
    await app.close()
    await cache.close()
    await db.close(1)
  })
  let n = 0
  return {
    app,
    db,
    cache,
    fundedCard: async (name, balance, o = {}) => await fundedCard(db, `${name}-${++n}`, balance, o),
    available: async (account) => (await ledger.getAccount(db.sql, account))?.available,
    balance: async (account) => (await ledger.getAccount(db.sql, account))?.balance,
    async jit (body, headers = {}) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/jit-funding',
        headers: { authorization: AUTH, 'content-type': 'application/json', ...headers },
        payload: typeof body === 'string' ? body : JSON.stringify(body)
      })
      return { status: res.statusCode, body: res.body.length > 0 ? res.json() : null }
    },
    invariants: async () => await ledger.checkLedgerInvariants(db.sql)
  }
}

/**
 * A JIT funding request as the processor sends it (the simulator's), with the amount in major
 * units exactly as given (a number or a string, valid or not) and a field we do not know.
 */
export function jitBody (c: { user: string, card: string }, amount: number | string, over: {
  method?: string
  token?: string
  original?: string
  mcc?: string
  currency?: string
  acting?: string
  unload?: boolean
} = {}): Record<string, unknown> {
  const body = jitFundingRequest(c, { ...over, rawAmount: amount })
  body.unknown_future_field = { kept: true }
  return body
}

/**
 * The processor's own schema of our answers: swagger `jit_program_response` with its references
 * (the contracts package's validator of the swagger, shared rather than copied).
 */
const programResponse = swaggerValidator('jit_program_response')
export function validateProgramResponse (body: unknown): { ok: boolean, errors: unknown } {
  const ok = programResponse(body)
  return { ok, errors: programResponse.errors }
}
