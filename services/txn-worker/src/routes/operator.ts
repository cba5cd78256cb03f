import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { HttpErrorBody, httpError } from '@jit/contracts'
import { createBasicAuthVerifier, type BasicCredentials } from '@jit/http-auth'
import { getAccount, getDecision, getHold, getJournal, listOpenHolds, type HoldView } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import { money } from '../console/data.js'
import { holdSummaryBody } from './bodies.js'

/** Options of {@link operatorRoutes}. */
export interface OperatorRoutesOptions {
  db: Database
  /** Accepted operator credentials (current, and previous during a rotation). */
  credentials: Array<BasicCredentials | null | undefined>
}

/** The operator API's 401 challenge (the OpenAPI document shows it too). */
export const WWW_AUTHENTICATE = 'Basic realm="jit-operator", charset="UTF-8"'

const DEFAULT_JOURNAL_LIMIT = 100
const MAX_JOURNAL_LIMIT = 500
const OPEN_HOLDS_SHOWN = 100

// Printable text only: a control character (a NUL above all, which PostgreSQL refuses in text)
// can be no token, so it is a 400 naming the parameter rather than a 500 from the query.
const Token = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$', description: 'A token: 1-64 characters, no control characters' })
const Minor = Type.Integer({ description: 'Integer minor units' })
const Decimal = Type.Union([Type.String(), Type.Null()], { description: 'The same amount as an exact decimal string of major units' })
const Time = Type.String({ format: 'date-time' })
const NullableTime = Type.Union([Time, Type.Null()])
const NullableString = Type.Union([Type.String(), Type.Null()])

const HoldBody = Type.Object({
  hold_token: Type.String({ description: 'The purchase\'s original JIT token' }),
  account_token: Type.String(),
  user_token: NullableString,
  card_token: NullableString,
  currency: Type.String(),
  mcc: NullableString,
  transaction_tokens: Type.Array(Type.String()),
  state: Type.Union([Type.Literal('OPEN'), Type.Literal('CLOSED'), Type.Literal('EXPIRED')]),
  forced: Type.Boolean(),
  authorized_minor: Minor,
  authorized: Decimal,
  captured_minor: Minor,
  captured: Decimal,
  released_minor: Minor,
  released: Decimal,
  remaining_minor: Minor,
  remaining: Decimal,
  over_captured_minor: Minor,
  over_captured: Decimal,
  opened_at: Time,
  last_activity_at: Time,
  closed_at: NullableTime
})

const AccountBody = Type.Object({
  account: Type.Object({
    account_token: Type.String(),
    currency: Type.String(),
    status: Type.String(),
    balance_minor: Minor,
    balance: Decimal,
    held_minor: Minor,
    held: Decimal,
    available_minor: Minor,
    available: Decimal,
    credit_line_minor: Minor,
    credit_line: Decimal,
    updated_at: Time
  }),
  open_holds: Type.Array(HoldBody)
})

const HoldWithHistory = Type.Object({
  hold: HoldBody,
  history: Type.Array(Type.Object({
    action: Type.String(),
    amount_minor: Minor,
    amount: Decimal,
    effect_key: NullableString,
    detail: Type.Record(Type.String(), Type.Unknown()),
    at: Time
  }))
})

const DecisionBody = Type.Object({
  decision: Type.Object({
    jit_token: Type.String(),
    method: Type.String(),
    kind: Type.String(),
    user_token: Type.String(),
    card_token: NullableString,
    account_token: NullableString,
    original_jit_token: NullableString,
    outcome: Type.String(),
    decline_reason: NullableString,
    amount_minor: Type.Union([Minor, Type.Null()]),
    amount: Decimal,
    currency: NullableString,
    http_status: Type.Integer(),
    response: Type.Record(Type.String(), Type.Unknown(), { description: 'The body sent to the processor' }),
    created_at: Time
  })
})

const JournalBody = Type.Object({
  account_token: Type.String(),
  entries: Type.Array(Type.Object({
    entry_id: Type.Integer(),
    kind: Type.String(),
    effect_key: NullableString,
    currency: Type.String(),
    description: NullableString,
    amount_minor: Minor,
    amount: Decimal,
    created_at: Time
  }))
})

/** Every status a route answers besides its 200. */
function responses (ok: TSchema): Record<number, TSchema> {
  return { 200: ok, 400: HttpErrorBody, 401: HttpErrorBody, 404: HttpErrorBody }
}

function holdBody (h: HoldView): Static<typeof HoldBody> {
  return {
    ...holdSummaryBody(h),
    transaction_tokens: h.transaction_tokens,
    authorized: money(h.authorized, h.currency),
    captured: money(h.captured, h.currency),
    released: money(h.released, h.currency),
    over_captured_minor: h.over_captured,
    over_captured: money(h.over_captured, h.currency)
  }
}

function notFound (what: string, token: string): { error: string, message: string } {
  return { error: 'NOT_FOUND', message: `no ${what} with token ${token}` }
}

function num (value: unknown): number | null {
  return typeof value === 'number' ? value : null
}

