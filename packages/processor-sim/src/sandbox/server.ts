import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { parseAmount } from '@jit/contracts'
import { createBasicAuthVerifier } from '@jit/http-auth'
import { createProcessor, type Credentials, type JitOutcome, type Processor, type ProcessorOptions } from '../processor.js'
import { purchasesOf, transactionEvent, type SimCard, type SimPurchase } from '../messages.js'
import { createRandom, transactionFields, type SimTransactionFields } from '../random.js'
import { SandboxState, newToken, type FundingSource, type WebhookEndpoint } from './state.js'

/**
 * A local stand-in for the processor's sandbox, the way LocalStack stands in for a cloud: the
 * simulation endpoints (`/simulate/*`, and the newer `/simulations/cardtransactions/*`) drive the
 * program's gateway as the real sandbox does (the JIT funding request, then the webhooks), and
 * the Core API calls a program makes (funding source, webhook endpoint, transactions, re-send)
 * behave as documented in the swagger, so a program's sandbox scripts and its Core API client run
 * against a laptop. State lives in memory.
 */

export interface SandboxOptions {
  /** Where JIT requests and webhooks go until the program registers its own funding source and webhook endpoint. */
  processor: ProcessorOptions
  /** Cards the sandbox knows (a real sandbox knows the cards created in it). */
  cards?: SimCard[]
  /** Core API credentials (application token : access token); absent: any Basic credentials. */
  coreCredentials?: Credentials
  /** Seed of the merchant fields. @default 1 */
  seed?: number
}

const Money = Type.Number({ minimum: 0, description: 'Decimal amount in major units' })
const TokenField = Type.String({ minLength: 1, maxLength: 36 })
const CardAcceptor = Type.Object({
  mcc: Type.Optional(Type.String({ maxLength: 5 })),
  name: Type.Optional(Type.String({ maxLength: 50 })),
  city: Type.Optional(Type.String({ maxLength: 40 })),
  state: Type.Optional(Type.String()),
  zip: Type.Optional(Type.String({ maxLength: 10 })),
  country: Type.Optional(Type.String())
})
const AuthRequest = Type.Object({ card_token: TokenField, amount: Money, mid: Type.Optional(Type.String({ maxLength: 50 })), card_acceptor: Type.Optional(CardAcceptor), is_pre_auth: Type.Optional(Type.Boolean()) })
const FollowUp = Type.Object({ original_transaction_token: TokenField, amount: Money, is_refund: Type.Optional(Type.Boolean()), mid: Type.Optional(Type.String()) })
const V2FollowUp = Type.Object({ preceding_related_transaction_token: TokenField, amount: Type.Optional(Money), is_final_clearing: Type.Optional(Type.Boolean()) })
const BalanceInquiry = Type.Object({ card_token: TokenField, account_type: Type.Optional(Type.String()), mid: Type.Optional(Type.String()), card_acceptor: Type.Optional(CardAcceptor) })
const SimulationResponse = Type.Object({ transaction: Type.Record(Type.String(), Type.Unknown()) })
const ErrorBody = Type.Object({ error_code: Type.String(), error_message: Type.String() })
const FundingSourceRequest = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 50 }),
  url: Type.String({ minLength: 1, maxLength: 250, pattern: '^https?://' }),
  token: Type.Optional(TokenField),
  active: Type.Optional(Type.Boolean()),
  basic_auth_username: Type.String({ minLength: 1, maxLength: 50 }),
  basic_auth_password: Type.String({ minLength: 20, maxLength: 100 }),
  timeout_millis: Type.Optional(Type.Integer({ minimum: 1000, maximum: 7000 })),
  custom_header: Type.Optional(Type.Record(Type.String(), Type.String())),
  use_mtls: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
const FundingSourceResponse = Type.Object({
  token: Type.String(),
  name: Type.String(),
  url: Type.String(),
  active: Type.Boolean(),
  account: Type.String(),
  version: Type.String(),
  basic_auth_username: Type.String(),
  basic_auth_password: Type.String(),
  timeout_millis: Type.Integer(),
  use_mtls: Type.Boolean(),
  custom_header: Type.Record(Type.String(), Type.String()),
  created_time: Type.String(),
  last_modified_time: Type.String()
})
const WebhookConfig = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 255, pattern: '^https?://' }),
  secret: Type.Optional(Type.String({ maxLength: 50 })),
  basic_auth_username: Type.String({ minLength: 1, maxLength: 50 }),
  basic_auth_password: Type.String({ minLength: 1, maxLength: 50 }),
  custom_header: Type.Optional(Type.Record(Type.String(), Type.String())),
  use_mtls: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
