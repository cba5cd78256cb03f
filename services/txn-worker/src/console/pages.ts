import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Amqp, Publisher } from '@jit/amqp'
import { maskCardNumbers, type DocumentArchive } from '@jit/archive'
import type { HealthReport } from '@jit/connections'
import { getHold, type HoldSummary } from '@jit/ledger'
import type { Database } from '@jit/postgres'
import { deadQueueOf, listDeadLetters } from '../ops/dead-letters.js'
import { listActions, loadAction, redriveAsOperator, releaseHoldAsOperator, type OperatorAction } from './actions.js'
import {
  decisionsOf, holdsOf, moneyText, search, SearchInputError, timelineOf,
  type DecisionDetail, type SearchHit, type TimelineItem, type TimelineOwner
} from './data.js'
import { decisionsChart, readHealth } from './health.js'
import { age, BASE, csrfField, href, html, notice, page, searchForm, when, type Html, type PageContext } from './html.js'
import type { OperatorDirectory } from './operators.js'

/** What the pages need. */
export interface ConsolePagesOptions {
  db: Database
  archive?: DocumentArchive | undefined
  amqp?: Amqp | undefined
  publisher?: Publisher | undefined
  health?: (() => Promise<HealthReport>) | undefined
  prometheusUrl?: string | undefined
  prometheusTimeoutMs?: number | undefined
  operators: OperatorDirectory
  requireOperator: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  loginAttemptsPerMinute: number
}

/** The signed-in operator of a request, or null. */
export function operatorOf (request: FastifyRequest): string | null {
  return request.session?.operator ?? null
}

const PAGE = 25
const Token = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$' })
const Before = Type.Optional(Type.String({ maxLength: 40 }))
const hidden = { hide: true }

function parseBefore (value: string | undefined): Date | undefined | 'invalid' {
  if (value === undefined || value === '') return undefined
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? 'invalid' : d
}

