import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import type { DocumentArchive } from '@jit/archive'
import { HttpErrorBody, httpError } from '@jit/contracts'
import type { BasicCredentials } from '@jit/http-auth'
import type { Database } from '@jit/postgres'
import { listActions } from '../console/actions.js'
import { holdSummaryBody } from './bodies.js'
import { operatorAuthHook } from './operator.js'
import { decisionsOf, holdsOf, money, search, SearchInputError, timelineOf, type DecisionDetail, type TimelineOwner } from '../console/data.js'

/** Options of {@link consoleApiRoutes}. */
export interface ConsoleApiOptions {
  db: Database
  archive?: DocumentArchive | undefined
  credentials: Array<BasicCredentials | null | undefined>
}

const Token = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$', description: 'A token: 1-64 characters, no control characters' })
const Limit = Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'Page size 1..100, default 25' }))
const Before = Type.Optional(Type.String({ format: 'date-time', description: 'Only what happened before this time: the previous page\'s `next_before`' }))
const Time = Type.String({ format: 'date-time' })
const NullableTime = Type.Union([Time, Type.Null()])
const NStr = Type.Union([Type.String(), Type.Null()])
const NInt = Type.Union([Type.Integer(), Type.Null()])
const Decimal = Type.Union([Type.String(), Type.Null()], { description: 'Exact decimal string of major units' })
const Kind = Type.Union(['card', 'user', 'account', 'decision', 'hold', 'transaction'].map(k => Type.Literal(k)))

const Hit = Type.Object({
  kind: Kind,
  token: Type.String(),
  user_token: NStr,
  card_token: NStr,
  account_token: NStr,
  hold_token: NStr,
  occurred_at: Type.Optional(Time),
  last_four: Type.Optional(Type.String())
})

const Decision = Type.Object({
  jit_token: Type.String(),
  method: Type.String(),
  kind: Type.String(),
  user_token: Type.String(),
  card_token: NStr,
  account_token: NStr,
  original_jit_token: NStr,
  outcome: Type.String(),
  decline_reason: NStr,
  memo: NStr,
  reason_detail: NStr,
  amount_minor: NInt,
  amount: Decimal,
  currency: NStr,
  merchant: NStr,
  mcc: NStr,
  transaction_token: NStr,
  stages_ms: Type.Union([Type.Record(Type.String(), Type.Number()), Type.Null()], { description: 'Stage timings when the decision event carries them' }),
  created_at: Time
})

const TimelineEntry = Type.Object({
  at: Time,
  type: Type.Union([Type.Literal('decision'), Type.Literal('webhook'), Type.Literal('hold'), Type.Literal('journal')]),
  what: Type.String({ description: 'Decision outcome, webhook type, hold action or journal entry kind' }),
  amount_minor: NInt,
  amount: Decimal,
  currency: NStr,
  hold_token: NStr,
  token: NStr,
  decision: Type.Optional(Decision),
  webhook: Type.Optional(Type.Object({ family: NStr, type: NStr, state: NStr, merchant: NStr, mcc: NStr, response_code: NStr })),
  balance_after_minor: Type.Optional(Type.Integer()),
  available_after_minor: Type.Optional(Type.Integer()),
  held_after_minor: Type.Optional(Type.Integer()),
  effect_key: Type.Optional(NStr),
  detail: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})

const HoldRow = Type.Object({
  hold_token: Type.String(),
  account_token: Type.String(),
  user_token: NStr,
  card_token: NStr,
  currency: Type.String(),
  mcc: NStr,
  state: Type.String(),
  forced: Type.Boolean(),
  authorized_minor: Type.Integer(),
  captured_minor: Type.Integer(),
  released_minor: Type.Integer(),
  remaining_minor: Type.Integer(),
  remaining: Decimal,
  age_seconds: Type.Integer(),
  opened_at: Time,
  last_activity_at: Time,
  closed_at: NullableTime
})

const Action = Type.Object({
  id: Type.Integer(),
  operator: Type.String(),
  action: Type.String(),
  target: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
  outcome: Type.String(),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  requested_at: Time,
  finished_at: NullableTime
})