const WebhookRequest = Type.Object({
  token: Type.Optional(TokenField),
  name: Type.String({ minLength: 1, maxLength: 64 }),
  active: Type.Optional(Type.Boolean()),
  config: WebhookConfig,
  events: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })
}, { additionalProperties: false })
const WebhookResponse = Type.Object({
  token: Type.String(),
  name: Type.String(),
  active: Type.Boolean(),
  events: Type.Array(Type.String()),
  config: Type.Object({ url: Type.String(), secret: Type.Optional(Type.String()), basic_auth_username: Type.String(), basic_auth_password: Type.String() }),
  created_time: Type.String(),
  last_modified_time: Type.String()
})
const TransactionQuery = Type.Object({
  count: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
  start_index: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
  start_date: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}' })),
  end_date: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}' })),
  card_token: Type.Optional(Type.String()),
  user_token: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  sort_by: Type.Optional(Type.String()),
  fields: Type.Optional(Type.String()),
  verbose: Type.Optional(Type.String())
})
const TransactionList = Type.Object({
  count: Type.Integer(),
  start_index: Type.Integer(),
  end_index: Type.Integer(),
  is_more: Type.Boolean(),
  data: Type.Array(Type.Record(Type.String(), Type.Unknown()))
})
const FaultRequest = Type.Object({ status: Type.Integer({ minimum: 400, maximum: 599 }), times: Type.Integer({ minimum: 1, maximum: 100 }), path: Type.Optional(Type.String()), delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000 })) }, { additionalProperties: false })

const MAX_PAGE = 100

/** The handler of a `GET .../:token`: the entry of `store` (seen through `view`), or a 404 naming `what`. */
function byToken<T, V = T> (store: ReadonlyMap<string, T>, what: string, view: (entry: T) => V = entry => entry as unknown as V) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<V | FastifyReply> => {
    const entry = store.get((req.params as { token: string }).token)
    if (entry === undefined) return await reply.code(404).send(error(404, `${what} not found`))
    return view(entry)
  }
}

function error (code: number, message: string): { error_code: string, error_message: string } {
  return { error_code: String(code), error_message: message }
}