/** `datetime-local` values are read as UTC (the console shows UTC everywhere). */
function parseLocalUtc (value: string | undefined): Date | undefined | 'invalid' {
  if (value === undefined || value === '') return undefined
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`)
  return Number.isNaN(d.getTime()) ? 'invalid' : d
}

/** A dead letter's body for display: raw broker messages may carry card numbers, never shown unmasked. */
function maskedBody (body: unknown): string {
  if (typeof body !== 'string') return JSON.stringify(maskCardNumbers(body), null, 2)
  try {
    return JSON.stringify(maskCardNumbers(JSON.parse(body) as unknown), null, 2)
  } catch {
    return maskCardNumbers(body)
  }
}

function outcomeBadge (outcome: string): Html {
  return html`<span class="badge ${outcome}">${outcome}</span>`
}

function tokenLink (kind: 'card' | 'user' | 'account' | 'hold' | 'decision', token: string | null): Html {
  if (token === null) return html`–`
  const to = kind === 'card'
    ? href(`/cards/${encodeURIComponent(token)}`)
    : kind === 'hold' || kind === 'decision'
      ? href(`/holds/${encodeURIComponent(token)}`)
      : href('/timeline', { [kind]: token })
  return html`<a class="mono" href="${to}">${token}</a>`
}

function decisionsTable (decisions: DecisionDetail[], caption: string): Html {
  if (decisions.length === 0) return notice('info', 'No decisions recorded.')
  return html`<div class="table"><table class="stack"><caption>${caption}</caption>
<thead><tr><th scope="col">When</th><th scope="col">Outcome</th><th scope="col">Decline reason</th><th scope="col">Memo</th><th scope="col">Amount</th><th scope="col">Merchant</th><th scope="col">MCC</th><th scope="col">Method</th><th scope="col">Purchase (hold)</th><th scope="col">Stage timings</th></tr></thead>
<tbody>${decisions.map(d => html`<tr data-jit="${d.jit_token}">
<td data-label="When">${when(d.created_at)}</td><td data-label="Outcome">${outcomeBadge(d.outcome)}</td>
<td data-label="Reason">${d.decline_reason === null ? html`–` : html`<strong>${d.decline_reason}</strong>`}${d.reason_detail === null ? '' : html`<br><span class="muted">${d.reason_detail}</span>`}</td>
<td data-label="Memo">${d.memo ?? '–'}</td><td class="num" data-label="Amount">${moneyText(d.amount, d.currency)}</td>
<td data-label="Merchant">${d.merchant ?? '–'}</td><td data-label="MCC">${d.mcc ?? '–'}</td><td class="mono" data-label="Method">${d.method}</td>
<td data-label="Hold">${tokenLink('hold', d.original_jit_token ?? d.jit_token)}</td>
<td data-label="Stages">${d.stages_ms === null ? html`<span class="muted">not recorded</span>` : Object.entries(d.stages_ms).map(([k, v]) => html`${k} ${v.toFixed(1)} ms<br>`)}</td>
</tr>`)}</tbody></table></div>`
}

function holdsTable (holds: HoldSummary[], now: Date): Html {
  if (holds.length === 0) return notice('info', 'No holds.')
  return html`<div class="table"><table><caption>Holds, newest first</caption>
<thead><tr><th scope="col">Hold (JIT token)</th><th scope="col">State</th><th scope="col">Age</th><th scope="col">Authorized</th><th scope="col">Captured</th><th scope="col">Released</th><th scope="col">Remaining</th><th scope="col">Card</th><th scope="col">MCC</th><th scope="col">Last activity</th></tr></thead>
<tbody>${holds.map(h => html`<tr><td>${tokenLink('hold', h.hold_token)}${h.forced ? html` <span class="badge">forced</span>` : ''}</td>
<td><span class="badge">${h.state}</span></td><td>${age(h.opened_at, now)}</td>
<td class="num">${moneyText(h.authorized, h.currency)}</td><td class="num">${moneyText(h.captured, h.currency)}</td>
<td class="num">${moneyText(h.released, h.currency)}</td><td class="num">${moneyText(h.remaining, h.currency)}</td>
<td>${tokenLink('card', h.card_token)}</td><td>${h.mcc ?? '–'}</td><td>${when(h.last_activity_at)}</td></tr>`)}</tbody></table></div>`
}

function timelineRow (item: TimelineItem): Html {
  const money = item.balance_after_minor === undefined
    ? html`<td class="num" data-label="Balance after">–</td><td class="num" data-label="Available after">–</td>`
    : html`<td class="num" data-label="Balance after">${moneyText(item.balance_after_minor, item.currency)}</td><td class="num" data-label="Available after">${moneyText(item.available_after_minor, item.currency)}</td>`
  let what: Html
  if (item.type === 'decision' && item.decision !== undefined) {
    const d = item.decision
    what = html`${outcomeBadge(d.outcome)} ${d.decline_reason === null ? '' : html`<strong>${d.decline_reason}</strong>`}
${d.memo === null ? '' : html`<br>${d.memo}`}<br><span class="muted">${d.merchant ?? 'merchant unknown'} · MCC ${d.mcc ?? '–'} · ${d.method}</span>
${d.stages_ms === null ? '' : html`<br><span class="muted">stages: ${Object.entries(d.stages_ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')}</span>`}`
  } else if (item.type === 'webhook' && item.webhook !== undefined) {
    const w = item.webhook
    what = html`webhook <strong>${w.type ?? w.family ?? ''}</strong> ${w.state ?? ''}${w.merchant === null ? '' : html`<br><span class="muted">${w.merchant} · MCC ${w.mcc ?? '–'}</span>`}`
  } else if (item.type === 'hold') {
    what = html`hold <strong>${item.what}</strong>`
  } else {
    what = html`journal <strong>${item.what}</strong>${item.effect_key === null || item.effect_key === undefined ? '' : html` <span class="muted mono">${item.effect_key}</span>`}`
  }
  return html`<tr class="tl-${item.type}"><td data-label="When">${when(item.at)}</td><td data-label="Source">${item.type}</td><td data-label="What">${what}</td>
<td class="num" data-label="Amount">${item.amount_minor === null ? '–' : moneyText(item.amount_minor, item.currency)}</td>
<td data-label="Hold">${item.hold_token === null ? '–' : tokenLink('hold', item.hold_token)}</td>${money}</tr>`
}

function actionRow (a: OperatorAction): Html {
  return html`<tr><td><a href="${href(`/actions/${a.id}`)}">#${a.id}</a></td><td>${when(a.requested_at)}</td><td>${a.operator}</td><td class="mono">${a.action}</td><td class="mono">${a.target}</td><td><span class="badge ${a.outcome}">${a.outcome}</span></td></tr>`
}

function describeHit (h: SearchHit): Html {
  const target = h.kind === 'card'
    ? href(`/cards/${encodeURIComponent(h.token)}`)
    : h.kind === 'user' || h.kind === 'account'
      ? href('/timeline', { [h.kind]: h.token })
      : href(`/holds/${encodeURIComponent(h.hold_token ?? h.token)}`)
  return html`<li><a href="${target}"><strong>${h.kind}</strong> <span class="mono">${h.token}</span></a>
${h.card_token !== null && h.kind !== 'card' ? html` · card ${tokenLink('card', h.card_token)}` : ''}
${h.user_token !== null && h.kind !== 'user' ? html` · user ${tokenLink('user', h.user_token)}` : ''}
${h.last_four === undefined ? '' : html` · ending ${h.last_four}, seen ${when(h.occurred_at)}`}</li>`
}