function responses (ok: TSchema, notFound = true): Record<number, TSchema> {
  return notFound ? { 200: ok, 400: HttpErrorBody, 401: HttpErrorBody, 404: HttpErrorBody } : { 200: ok, 400: HttpErrorBody, 401: HttpErrorBody }
}

function limitOf (value: string | undefined): number | null {
  if (value === undefined) return 25
  const n = Number(value)
  return n >= 1 && n <= 100 ? n : null
}

async function badRequest (reply: FastifyReply, field: string, message: string): Promise<FastifyReply> {
  return await reply.code(400).send(httpError('INVALID_REQUEST', message, `/querystring/${field}`))
}

function decisionBody (d: DecisionDetail): Record<string, unknown> {
  const { amount, ...rest } = d
  return { ...rest, amount_minor: amount, amount: money(amount, d.currency), created_at: d.created_at.toISOString() }
}

/**
 * The console's read endpoints on the JSON operator API (Basic auth, like the rest of `/v1/`):
 * search by any identifier, a card's decisions, a cardholder's timeline, an account's holds and
 * the operator actions. Paginated by time (`before` = the previous page's `next_before`).
 */
export const consoleApiRoutes: FastifyPluginAsync<ConsoleApiOptions> = async (parent, opts) => {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const data = { db: opts.db, archive: opts.archive }
  app.addHook('onRequest', operatorAuthHook(opts.credentials))

  app.get('/v1/search', {
    schema: {
      querystring: Type.Object({
        q: Type.Optional(Type.String({ maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$', description: 'A card, user, account, JIT or transaction token' })),
        last_four: Type.Optional(Type.String({ pattern: '^[0-9]{4}$', description: 'Last four digits of a card number, with a window of at most 7 days' })),
        from: Type.Optional(Type.String({ format: 'date-time', description: 'Window start (last-four search), default `to` minus 24 h' })),
        to: Type.Optional(Type.String({ format: 'date-time', description: 'Window end (last-four search), default now' }))
      }, { additionalProperties: false }),
      response: responses(Type.Object({ hits: Type.Array(Hit) }), false)
    }
  }, async (request, reply) => {
    const { q, last_four: lastFour, from, to } = request.query
    if ((q ?? '') === '' && lastFour === undefined) return await badRequest(reply, 'q', 'give q or last_four')
    try {
      const hits = await search(data, { ...(q === undefined ? {} : { token: q }), ...(lastFour === undefined ? {} : { lastFour }), ...(from === undefined ? {} : { from: new Date(from) }), ...(to === undefined ? {} : { to: new Date(to) }) })
      return { hits: hits.map(h => ({ ...h, ...(h.occurred_at === undefined ? {} : { occurred_at: h.occurred_at.toISOString() }) })) }
    } catch (err) {
      if (err instanceof SearchInputError) return await badRequest(reply, err.field, err.message)
      throw err
    }
  })

  app.get('/v1/cards/:token/decisions', {
    schema: {
      params: Type.Object({ token: Token }),
      querystring: Type.Object({ before: Before, limit: Limit }, { additionalProperties: false }),
      response: responses(Type.Object({ card_token: Type.String(), decisions: Type.Array(Decision), next_before: NullableTime }))
    }
  }, async (request, reply) => {
    const limit = limitOf(request.query.limit)
    if (limit === null) return await badRequest(reply, 'limit', 'limit must be between 1 and 100')
    const before = request.query.before === undefined ? undefined : new Date(request.query.before)
    const decisions = await decisionsOf(data, { cardToken: request.params.token }, { ...(before === undefined ? {} : { before }), limit })
    if (decisions.length === 0 && before === undefined) {
      const [card] = await opts.db.sql`select 1 from cards where card_token = ${request.params.token}`
      if (card === undefined) return await reply.code(404).send({ error: 'NOT_FOUND', message: `no card with token ${request.params.token}` })
    }
    const last = decisions[decisions.length - 1]
    return { card_token: request.params.token, decisions: decisions.map(decisionBody), next_before: decisions.length === limit && last !== undefined ? last.created_at.toISOString() : null }
  })

  app.get('/v1/timeline', {
    schema: {
      querystring: Type.Object({ card_token: Type.Optional(Token), user_token: Type.Optional(Token), account_token: Type.Optional(Token), before: Before, limit: Limit }, { additionalProperties: false }),
      response: responses(Type.Object({ account_token: NStr, currency: NStr, items: Type.Array(TimelineEntry), next_before: NullableTime }))
    }
  }, async (request, reply) => {
    const { card_token: card, user_token: user, account_token: account } = request.query
    const given = [card, user, account].filter(v => v !== undefined).length
    if (given !== 1) return await badRequest(reply, 'card_token', 'give exactly one of card_token, user_token, account_token')
    const limit = limitOf(request.query.limit)
    if (limit === null) return await badRequest(reply, 'limit', 'limit must be between 1 and 100')
    const owner: TimelineOwner = card !== undefined ? { cardToken: card } : user !== undefined ? { userToken: user } : { accountToken: account as string }
    const before = request.query.before === undefined ? undefined : new Date(request.query.before)
    const t = await timelineOf(data, owner, { ...(before === undefined ? {} : { before }), limit })
    if (t === null) return await reply.code(404).send({ error: 'NOT_FOUND', message: 'no such card, user or account (or it has no funding account)' })
    return {
      account_token: t.account_token,
      currency: t.currency,
      items: t.items.map(i => ({
        ...i,
        at: i.at.toISOString(),
        amount: money(i.amount_minor, i.currency),
        ...(i.decision === undefined ? {} : { decision: decisionBody(i.decision) })
      })),
      next_before: t.next_before === null ? null : t.next_before.toISOString()
    }
  })

  app.get('/v1/accounts/:token/holds', {
    schema: {
      params: Type.Object({ token: Token }),
      querystring: Type.Object({ state: Type.Optional(Type.Union([Type.Literal('OPEN'), Type.Literal('CLOSED'), Type.Literal('EXPIRED')])), before: Before, limit: Limit }, { additionalProperties: false }),
      response: responses(Type.Object({ account_token: Type.String(), holds: Type.Array(HoldRow), next_before: NullableTime }))
    }
  }, async (request, reply) => {
    const limit = limitOf(request.query.limit)
    if (limit === null) return await badRequest(reply, 'limit', 'limit must be between 1 and 100')
    const { token } = request.params
    const [account] = await opts.db.sql`select 1 from accounts where account_token = ${token}`
    if (account === undefined) return await reply.code(404).send({ error: 'NOT_FOUND', message: `no account with token ${token}` })
    const before = request.query.before === undefined ? undefined : new Date(request.query.before)
    const holds = await holdsOf(data, token, { ...(request.query.state === undefined ? {} : { state: request.query.state }), ...(before === undefined ? {} : { before }), limit })
    const now = Date.now()
    const last = holds[holds.length - 1]
    return {
      account_token: token,
      holds: holds.map(h => ({
        ...holdSummaryBody(h),
        age_seconds: Math.max(0, Math.floor((now - h.opened_at.getTime()) / 1000))
      })),
      next_before: holds.length === limit && last !== undefined ? last.opened_at.toISOString() : null
    }
  })

  app.get('/v1/operator-actions', {
    schema: {
      querystring: Type.Object({ before_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'Only actions with a smaller id: the previous page\'s `next_before_id`' })), limit: Limit }, { additionalProperties: false }),
      response: responses(Type.Object({ actions: Type.Array(Action), next_before_id: NInt }), false)
    }
  }, async (request, reply) => {
    const limit = limitOf(request.query.limit)
    if (limit === null) return await badRequest(reply, 'limit', 'limit must be between 1 and 100')
    const actions = await listActions(opts.db, { ...(request.query.before_id === undefined ? {} : { beforeId: Number(request.query.before_id) }), limit })
    const last = actions[actions.length - 1]
    return {
      actions: actions.map(a => ({ ...a, requested_at: a.requested_at.toISOString(), finished_at: a.finished_at === null ? null : a.finished_at.toISOString() })),
      next_before_id: actions.length === limit && last !== undefined ? last.id : null
    }
  })
}