/** The sandbox as a Fastify app (never listens; see {@link startSandbox}). */
export function buildSandboxApp (options: SandboxOptions): { app: FastifyInstance, state: SandboxState, settled: () => Promise<void> } {
  const state = new SandboxState()
  state.addCards(options.cards ?? [])
  const random = createRandom(options.seed ?? 1)
  const base = options.processor
  const inFlight = new Set<Promise<unknown>>()
  const verifyCore = options.coreCredentials === undefined ? null : createBasicAuthVerifier([options.coreCredentials])

  // The program's own registrations, once made, decide where the traffic goes, as in the sandbox.
  function processor (): Processor {
    const fs = state.activeFundingSource()
    const hook = state.webhookFor('transactions')
    return createProcessor({
      ...base,
      ...(fs === undefined ? {} : { jitUrl: fs.url, jitCredentials: { username: fs.basic_auth_username, password: fs.basic_auth_password }, deadlineMs: fs.timeout_millis }),
      ...(hook === undefined ? {} : { webhookUrl: hook.config.url, webhookCredentials: { username: hook.config.basic_auth_username, password: hook.config.basic_auth_password }, webhookSecret: hook.config.secret ?? null })
    })
  }

  /** Records the events and sends them as webhooks in the background, as the processor does. */
  function emit (proc: Processor, card: SimCard, purchase: SimPurchase, events: Array<Record<string, unknown>>): void {
    for (const event of events) state.record({ event, card, purchase, createdAt: new Date() })
    const delivery = proc.deliverWebhooks('transactions', events).finally(() => { inFlight.delete(delivery) })
    inFlight.add(delivery)
  }

  function fieldsFrom (body: { mid?: string | undefined, card_acceptor?: Static<typeof CardAcceptor> | undefined }): SimTransactionFields {
    const f = transactionFields(random)
    const ca = body.card_acceptor
    return {
      ...f,
      card_acceptor: {
        ...f.card_acceptor,
        ...(body.mid === undefined ? {} : { mid: body.mid }),
        ...(ca?.mcc === undefined ? {} : { mcc: ca.mcc }),
        ...(ca?.name === undefined ? {} : { name: ca.name }),
        ...(ca?.city === undefined ? {} : { city: ca.city }),
        ...(ca?.state === undefined ? {} : { state: ca.state }),
        ...(ca?.zip === undefined ? {} : { postal_code: ca.zip })
      }
    }
  }

  function declinedEvent (card: SimCard, type: string, p: SimPurchase, method: string, outcome: JitOutcome, extra: { preceding?: string, original?: string } = {}): Record<string, unknown> {
    const event = transactionEvent(card, {
      type,
      state: 'DECLINED',
      token: p.txToken,
      amount: p.amount,
      timedOut: outcome.timedOut,
      ...(p.fields === undefined ? {} : { fields: p.fields }),
      ...(extra.preceding === undefined ? {} : { preceding: extra.preceding }),
      jit: { token: p.jitToken, method, ...(extra.original === undefined ? {} : { original: extra.original }) }
    })
    if (!outcome.timedOut && outcome.declineReason !== null) event.response = { code: '1016', memo: outcome.declineReason }
    return event
  }

  const app = Fastify({ logger: false, ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } })

  app.setErrorHandler(async (err: { statusCode?: number, message: string }, _request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    await reply.code(status).send(error(status, err.message))
  })

  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/_sim/')) return
    const fault = state.takeFault(request.url)
    if (fault !== undefined) {
      if (fault.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, fault.delayMs))
      await reply.code(fault.status).send(error(fault.status, 'injected failure'))
      return
    }
    const header = request.headers.authorization
    const ok = verifyCore === null ? typeof header === 'string' && header.startsWith('Basic ') : verifyCore(header)
    if (!ok) await reply.code(401).send(error(401, 'Basic credentials (application token and access token) required'))
  })

  function amountOf (value: number): number {
    try {
      return parseAmount(value, 'USD')
    } catch (err) {
      throw Object.assign(new Error(`amount: ${(err as Error).message}`), { statusCode: 400 })
    }
  }

  function cardOf (token: string): SimCard {
    const card = state.cards.get(token)
    if (card === undefined) throw Object.assign(new Error(`card not found: ${token}`), { statusCode: 404 })
    return card
  }

  function originalOf (token: string): { card: SimCard, purchase: SimPurchase } {
    const t = state.transactions.get(token)
    if (t === undefined) throw Object.assign(new Error(`transaction not found: ${token}`), { statusCode: 404 })
    return { card: t.card, purchase: t.purchase }
  }

  const responses = { 201: SimulationResponse, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody }

  async function authorize (body: Static<typeof AuthRequest>, method: 'pgfs.authorization' | 'pgfs.pindebit'): Promise<Record<string, unknown>> {
    const card = cardOf(body.card_token)
    const proc = processor()
    const sim = purchasesOf(card)
    const p = sim.purchase(amountOf(body.amount), fieldsFrom(body))
    const outcome = await proc.requestFunding(sim.request(p, method))
    const event = outcome.approved
      ? (method === 'pgfs.pindebit' ? sim.pinDebit(p) : sim.pending(p))
      : declinedEvent(card, method === 'pgfs.pindebit' ? 'pindebit' : 'authorization', p, method, outcome)
    emit(proc, card, p, [event])
    return event
  }

  function followUp (token: string, build: (sim: ReturnType<typeof purchasesOf>, p: SimPurchase) => Record<string, unknown>): Record<string, unknown> {
    const { card, purchase } = originalOf(token)
    const event = build(purchasesOf(card), purchase)
    emit(processor(), card, purchase, [event])
    return event
  }

  async function incremental (body: Static<typeof V2FollowUp>): Promise<Record<string, unknown>> {
    const { card, purchase } = originalOf(body.preceding_related_transaction_token)
    if (body.amount === undefined) throw Object.assign(new Error('amount is required'), { statusCode: 400 })
    const proc = processor()
    const sim = purchasesOf(card)
    const inc = sim.purchase(amountOf(body.amount), purchase.fields)
    const outcome = await proc.requestFunding(sim.request(inc, 'pgfs.authorization.incremental', purchase.jitToken))
    const event = outcome.approved
      ? sim.incrementalPending(purchase, inc)
      : declinedEvent(card, 'authorization.incremental', inc, 'pgfs.authorization.incremental', outcome, { preceding: purchase.txToken, original: purchase.jitToken })
    emit(proc, card, inc, [event])
    return event
  }

  async function balanceInquiry (body: Static<typeof BalanceInquiry>): Promise<Record<string, unknown>> {
    const card = cardOf(body.card_token)
    const sim = purchasesOf(card)
    const p = sim.purchase(0, fieldsFrom(body))
    const outcome = await processor().requestFunding(sim.request(p, 'pgfs.balanceinquiry'))
    const balances = (outcome.body as { jit_funding?: { balances?: Record<string, Record<string, unknown>> } } | null)?.jit_funding?.balances
    const event = transactionEvent(card, { type: 'pindebit.balanceinquiry', state: outcome.approved ? 'COMPLETION' : 'DECLINED', token: p.txToken, amount: 0, ...(p.fields === undefined ? {} : { fields: p.fields }) })
    if (balances?.USD !== undefined) event.gpa = { currency_code: 'USD', ...balances.USD }
    state.record({ event, card, purchase: p, createdAt: new Date() })
    return event
  }

  // --- the legacy simulation endpoints (swagger: /simulate/*) ---------------------------------
  app.post('/simulate/authorization', { schema: { body: AuthRequest, response: responses } }, async (req, reply) => {
    return await reply.code(201).send({ transaction: await authorize(req.body as Static<typeof AuthRequest>, 'pgfs.authorization') })
  })
  app.post('/simulate/financial', { schema: { body: AuthRequest, response: responses } }, async (req, reply) => {
    return await reply.code(201).send({ transaction: await authorize(req.body as Static<typeof AuthRequest>, 'pgfs.pindebit') })
  })
  app.post('/simulate/financial/balanceinquiry', { schema: { body: BalanceInquiry, response: responses } }, async (req, reply) => {
    return await reply.code(201).send({ transaction: await balanceInquiry(req.body as Static<typeof BalanceInquiry>) })
  })
  app.post('/simulate/clearing', { schema: { body: FollowUp, response: responses } }, async (req, reply) => {
    const body = req.body as Static<typeof FollowUp>
    const amount = amountOf(body.amount)
    // the legacy clearing settles the purchase: final; is_refund clears a refund instead
    const event = followUp(body.original_transaction_token, (sim, p) => body.is_refund === true ? sim.refund(p, amount) : sim.clearing(p, amount, true))
    return await reply.code(201).send({ transaction: event })
  })
  app.post('/simulate/reversal', { schema: { body: FollowUp, response: responses } }, async (req, reply) => {
    const body = req.body as Static<typeof FollowUp>
    const amount = amountOf(body.amount)
    return await reply.code(201).send({ transaction: followUp(body.original_transaction_token, (sim, p) => sim.reversal(p, amount)) })
  })
  app.post('/simulate/authorization/advice', { schema: { body: FollowUp, response: responses } }, async (req, reply) => {
    const body = req.body as Static<typeof FollowUp>
    const amount = amountOf(body.amount)
    return await reply.code(201).send({ transaction: followUp(body.original_transaction_token, (sim, p) => sim.advice(p, amount)) })
  })

  // --- the newer simulation endpoints (/simulations/cardtransactions/*) ------------------------
  const V2Auth = Type.Object({ card_token: TokenField, amount: Money, mid: Type.Optional(Type.String({ maxLength: 50 })), card_acceptor: Type.Optional(CardAcceptor) })
  app.post('/simulations/cardtransactions/authorization', { schema: { body: V2Auth, response: responses } }, async (req, reply) => {
    return await reply.code(201).send({ transaction: await authorize(req.body as Static<typeof AuthRequest>, 'pgfs.authorization') })
  })
  app.post('/simulations/cardtransactions/authorization.incremental', { schema: { body: V2FollowUp, response: responses } }, async (req, reply) => {
    return await reply.code(201).send({ transaction: await incremental(req.body as Static<typeof V2FollowUp>) })
  })
  for (const kind of ['clearing', 'reversal', 'advice'] as const) {
    app.post(`/simulations/cardtransactions/authorization.${kind}`, { schema: { body: V2FollowUp, response: responses } }, async (req, reply) => {
      const body = req.body as Static<typeof V2FollowUp>
      const token = body.preceding_related_transaction_token
      const event = followUp(token, (sim, p) => {
        const amount = body.amount === undefined ? (kind === 'reversal' ? null : p.amount) : amountOf(body.amount)
        if (kind === 'clearing') return sim.clearing(p, amount ?? p.amount, body.is_final_clearing ?? true)
        if (kind === 'reversal') return sim.reversal(p, amount)
        return sim.advice(p, amount ?? p.amount)
      })
      return await reply.code(201).send({ transaction: event })
    })
  }

  // --- Core API: the program gateway funding source --------------------------------------------
  const fsResponses = { 200: FundingSourceResponse, 201: FundingSourceResponse, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody }
  app.post('/fundingsources/programgateway', { schema: { body: FundingSourceRequest, response: fsResponses } }, async (req, reply) => {
    const body = req.body as Static<typeof FundingSourceRequest>
    const token = body.token ?? newToken()
    if (state.fundingSources.has(token)) return await reply.code(409).send(error(409, `funding source ${token} already exists`))
    const p = body.basic_auth_password
    if (!(/[a-z]/.test(p) && /[A-Z]/.test(p) && /[0-9]/.test(p) && /[^a-zA-Z0-9]/.test(p))) {
      return await reply.code(400).send(error(400, 'basic_auth_password must mix upper- and lowercase letters, digits and symbols'))
    }
    const now = new Date().toISOString()
    const source: FundingSource = {
      token,
      name: body.name,
      url: body.url,
      basic_auth_username: body.basic_auth_username,
      basic_auth_password: p,
      timeout_millis: body.timeout_millis ?? 3000,
      active: body.active ?? true,
      use_mtls: body.use_mtls ?? false,
      custom_header: body.custom_header ?? {},
      account: `12.003.001.${String(state.fundingSources.size + 1).padStart(6, '0')}`,
      version: '2',
      created_time: now,
      last_modified_time: now
    }
    state.fundingSources.set(token, source)
    return await reply.code(201).send(source)
  })
  app.get('/fundingsources/programgateway/:token', { schema: { params: Type.Object({ token: Type.String() }), response: fsResponses } }, byToken(state.fundingSources, 'funding source'))

  // --- Core API: webhook endpoints ---------------------------------------------------------------
  const whResponses = { 200: WebhookResponse, 201: WebhookResponse, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody }
  app.post('/webhooks', { schema: { body: WebhookRequest, response: whResponses } }, async (req, reply) => {
    const body = req.body as Static<typeof WebhookRequest>
    const token = body.token ?? newToken()
    if (state.webhooks.has(token)) return await reply.code(409).send(error(409, `webhook ${token} already exists`))
    const now = new Date().toISOString()
    const endpoint: WebhookEndpoint = { token, name: body.name, active: body.active ?? true, events: body.events, config: body.config, created_time: now, last_modified_time: now }
    state.webhooks.set(token, endpoint)
    return await reply.code(201).send(endpoint)
  })
  app.get('/webhooks/:token', { schema: { params: Type.Object({ token: Type.String() }), response: whResponses } }, byToken(state.webhooks, 'webhook'))
  app.post('/webhooks/:token/:event_type/:event_token', {
    schema: {
      params: Type.Object({ token: Type.String(), event_type: Type.String(), event_token: Type.String() }),
      response: { 200: Type.Object({ delivered: Type.Boolean(), attempts: Type.Integer() }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody }
    }
  }, async (req, reply) => {
    const params = req.params as { token: string, event_type: string, event_token: string }
    const endpoint = state.webhooks.get(params.token)
    if (endpoint === undefined) return await reply.code(404).send(error(404, 'webhook not found'))
    if (params.event_type !== 'transaction' && params.event_type !== 'transactions') return await reply.code(400).send(error(400, `event_type ${params.event_type} not supported by the simulator (transaction only)`))
    const t = state.transactions.get(params.event_token)
    if (t === undefined) return await reply.code(404).send(error(404, `event not found: ${params.event_token}`))
    const proc = createProcessor({ ...base, webhookUrl: endpoint.config.url, webhookCredentials: { username: endpoint.config.basic_auth_username, password: endpoint.config.basic_auth_password }, webhookSecret: endpoint.config.secret ?? null, retryDelaysMs: [] })
    const [delivery] = await proc.deliverWebhooks('transactions', [t.event])
    return { delivered: delivery?.delivered ?? false, attempts: delivery?.attempts ?? 0 }
  })

  // --- Core API: transactions --------------------------------------------------------------------
  app.get('/transactions', { schema: { querystring: TransactionQuery, response: { 200: TransactionList, 400: ErrorBody, 401: ErrorBody } } }, async (req, reply) => {
    const q = req.query as Static<typeof TransactionQuery>
    const count = q.count === undefined ? 5 : Number(q.count)
    if (count < 1 || count > MAX_PAGE) return await reply.code(400).send(error(400, `count must be between 1 and ${MAX_PAGE}`))
    const start = q.start_date === undefined ? -Infinity : Date.parse(q.start_date)
    // a bare end date includes that whole day
    const end = q.end_date === undefined ? Infinity : Date.parse(q.end_date) + (q.end_date.length === 10 ? 86_400_000 : 0)
    if (Number.isNaN(start) || Number.isNaN(end)) return await reply.code(400).send(error(400, 'start_date and end_date must be dates (YYYY-MM-DD or ISO 8601)'))
    const all = state.order.map(t => state.transactions.get(t)).filter(t => t !== undefined).filter(t => {
      const at = t.createdAt.getTime()
      return at >= start && at < end &&
        (q.card_token === undefined || t.card.card === q.card_token) &&
        (q.user_token === undefined || t.card.user === q.user_token) &&
        (q.type === undefined || q.type.split(',').includes(String(t.event.type))) &&
        (q.state === undefined || q.state.split(',').includes(String(t.event.state)))
    })
    const from = q.start_index === undefined ? 0 : Number(q.start_index)
    const data = all.slice(from, from + count).map(t => t.event)
    return { count: data.length, start_index: from, end_index: from + Math.max(0, data.length - 1), is_more: from + data.length < all.length, data }
  })
  app.get('/transactions/:token', { schema: { params: Type.Object({ token: Type.String() }), response: { 200: Type.Record(Type.String(), Type.Unknown()), 401: ErrorBody, 404: ErrorBody } } }, byToken(state.transactions, 'transaction', t => t.event))

  // --- the simulator's own controls (not part of the processor's API) ---------------------------
  app.post('/_sim/faults', { schema: { body: FaultRequest, response: { 204: Type.Null(), 400: ErrorBody } } }, async (req, reply) => {
    const body = req.body as Static<typeof FaultRequest>
    state.faults.push({ status: body.status, remaining: body.times, ...(body.path === undefined ? {} : { path: body.path }), ...(body.delay_ms === undefined ? {} : { delayMs: body.delay_ms }) })
    return await reply.code(204).send()
  })
  app.post('/_sim/cards', { schema: { body: Type.Object({ cards: Type.Array(Type.Object({ user: TokenField, card: TokenField })) }), response: { 204: Type.Null(), 400: ErrorBody } } }, async (req, reply) => {
    state.addCards((req.body as { cards: SimCard[] }).cards)
    return await reply.code(204).send()
  })

  return {
    app,
    state,
    async settled () {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    }
  }
}

/** A listening sandbox. */
export interface RunningSandbox {
  url: string
  state: SandboxState
  /** Resolves once every webhook the sandbox has sent so far is delivered (or given up). */
  settled: () => Promise<void>
  close: () => Promise<void>
}

export async function startSandbox (options: SandboxOptions & { host?: string, port?: number }): Promise<RunningSandbox> {
  const { app, state, settled } = buildSandboxApp(options)
  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
  return {
    url: address.replace('[::1]', '127.0.0.1'),
    state,
    settled,
    async close () {
      await settled()
      await app.close()
    }
  }
}