/** The console's pages (mounted under `/console` by {@link consolePlugin}). */
export const consolePages: FastifyPluginAsync<ConsolePagesOptions> = async (parent, opts) => {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { db } = opts
  const data = { db, archive: opts.archive }
  const actionDeps = opts.amqp !== undefined && opts.publisher !== undefined ? { db, amqp: opts.amqp, publisher: opts.publisher } : null

  const ctx = async (request: FastifyRequest, reply: FastifyReply, section: PageContext['section'] = null): Promise<PageContext> => {
    const operator = operatorOf(request)
    return { operator, csrf: operator === null ? null : reply.generateCsrf(), section }
  }
  const send = async (reply: FastifyReply, body: string, status = 200): Promise<FastifyReply> =>
    await reply.code(status).type('text/html; charset=utf-8').send(body)

  // HTML errors in the console (the JSON API keeps its JSON errors).
  app.setErrorHandler(async (err: Error & { statusCode?: number, validation?: unknown }, request, reply) => {
    const status = err.validation !== undefined ? 400 : typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) request.log.error({ err }, 'console error')
    const message = status === 403
      ? 'This form has expired or did not come from the console (missing or wrong CSRF token). Go back, reload the page and try again.'
      : status === 429
        ? 'Too many sign-in attempts from this address: wait a minute and try again.'
        : status === 500 ? 'Something went wrong on our side; the error is in the worker\'s log.' : `The request is not valid: ${err.message}`
    return await send(reply, page(status === 403 ? 'Refused' : status === 429 ? 'Slow down' : 'Error', { operator: operatorOf(request), csrf: null }, notice('error', message)), status)
  })
  app.setNotFoundHandler(async (request, reply) =>
    await send(reply, page('Not found', { operator: operatorOf(request), csrf: null }, notice('error', 'There is no console page at this address.')), 404))

  // --- sign-in ---------------------------------------------------------------------------------
  const loginForm = (next: string, error: string | null, username = ''): Html => html`
${error === null ? '' : notice('error', error)}
<form method="post" action="${href('/login')}" class="card narrow">
<input type="hidden" name="next" value="${next}">
<label for="username">Operator</label><input id="username" name="username" autocomplete="username" required value="${username}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p></form>`
  const safeNext = (next: unknown): string => typeof next === 'string' && next.startsWith(`${BASE}/`) && !next.startsWith('//') && !next.includes('\\') ? next : `${BASE}/`

  app.get('/login', { schema: { ...hidden, querystring: Type.Object({ next: Type.Optional(Type.String({ maxLength: 500 })) }) } }, async (request, reply) => {
    if (operatorOf(request) !== null) return await reply.redirect(safeNext(request.query.next), 303)
    return await send(reply, page('Sign in', { operator: null, csrf: null }, loginForm(safeNext(request.query.next), null)))
  })

  app.post('/login', {
    config: { rateLimit: { max: opts.loginAttemptsPerMinute, timeWindow: 60_000 } },
    schema: { ...hidden, body: Type.Object({ username: Type.String({ maxLength: 100 }), password: Type.String({ maxLength: 500 }), next: Type.Optional(Type.String({ maxLength: 500 })) }) }
  }, async (request, reply) => {
    const { username, password } = request.body
    const next = safeNext(request.body.next)
    const operator = await opts.operators.verify(username, password)
    if (operator === null) {
      // the name only, never the password
      request.log.warn({ operator: username.slice(0, 100) }, 'console sign-in refused')
      return await send(reply, page('Sign in', { operator: null, csrf: null }, loginForm(next, 'Wrong operator name or password.', username)), 401)
    }
    // a new session id at sign-in: a session fixed before it is worth nothing
    await request.session.regenerate()
    request.session.operator = operator
    request.session.signedInAt = Date.now()
    await request.session.save()
    request.log.info({ operator }, 'console sign-in')
    return await reply.redirect(next, 303)
  })

  // everything below needs a signed-in operator
  app.addHook('preHandler', async (request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    if (path === `${BASE}/login` || path.startsWith(`${BASE}/assets/`)) return
    await opts.requireOperator(request, reply)
  })
  // before the body is validated: a write without a valid token is a 403 whatever else it lacks
  const csrf = { preValidation: app.csrfProtection }

  app.post('/logout', { ...csrf, schema: { ...hidden, body: Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })) }) } }, async (request, reply) => {
    const operator = operatorOf(request)
    await request.session.destroy()
    request.log.info({ operator }, 'console sign-out')
    return await reply.redirect(`${BASE}/login`, 303)
  })

  // --- search --------------------------------------------------------------------------------
  app.get('/', { schema: { ...hidden, querystring: Type.Object({}) } }, async (request, reply) => {
    return await send(reply, page('Search', await ctx(request, reply, 'search'), html`${searchForm()}
<p class="muted">Enter a card token to see its latest decisions with their decline reasons and memos. A user, account, JIT or transaction token opens its timeline or hold.</p>`))
  })

  app.get('/search', {
    schema: { ...hidden, querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$' })), last_four: Type.Optional(Type.String({ maxLength: 10 })), from: Type.Optional(Type.String({ maxLength: 40 })), to: Type.Optional(Type.String({ maxLength: 40 })) }) }
  }, async (request, reply) => {
    const q = (request.query.q ?? '').trim()
    const from = parseLocalUtc(request.query.from)
    const to = parseLocalUtc(request.query.to)
    const c = await ctx(request, reply, 'search')
    const form = searchForm({ q, ...(request.query.last_four === undefined ? {} : { last_four: request.query.last_four }), ...(request.query.from === undefined ? {} : { from: request.query.from }), ...(request.query.to === undefined ? {} : { to: request.query.to }) })
    if (from === 'invalid' || to === 'invalid') return await send(reply, page('Search', c, html`${form}${notice('error', 'The time window is not a valid date and time.')}`), 400)
    let hits: SearchHit[]
    try {
      hits = await search(data, { token: q, ...(request.query.last_four === undefined ? {} : { lastFour: request.query.last_four.trim() }), ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) })
    } catch (err) {
      if (err instanceof SearchInputError) return await send(reply, page('Search', c, html`${form}${notice('error', err.message)}`), 400)
      throw err
    }
    // Enter on a card token goes straight to its decisions
    const card = hits.find(h => h.kind === 'card' && h.token === q)
    if (card !== undefined) return await reply.redirect(href(`/cards/${encodeURIComponent(card.token)}`), 303)
    if (hits.length === 1 && hits[0] !== undefined) {
      const h = hits[0]
      if (h.kind === 'user' || h.kind === 'account') return await reply.redirect(href('/timeline', { [h.kind]: h.token }), 303)
      if (h.kind !== 'card' && h.hold_token !== null) return await reply.redirect(href(`/holds/${encodeURIComponent(h.hold_token)}`), 303)
    }
    return await send(reply, page('Search', c, html`${form}
<h2>Results</h2>${hits.length === 0 ? notice('info', q === '' && (request.query.last_four ?? '') === '' ? 'Enter a token, or last four digits with a time window.' : 'Nothing matches.') : html`<ul>${hits.map(describeHit)}</ul>`}`))
  })

  // --- a card: its latest decisions --------------------------------------------------------------
  app.get('/cards/:token', { schema: { ...hidden, params: Type.Object({ token: Token }), querystring: Type.Object({ before: Before }) } }, async (request, reply) => {
    const { token } = request.params
    const before = parseBefore(request.query.before)
    if (before === 'invalid') return await send(reply, page('Card', await ctx(request, reply, 'search'), notice('error', '`before` is not a date.')), 400)
    const [card] = await db.sql<Array<{ card_token: string, user_token: string, account_token: string | null, status: string, expiration: string }>>`
      select card_token, user_token, coalesce(account_token, user_token) as account_token, status, expiration from cards where card_token = ${token}`
    const decisions = await decisionsOf(data, { cardToken: token }, { ...(before === undefined ? {} : { before }), limit: PAGE })
    const c = await ctx(request, reply, 'search')
    if (card === undefined && decisions.length === 0) return await send(reply, page('Card not found', c, html`${searchForm({ q: token })}${notice('error', `No card with token ${token}.`)}`), 404)
    const last = decisions[decisions.length - 1]
    return await send(reply, page(`Card ${token}`, c, html`${searchForm({ q: token })}
${card === undefined
? ''
: html`<dl class="facts"><dt>Status</dt><dd><span class="badge">${card.status}</span></dd><dt>Expires</dt><dd>${card.expiration}</dd>
<dt>Cardholder</dt><dd>${tokenLink('user', card.user_token)}</dd><dt>Funding account</dt><dd>${tokenLink('account', card.account_token)}</dd></dl>`}
<p><a href="${href('/timeline', { card: token })}">Timeline of this card</a>${card?.account_token === null || card === undefined ? '' : html` · <a href="${href(`/accounts/${encodeURIComponent(card.account_token)}/holds`, { state: 'OPEN' })}">Open holds</a>`}</p>
<h2>Latest decisions</h2>${decisionsTable(decisions, 'Decisions, newest first')}
${decisions.length === PAGE && last !== undefined ? html`<p><a href="${href(`/cards/${encodeURIComponent(token)}`, { before: last.created_at.toISOString() })}">Older decisions</a></p>` : ''}`))
  })

  // --- timeline -------------------------------------------------------------------------------
  app.get('/timeline', {
    schema: { ...hidden, querystring: Type.Object({ card: Type.Optional(Token), user: Type.Optional(Token), account: Type.Optional(Token), before: Before }) }
  }, async (request, reply) => {
    const { card, user, account } = request.query
    const before = parseBefore(request.query.before)
    const c = await ctx(request, reply, 'search')
    const owner: TimelineOwner | null = card !== undefined ? { cardToken: card } : user !== undefined ? { userToken: user } : account !== undefined ? { accountToken: account } : null
    if (owner === null || before === 'invalid') return await send(reply, page('Timeline', c, notice('error', 'Give a card, user or account token (and `before` as a date).')), 400)
    const t = await timelineOf(data, owner, { ...(before === undefined ? {} : { before }), limit: 50 })
    const label = card !== undefined ? `card ${card}` : user !== undefined ? `cardholder ${user}` : `account ${account ?? ''}`
    if (t === null) return await send(reply, page('Timeline', c, notice('error', `No ${label}, or it has no funding account.`)), 404)
    return await send(reply, page(`Timeline of ${label}`, c, html`
<p>Funding account ${tokenLink('account', t.account_token)} (${t.currency ?? ''}) · <a href="${href(`/accounts/${encodeURIComponent(t.account_token ?? '')}/holds`)}">Holds</a>${card === undefined ? '' : html` · <a href="${href(`/cards/${encodeURIComponent(card)}`)}">Card decisions</a>`}</p>
${t.items.length === 0
? notice('info', 'Nothing happened yet.')
: html`<div class="table"><table id="timeline" class="stack"><caption>Newest first; balance and available right after each money change</caption>
<thead><tr><th scope="col">When</th><th scope="col">Source</th><th scope="col">What</th><th scope="col">Amount</th><th scope="col">Purchase (hold)</th><th scope="col">Balance after</th><th scope="col">Available after</th></tr></thead>
<tbody>${t.items.map(timelineRow)}</tbody></table></div>`}
${t.next_before === null ? '' : html`<p><a href="${href('/timeline', { card, user, account, before: t.next_before.toISOString() })}">Older</a></p>`}`))
  })

  // --- holds ---------------------------------------------------------------------------------
  app.get('/accounts/:token/holds', {
    schema: { ...hidden, params: Type.Object({ token: Token }), querystring: Type.Object({ state: Type.Optional(Type.Union([Type.Literal('OPEN'), Type.Literal('CLOSED'), Type.Literal('EXPIRED'), Type.Literal('')])), before: Before }) }
  }, async (request, reply) => {
    const { token } = request.params
    const state = request.query.state === '' ? undefined : request.query.state
    const before = parseBefore(request.query.before)
    const c = await ctx(request, reply, 'search')
    if (before === 'invalid') return await send(reply, page('Holds', c, notice('error', '`before` is not a date.')), 400)
    const [account] = await db.sql<Array<{ currency: string, balance: number, held: number }>>`select currency, balance, held from accounts where account_token = ${token}`
    if (account === undefined) return await send(reply, page('Holds', c, notice('error', `No account ${token}.`)), 404)
    const holds = await holdsOf(data, token, { ...(state === undefined ? {} : { state }), ...(before === undefined ? {} : { before }), limit: PAGE })
    const last = holds[holds.length - 1]
    return await send(reply, page(`Holds of account ${token}`, c, html`
<dl class="facts"><dt>Balance</dt><dd>${moneyText(account.balance, account.currency)}</dd><dt>Held</dt><dd>${moneyText(account.held, account.currency)}</dd><dt>Available</dt><dd>${moneyText(account.balance - account.held, account.currency)}</dd></dl>
<form method="get" class="row spaced"><label for="state">State</label><select id="state" name="state">
${['', 'OPEN', 'CLOSED', 'EXPIRED'].map(s => html`<option value="${s}"${(state ?? '') === s ? html` selected` : ''}>${s === '' ? 'all' : s}</option>`)}</select> <button type="submit" class="secondary">Show</button></form>
${holdsTable(holds, new Date())}
${holds.length === PAGE && last !== undefined ? html`<p><a href="${href(`/accounts/${encodeURIComponent(token)}/holds`, { state, before: last.opened_at.toISOString() })}">Older holds</a></p>` : ''}
<p><a href="${href('/timeline', { account: token })}">Timeline of this account</a></p>`))
  })

  app.get('/holds/:token', { schema: { ...hidden, params: Type.Object({ token: Token }) } }, async (request, reply) => {
    const { token } = request.params
    const c = await ctx(request, reply, 'search')
    const hold = await getHold(db.sql, token)
    if (hold === null) return await send(reply, page('Hold not found', c, html`${searchForm({ q: token })}${notice('error', `No hold with JIT token ${token}.`)}`), 404)
    const cur = hold.currency
    return await send(reply, page(`Hold ${token}`, c, html`
<dl class="facts"><dt>State</dt><dd><span class="badge" id="hold-state">${hold.state}</span>${hold.forced ? ' (forced)' : ''}</dd><dt>Age</dt><dd>${age(hold.opened_at)} (opened ${when(hold.opened_at)})</dd>
<dt>Authorized</dt><dd>${moneyText(hold.authorized, cur)}</dd><dt>Captured</dt><dd>${moneyText(hold.captured, cur)}</dd><dt>Released</dt><dd>${moneyText(hold.released, cur)}</dd>
<dt>Remaining</dt><dd>${moneyText(hold.remaining, cur)}</dd>${hold.over_captured > 0 ? html`<dt>Over-captured</dt><dd>${moneyText(hold.over_captured, cur)}</dd>` : ''}
<dt>Card</dt><dd>${tokenLink('card', hold.card_token)}</dd><dt>Account</dt><dd>${tokenLink('account', hold.account_token)}</dd><dt>MCC</dt><dd>${hold.mcc ?? '–'}</dd>
<dt>Transactions</dt><dd class="mono">${hold.transaction_tokens.join(', ') || '–'}</dd></dl>
<h2>History</h2><div class="table"><table><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Amount</th><th scope="col">Effect</th><th scope="col">Detail</th></tr></thead>
<tbody>${hold.history.map(h => html`<tr><td>${when(h.at as Date)}</td><td>${String(h.action)}</td><td class="num">${moneyText(Number(h.amount), cur)}</td><td class="mono">${String(h.effect_key ?? '–')}</td><td class="mono">${JSON.stringify(h.detail ?? {})}</td></tr>`)}</tbody></table></div>
${hold.state === 'OPEN'
? html`<h2>Release</h2><p>Releases the remaining ${moneyText(hold.remaining, cur)} back to available, through a <code>hold.release</code> command recorded with your name.</p>
<p><a href="${href(`/holds/${encodeURIComponent(token)}/release`)}">Release this hold…</a></p>`
: ''}`))
  })

  app.get('/holds/:token/release', { schema: { ...hidden, params: Type.Object({ token: Token }) } }, async (request, reply) => {
    const { token } = request.params
    const c = await ctx(request, reply, 'search')
    const hold = await getHold(db.sql, token)
    if (hold === null) return await send(reply, page('Hold not found', c, notice('error', `No hold with JIT token ${token}.`)), 404)
    if (actionDeps === null) return await send(reply, page('Release a hold', c, notice('error', 'The broker is not configured for this console: holds cannot be released from here.')), 503)
    return await send(reply, page(`Release hold ${token}?`, c, html`
${hold.state === 'OPEN' ? '' : notice('error', `This hold is ${hold.state}: a release will be rejected.`)}
<p>This releases the remaining <strong>${moneyText(hold.remaining, hold.currency)}</strong> of the purchase back to the account's available balance. It is recorded with your name.</p>
<form method="post" action="${href(`/holds/${encodeURIComponent(token)}/release`)}" class="card medium">${csrfField(c)}
<label for="reason">Reason (recorded)</label><input id="reason" name="reason" required maxlength="500" class="full">
<p class="row"><button type="submit" class="danger">Release the hold</button> <a href="${href(`/holds/${encodeURIComponent(token)}`)}">Cancel</a></p></form>`))
  })

  app.post('/holds/:token/release', {
    ...csrf,
    schema: { ...hidden, params: Type.Object({ token: Token }), body: Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })), reason: Type.String({ minLength: 1, maxLength: 500 }) }) }
  }, async (request, reply) => {
    if (actionDeps === null) return await send(reply, page('Release a hold', await ctx(request, reply), notice('error', 'The broker is not configured for this console.')), 503)
    const id = await releaseHoldAsOperator(actionDeps, operatorOf(request) ?? '', request.params.token, request.body.reason)
    return await reply.redirect(href(`/actions/${id}`), 303)
  })

  // --- dead letters ----------------------------------------------------------------------------
  app.get('/dead-letters', { schema: { ...hidden, querystring: Type.Object({ queue: Type.Optional(Type.String({ maxLength: 100 })) }) } }, async (request, reply) => {
    const c = await ctx(request, reply, 'dead-letters')
    const amqp = opts.amqp
    if (amqp === undefined) return await send(reply, page('Dead letters', c, notice('error', 'The broker is not configured for this console.')), 503)
    const queues = amqp.topology.queues.map(q => q.name)
    // by default the queue with the most dead letters
    let queue = request.query.queue ?? ''
    if (queue === '') {
      const depths = await Promise.all(queues.map(async q => await amqp.connection.queueDeclare({ queue: deadQueueOf(q), passive: true }).then(r => r.messageCount, () => 0)))
      queue = queues[depths.indexOf(Math.max(...depths))] ?? queues[0] ?? ''
    }
    if (!queues.includes(queue.replace(/\.dead$/, ''))) return await send(reply, page('Dead letters', c, notice('error', `No queue ${queue}.`)), 400)
    const letters = await listDeadLetters(amqp, { queue, limit: 100 })
    const dead = deadQueueOf(queue)
    return await send(reply, page('Dead letters', c, html`
<nav aria-label="Queues"><ul class="row plain">${queues.map(q => html`<li><a href="${href('/dead-letters', { queue: q })}"${q === queue.replace(/\.dead$/, '') ? html` aria-current="page"` : ''}>${q}</a></li>`)}</ul></nav>
<h2>${dead}: ${letters.length === 100 ? 'at least 100' : letters.length} message(s)</h2>
${letters.length === 0
? notice('ok', 'No dead letters in this queue.')
: html`
<p><a href="${href('/dead-letters/redrive', { queue })}">Re-drive all of ${dead}…</a></p>
<div class="table"><table><thead><tr><th scope="col">Message</th><th scope="col">Routing key</th><th scope="col">Reason</th><th scope="col">Retries</th><th scope="col">First failed</th><th scope="col">Body</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${letters.map(l => html`<tr><td class="mono">${l.messageId ?? '–'}</td><td class="mono">${l.routingKey ?? '–'}</td><td>${l.reason ?? '–'}</td><td class="num">${l.retryCount}</td><td>${l.firstFailedAt === null ? '–' : when(l.firstFailedAt)}</td>
<td><details><summary>message</summary><pre>${maskedBody(l.body)}</pre></details></td>
<td>${l.messageId === null ? '' : html`<a href="${href('/dead-letters/redrive', { queue, message_id: l.messageId })}">Re-drive…</a>`}</td></tr>`)}</tbody></table></div>`}`))
  })

  const RedriveQuery = Type.Object({ queue: Type.String({ minLength: 1, maxLength: 100 }), message_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) })
  app.get('/dead-letters/redrive', { schema: { ...hidden, querystring: RedriveQuery } }, async (request, reply) => {
    const c = await ctx(request, reply, 'dead-letters')
    const { queue } = request.query
    const messageId = request.query.message_id ?? null
    const what = messageId === null ? html`every message of <strong>${deadQueueOf(queue)}</strong>` : html`message <code>${messageId}</code> of <strong>${deadQueueOf(queue)}</strong>`
    return await send(reply, page('Re-drive dead letters?', c, html`
<p>This moves ${what} back to the queue it failed in, where the worker applies it again (each effect still applies once). It is recorded with your name.</p>
<form method="post" action="${href('/dead-letters/redrive')}" class="row">${csrfField(c)}<input type="hidden" name="queue" value="${queue}">${messageId === null ? '' : html`<input type="hidden" name="message_id" value="${messageId}">`}
<button type="submit" class="danger">Re-drive</button> <a href="${href('/dead-letters', { queue })}">Cancel</a></form>`))
  })

  app.post('/dead-letters/redrive', {
    ...csrf,
    schema: { ...hidden, body: Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })), queue: Type.String({ minLength: 1, maxLength: 100 }), message_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }) }
  }, async (request, reply) => {
    const amqp = opts.amqp
    if (actionDeps === null || amqp === undefined) return await send(reply, page('Dead letters', await ctx(request, reply), notice('error', 'The broker is not configured for this console.')), 503)
    const queue = request.body.queue
    if (!amqp.topology.queues.some(q => q.name === queue.replace(/\.dead$/, ''))) return await send(reply, page('Dead letters', await ctx(request, reply), notice('error', `No queue ${queue}.`)), 400)
    const { id } = await redriveAsOperator(actionDeps, operatorOf(request) ?? '', queue, request.body.message_id ?? null)
    return await reply.redirect(href(`/actions/${id}`), 303)
  })

  // --- operator actions --------------------------------------------------------------------------
  app.get('/actions', { schema: { ...hidden, querystring: Type.Object({ before_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })) }) } }, async (request, reply) => {
    const c = await ctx(request, reply, 'actions')
    const actions = await listActions(db, { ...(request.query.before_id === undefined ? {} : { beforeId: Number(request.query.before_id) }), limit: PAGE })
    const last = actions[actions.length - 1]
    return await send(reply, page('Operator actions', c, html`${actions.length === 0
? notice('info', 'No operator has acted from the console yet.')
: html`
<div class="table"><table><thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Target</th><th scope="col">Outcome</th></tr></thead>
<tbody>${actions.map(actionRow)}</tbody></table></div>`}
${actions.length === PAGE && last !== undefined ? html`<p><a href="${href('/actions', { before_id: last.id })}">Older</a></p>` : ''}`))
  })

  app.get('/actions/:id', { schema: { ...hidden, params: Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) }) } }, async (request, reply) => {
    const c = await ctx(request, reply, 'actions')
    const a = await loadAction(db, Number(request.params.id))
    if (a === null) return await send(reply, page('Action not found', c, notice('error', 'No such operator action.')), 404)
    const status = a.outcome === 'done' ? notice('ok', 'Done.') : a.outcome === 'failed' ? notice('error', 'Failed: see the result below.') : notice('info', html`Requested; the worker has not answered yet. <a href="${href(`/actions/${a.id}`)}">Refresh</a>`)
    return await send(reply, page(`Operator action #${a.id}`, c, html`${status}
<dl class="facts"><dt>What</dt><dd class="mono">${a.action}</dd><dt>Target</dt><dd class="mono">${a.action === 'hold.release' ? tokenLink('hold', a.target) : a.target}</dd><dt>Who</dt><dd>${a.operator}</dd>
<dt>Requested</dt><dd>${when(a.requested_at)}</dd><dt>Finished</dt><dd>${when(a.finished_at)}</dd><dt>Outcome</dt><dd><span class="badge ${a.outcome}" id="action-outcome">${a.outcome}</span></dd></dl>
<h2>Detail</h2><pre>${JSON.stringify(a.detail, null, 2)}</pre>${a.result === null ? '' : html`<h2>Result</h2><pre id="action-result">${JSON.stringify(a.result, null, 2)}</pre>`}
<p>${a.action.startsWith('dead_letter') ? html`<a href="${href('/dead-letters', { queue: a.target })}">Back to ${a.target}</a>` : html`<a href="${href(`/holds/${encodeURIComponent(a.target)}`)}">Back to the hold</a>`}</p>`))
  })

  // --- health ---------------------------------------------------------------------------------
  app.get('/health', { schema: { ...hidden, querystring: Type.Object({}) } }, async (request, reply) => {
    const c = await ctx(request, reply, 'health')
    const h = await readHealth({ db, amqp: opts.amqp, health: opts.health, prometheusUrl: opts.prometheusUrl, prometheusTimeoutMs: opts.prometheusTimeoutMs })
    const d = h.decisions
    const declines = d.byOutcome.filter(r => r.outcome === 'declined')
    const deps = h.dependencies === null ? [] : Object.entries(h.dependencies.dependencies)
    return await send(reply, page('Health at a glance', c, html`
<div class="cards">
<div class="card"><h2>Approval rate, last hour</h2><p class="big">${d.approvalRate === null ? '–' : `${(d.approvalRate * 100).toFixed(1)} %`}</p><p>${d.approved} approved, ${d.declined} declined${d.total > d.approved + d.declined ? `, ${d.total - d.approved - d.declined} answered` : ''}</p></div>
<div class="card"><h2>Outbox</h2><p class="big">${h.outbox.pending}</p><p>unpublished; oldest waiting ${h.outbox.oldestAgeSeconds.toFixed(1)} s</p></div>
<div class="card"><h2>Dependencies</h2>${h.dependencies === null ? html`<p class="muted">not reported by this process</p>` : html`<ul>${deps.map(([name, dep]) => html`<li><span class="${dep.up ? 'up' : 'down'}">${dep.up ? '●' : '○'} ${name}: ${dep.up ? 'ready' : 'DOWN'}</span>${dep.latencyMs === null ? '' : ` (${dep.latencyMs.toFixed(1)} ms)`}${dep.required ? '' : ' · optional'}</li>`)}</ul>`}</div>
</div>
<h2>Decisions per minute</h2>${decisionsChart(d.perMinute, h.since)}
<h2>Decline reasons, last hour</h2>${declines.length === 0
? notice('ok', 'No declines in the last hour.')
: html`<div class="table"><table><thead><tr><th scope="col">Reason</th><th scope="col">Declines</th><th scope="col">Share of declines</th></tr></thead>
<tbody>${declines.map(r => html`<tr><td>${r.decline_reason ?? 'unknown'}</td><td class="num">${r.count}</td><td class="num">${((r.count / Math.max(1, d.declined)) * 100).toFixed(1)} %</td></tr>`)}</tbody></table></div>`}
<h2>Queues</h2>${h.queues.length === 0
? notice('info', 'The broker is not configured for this console.')
: html`<div class="table"><table><thead><tr><th scope="col">Queue</th><th scope="col">Waiting</th><th scope="col">Dead letters</th></tr></thead>
<tbody>${h.queues.map(q => html`<tr><td>${q.queue}</td><td class="num">${q.depth ?? 'unknown'}</td><td class="num">${q.dead === null ? 'unknown' : q.dead > 0 ? html`<a href="${href('/dead-letters', { queue: q.queue })}">${q.dead}</a>` : '0'}</td></tr>`)}</tbody></table></div>`}
<h2>JIT latency per stage, p99 over the last hour</h2>${h.jitStages === null
  ? html`<p class="muted">Set <code>CONSOLE_PROMETHEUS_URL</code> to show it here: jit-authorizer measures each decision stage (<code>jit_stage_duration_seconds</code> on its <code>/metrics</code>), and the worker does not call other services.</p>`
  : h.jitStages.error !== null
    ? notice('error', h.jitStages.error)
    : Object.keys(h.jitStages.p99Ms).length === 0
      ? notice('info', 'No JIT decisions measured in the last hour.')
      : html`<div class="table"><table id="jit-stages"><thead><tr><th scope="col">Stage</th><th scope="col">p99</th></tr></thead>
<tbody>${Object.entries(h.jitStages.p99Ms).map(([stage, ms]) => html`<tr><td>${stage}</td><td class="num">${ms.toFixed(1)} ms</td></tr>`)}</tbody></table></div>`}`))
  })
}