function str (value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

/** The operator API's Basic-auth check: a 401 with `WWW-Authenticate` unless the credentials are right. */
export function operatorAuthHook (credentials: Array<BasicCredentials | null | undefined>): onRequestAsyncHookHandler {
  const verify = createBasicAuthVerifier(credentials)
  return async (request, reply) => {
    if (verify(request.headers.authorization)) return
    await reply.code(401).header('www-authenticate', WWW_AUTHENTICATE)
      .send({ error: 'UNAUTHORIZED', message: 'operator credentials required' })
  }
}

/**
 * The read-only operator API under Basic auth: accounts with their open holds, holds with their
 * history, JIT decisions and account journals. Registered in its own scope, so the auth hook
 * covers these routes and not `/health`, `/ready` or `/metrics`.
 */
export const operatorRoutes: FastifyPluginAsync<OperatorRoutesOptions> = async (parent, opts) => {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { db } = opts
  app.addHook('onRequest', operatorAuthHook(opts.credentials))

  /**
   * `GET url` of one record named by the path parameter `param`: `find` it, answer a 404 naming
   * `what` when there is none, else `answer` with it.
   */
  function byToken<B extends TSchema, R> (url: string, param: string, what: string, body: B, find: (token: string) => Promise<R | null>, answer: (found: R, token: string) => Static<B> | Promise<Static<B>>): void {
    app.get(url, {
      schema: { params: Type.Object({ [param]: Token }), response: responses(body) }
    }, async (request, reply) => {
      const token = (request.params as Record<string, string>)[param] ?? ''
      const found = await find(token)
      if (found === null) return await reply.code(404).send(notFound(what, token))
      return await answer(found, token)
    })
  }

  byToken('/v1/accounts/:token', 'token', 'account', AccountBody, async token => await getAccount(db.sql, token), async (account, token) => {
    const holds = await listOpenHolds(db.sql, token, OPEN_HOLDS_SHOWN)
    const c = account.currency
    return {
      account: {
        account_token: account.account_token,
        currency: c,
        status: account.status,
        balance_minor: account.balance,
        balance: money(account.balance, c),
        held_minor: account.held,
        held: money(account.held, c),
        available_minor: account.available,
        available: money(account.available, c),
        credit_line_minor: account.credit_line,
        credit_line: money(account.credit_line, c),
        updated_at: account.updated_at.toISOString()
      },
      open_holds: holds.map(holdBody)
    }
  })

  app.get('/v1/accounts/:token/journal', {
    schema: {
      params: Type.Object({ token: Token }),
      // query strings are text; the pattern keeps a non-number a 400 instead of a guess
      querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `1..${MAX_JOURNAL_LIMIT}, default ${DEFAULT_JOURNAL_LIMIT}` })) }, { additionalProperties: false }),
      response: responses(JournalBody)
    }
  }, async (request, reply) => {
    const { token } = request.params
    const limit = request.query.limit === undefined ? DEFAULT_JOURNAL_LIMIT : Number(request.query.limit)
    if (limit < 1 || limit > MAX_JOURNAL_LIMIT) {
      return await reply.code(400).send(httpError('INVALID_REQUEST', `limit must be between 1 and ${MAX_JOURNAL_LIMIT}`, '/querystring/limit'))
    }
    const account = await getAccount(db.sql, token)
    if (account === null) return await reply.code(404).send(notFound('account', token))
    const rows = await getJournal(db.sql, token, limit)
    return {
      account_token: token,
      entries: rows.map(r => {
        const currency = str(r.currency) ?? account.currency
        const amount = num(r.amount) ?? 0
        return {
          entry_id: num(r.entry_id) ?? 0,
          kind: str(r.kind) ?? '',
          effect_key: str(r.effect_key),
          currency,
          description: str(r.description),
          amount_minor: amount,
          amount: money(amount, currency),
          created_at: (r.created_at as Date).toISOString()
        }
      })
    }
  })

  byToken('/v1/holds/:token', 'token', 'hold', HoldWithHistory, async token => await getHold(db.sql, token), hold => ({
    hold: holdBody(hold),
    history: hold.history.map(h => ({
      action: str(h.action) ?? '',
      amount_minor: num(h.amount) ?? 0,
      amount: money(num(h.amount), hold.currency),
      effect_key: str(h.effect_key),
      detail: (h.detail ?? {}) as Record<string, unknown>,
      at: (h.at as Date).toISOString()
    }))
  }))

  byToken('/v1/decisions/:jitToken', 'jitToken', 'decision', DecisionBody, async jitToken => await getDecision(db.sql, jitToken), (d, jitToken) => {
    const currency = str(d.currency)
    return {
      decision: {
        jit_token: str(d.jit_token) ?? jitToken,
        method: str(d.method) ?? '',
        kind: str(d.kind) ?? '',
        user_token: str(d.user_token) ?? '',
        card_token: str(d.card_token),
        account_token: str(d.account_token),
        original_jit_token: str(d.original_jit_token),
        outcome: str(d.outcome) ?? '',
        decline_reason: str(d.decline_reason),
        amount_minor: num(d.amount),
        amount: money(num(d.amount), currency),
        currency,
        http_status: num(d.http_status) ?? 0,
        response: (d.response ?? {}) as Record<string, unknown>,
        created_at: (d.created_at as Date).toISOString()
      }
    }
  })
}
