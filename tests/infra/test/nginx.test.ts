import t from 'tap'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { Agent } from 'node:https'
import { createDatabase } from '@jit/postgres'
import * as ledger from '@jit/ledger'
import { signBody } from '@jit/http-auth'
import { jitFundingRequest, purchasesOf, webhookBatch } from '@jit/processor-sim'
import { createTestDatabase, createTestRedisPrefix, createTestVhost, freePort, fundedCards, sharedRedisUrl, sleep, waitFor } from '@jit/test-support'
import {
  CREDENTIALS, ROOT, accessLog, basic, checkNginx, plainRequest, renderNginx, serviceEnv, startNginx, startService, tempDir, tlsRequest, type ServiceProcess
} from './helper.js'

// The deployed nginx configuration, rendered for loopback, in front of two jit-authorizer
// processes, a webhook-ingest and a txn-worker (real processes on a database, vhost and key
// prefix of this file's own).
// Starting four services on a loaded 2-core machine takes a while: more than tap's default 30 s.
// (No assertion at the top level: tap would end the file's test at the first one.)
t.setTimeout(240_000)
const startedAt = Date.now()
const databaseUrl = await createTestDatabase(t, 'nginx')
const amqpUrl = await createTestVhost(t, 'nginx')
const redisPrefix = createTestRedisPrefix(t, 'nginx')
const work = tempDir(t, 'nginx')
const certDir = join(work, 'certs')
execFileSync('bash', [join(ROOT, 'scripts/dev-certs.sh'), certDir], { stdio: 'ignore' })
const ca = readFileSync(join(certDir, 'ca.crt'), 'utf8')

const env = serviceEnv(databaseUrl, amqpUrl, sharedRedisUrl, redisPrefix)
const [p1, p2, pIngest, pWorker] = await Promise.all(Array.from({ length: 4 }, async () => await freePort()))
// The first authorizer applies the migrations; the others start against a complete schema.
const authorizer1 = await startService(t, 'jit-authorizer', p1 as number, env, work)
const [authorizer2, ingest, worker] = await Promise.all([
  startService(t, 'jit-authorizer', p2 as number, env, work),
  startService(t, 'webhook-ingest', pIngest as number, env, work),
  startService(t, 'txn-worker', pWorker as number, env, work)
])
const authorizers = [authorizer1, authorizer2]

const upstreams = {
  'jit-authorizer-1:3001': p1 as number,
  'jit-authorizer-2:3001': p2 as number,
  'webhook-ingest:3002': pIngest as number,
  'txn-worker:3003': pWorker as number
}
// Taken only now: a port picked earlier could meanwhile be the local port of an outgoing connection.
const [pProcessor, pOperator] = await Promise.all([freePort(), freePort()])
const nginxDir = tempDir(t, 'nginx-run')
const conf = renderNginx({ dir: nginxDir, certDir, upstreams, processorPort: pProcessor as number, operatorPort: pOperator as number })
const nginxCheck = await checkNginx(conf, nginxDir)
await startNginx(t, conf, nginxDir, pProcessor as number)
t.comment(`stack up in ${Date.now() - startedAt} ms`)

const db = createDatabase({ url: databaseUrl, poolMin: 0, poolMax: 2 })
t.teardown(() => db.close(2))
const fundedCard = fundedCards(ledger)
const card = await fundedCard(db, 'nginx', 10_000_000)

// The processor keeps its connections open, as processors do.
const agent = new Agent({ keepAlive: true, maxSockets: 8 })
t.teardown(() => { agent.destroy() })

async function jit (body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number, json: Record<string, unknown>, headers: Record<string, string | string[] | undefined> }> {
  const res = await tlsRequest({ port: pProcessor as number, path: '/v1/jit-funding', method: 'POST', body: JSON.stringify(body), headers: { authorization: basic(CREDENTIALS.jit), ...headers }, ca, agent })
  let json: Record<string, unknown> = {}
  try { json = JSON.parse(res.body) as Record<string, unknown> } catch { /* an nginx page */ }
  return { status: res.status, json, headers: res.headers }
}

/** Which authorizer logged the decision of a JIT token. */
function decidedBy (token: string): ServiceProcess[] {
  return authorizers.filter(a => a.logs.some(l => l.msg === 'jit decision' && l.jit_token === token))
}

t.test('nginx -t accepts the rendered configuration', async t => {
  t.match(nginxCheck, /test is successful/)
})

t.test('JIT requests succeed through nginx and spread over both instances; request ids are passed and logged', async t => {
  const tokens: string[] = []
  for (let i = 0; i < 12; i++) {
    const body = jitFundingRequest(card, { amount: 100 })
    const res = await jit(body)
    t.equal(res.status, 200, `request ${i} approved`)
    tokens.push(body.jitToken)
  }
  await waitFor(() => tokens.every(tk => decidedBy(tk).length === 1), 5000)
  const counts = authorizers.map(a => tokens.filter(tk => decidedBy(tk)[0] === a).length)
  t.ok(counts.every(n => n > 0), `both instances decided some (${counts.join(' / ')})`)

  const given = jitFundingRequest(card, { amount: 100 })
  const withId = await jit(given, { 'x-request-id': 'processor-req-0001' })
  t.equal(withId.headers['x-request-id'], 'processor-req-0001', 'the caller\'s request id is echoed once')
  await waitFor(() => decidedBy(given.jitToken).length === 1, 5000)
  const line = decidedBy(given.jitToken)[0]?.logs.find(l => l.msg === 'jit decision' && l.jit_token === given.jitToken)
  t.equal(line?.reqId, 'processor-req-0001', 'the service logs the request id with the JIT token')
  t.type((line?.stages_ms as Record<string, number> | undefined)?.decision, 'number', 'and the stage timings')

  const fresh = jitFundingRequest(card, { amount: 100 })
  const generated = await jit(fresh)
  const rid = generated.headers['x-request-id']
  t.match(rid, /^[0-9a-f]{32}$/, 'nginx generates one when the caller sends none')
  await waitFor(() => decidedBy(fresh.jitToken).length === 1, 5000)
  t.equal(decidedBy(fresh.jitToken)[0]?.logs.find(l => l.jit_token === fresh.jitToken)?.reqId, rid, 'the service logs nginx\'s id')

  await waitFor(() => accessLog(nginxDir).some(l => l.request_id === rid), 3000)
  const entry = accessLog(nginxDir).find(l => l.request_id === rid)
  t.match(entry?.upstream_addr, /^127\.0\.0\.1:\d+$/, 'the access log names the upstream')
  t.match(entry?.upstream_response_time, /^\d+\.\d{3}$/, 'and its response time')
})

t.test('webhooks succeed through nginx; nothing but JIT and webhooks on the processor listener', async t => {
  const p = purchasesOf(card).purchase(500)
  const raw = JSON.stringify(webhookBatch('transactions', [purchasesOf(card).pending(p)]))
  const res = await tlsRequest({
    port: pProcessor as number,
    path: '/v1/webhooks/marqeta',
    method: 'POST',
    body: raw,
    ca,
    agent,
    headers: { authorization: basic(CREDENTIALS.webhook), 'x-marqeta-signature': signBody(raw, CREDENTIALS.hmacSecret, 'sha256') }
  })
  t.equal(res.status, 200, `accepted: ${res.body}`)
  t.ok(ingest.logs.some(l => typeof l.reqId === 'string' && l.reqId === res.headers['x-request-id']), 'webhook-ingest logs the request id')

  for (const path of ['/v1/accounts/u-nginx', '/console/', '/metrics', '/ready', '/openapi.json']) {
    const r = await tlsRequest({ port: pProcessor as number, path, headers: { authorization: basic(CREDENTIALS.operator) }, ca })
    t.equal(r.status, 404, `${path} is not reachable from the processor's side`)
  }
  const get = await tlsRequest({ port: pProcessor as number, path: '/v1/jit-funding', ca })
  t.equal(get.status, 403, 'only POST on the JIT route')
  t.equal((await tlsRequest({ port: pProcessor as number, path: '/health', ca })).status, 200, '/health: an authorizer is ready')
  t.equal((await tlsRequest({ port: pProcessor as number, path: '/health/webhooks', ca })).status, 200, '/health/webhooks: an ingest is ready')
})

t.test('the operator listener reaches the worker\'s operator API and console, and its /health', async t => {
  const account = await tlsRequest({ port: pOperator as number, path: `/v1/accounts/${card.account}`, headers: { authorization: basic(CREDENTIALS.operator) }, ca })
  t.equal(account.status, 200, 'the operator API answers through the operator listener')
  t.equal((JSON.parse(account.body) as { account?: { account_token?: string } }).account?.account_token, card.account)
  t.ok(worker.logs.some(l => l.reqId === account.headers['x-request-id']), 'the worker logs the request id')
  t.equal((await tlsRequest({ port: pOperator as number, path: '/health', ca })).status, 200)
  t.equal((await tlsRequest({ port: pOperator as number, path: '/metrics', ca })).status, 404, 'metrics are scraped directly, not through nginx')
  const jitThere = await tlsRequest({ port: pOperator as number, path: '/v1/jit-funding', method: 'POST', body: '{}', ca, headers: { authorization: basic(CREDENTIALS.jit) } })
  t.not(jitThere.status, 200, 'the operator listener does not route JIT requests')
})

t.test('an oversized body is refused by nginx itself', async t => {
  const body = jitFundingRequest(card, { amount: 100 })
  const big = JSON.stringify({ ...body, padding: 'x'.repeat(100 * 1024) })
  const before = accessLog(nginxDir).length
  const res = await tlsRequest({ port: pProcessor as number, path: '/v1/jit-funding', method: 'POST', body: big, headers: { authorization: basic(CREDENTIALS.jit) }, ca })
  t.equal(res.status, 413)
  await waitFor(() => accessLog(nginxDir).length > before, 3000)
  const entry = accessLog(nginxDir).slice(before).find(l => l.status === 413)
  t.equal(entry?.upstream_addr, '', 'no instance saw it')
  t.same(decidedBy(body.jitToken), [], 'and nothing was decided')
})

t.test('a JIT request that reached an instance is never sent to another one', async t => {
  // authorizer1 accepts connections (the kernel does) but does not answer: nginx gives up at its
  // read timeout and must not try authorizer2 with a request authorizer1 may have decided.
  authorizer1.child.kill('SIGSTOP')
  let stuck: string | undefined
  let answered = 0
  try {
    for (let i = 0; i < 4 && stuck === undefined; i++) {
      const body = jitFundingRequest(card, { amount: 100 })
      const res = await jit(body)
      if (res.status === 503) stuck = body.jitToken
      else { t.equal(res.status, 200, 'answered by the other instance'); answered++ }
    }
    t.ok(stuck !== undefined, `one request went to the stopped instance (${answered} answered by the other first)`)
    t.same(await ledger.getDecision(db.sql, stuck as string), null, 'nobody decided it while the instance was stopped: it was not resent')
  } finally {
    authorizer1.child.kill('SIGCONT')
  }
  // The stopped instance had received it: once running again it decides it (the deadline has passed).
  await waitFor(async () => (await ledger.getDecision(db.sql, stuck as string)) !== null, 10_000)
  // The decision commits before its log line crosses the child's stdout pipe: wait for the line.
  await waitFor(() => decidedBy(stuck as string).length > 0, 10_000).catch(() => {})
  t.same(decidedBy(stuck as string).map(s => s.port), [authorizer1.port], 'only the instance that received it decided it')
  const entry = accessLog(nginxDir).find(l => l.status === 503 && l.uri === '/v1/jit-funding' && l.upstream_status === '504')
  t.match(entry?.upstream_addr, new RegExp(`^127\\.0\\.0\\.1:${authorizer1.port}$`), 'nginx tried exactly one upstream')
})

t.test('after an instance is SIGKILLed every later JIT request succeeds through the other', async t => {
  authorizer2.child.kill('SIGKILL')
  await authorizer2.exited
  // nginx closes its idle keep-alive connections to the dead instance when their FIN arrives
  await sleep(200)
  const before = accessLog(nginxDir).length
  for (let i = 0; i < 10; i++) {
    const body = jitFundingRequest(card, { amount: 100 })
    const res = await jit(body)
    t.equal(res.status, 200, `request ${i} after the kill approved`)
  }
  const retried = accessLog(nginxDir).slice(before).filter(l => String(l.upstream_addr).startsWith(`127.0.0.1:${authorizer2.port}, `))
  t.ok(retried.length > 0, `refused by the dead instance, passed to the other (${retried.length} times)`)
  t.equal((await tlsRequest({ port: pProcessor as number, path: '/health', ca })).status, 200, '/health: one authorizer is still ready')
})

t.test('mutual TLS: with a client certificate required, the JIT route refuses requests without one', async t => {
  const dir = tempDir(t, 'nginx-mtls')
  const [pProcessorMtls, pOperatorMtls] = await Promise.all([freePort(), freePort()])
  const file = renderNginx({ dir, certDir, upstreams, processorPort: pProcessorMtls as number, operatorPort: pOperatorMtls as number, requireClientCert: true })
  await startNginx(t, file, dir, pProcessorMtls as number)
  const body = JSON.stringify(jitFundingRequest(card, { amount: 100 }))
  const headers = { authorization: basic(CREDENTIALS.jit) }
  const without = await tlsRequest({ port: pProcessorMtls as number, path: '/v1/jit-funding', method: 'POST', body, headers, ca })
  t.equal(without.status, 403, 'no certificate: refused')
  const withCert = await tlsRequest({
    port: pProcessorMtls as number,
    path: '/v1/jit-funding',
    method: 'POST',
    body,
    headers,
    ca,
    cert: readFileSync(join(certDir, 'processor-client.crt'), 'utf8'),
    key: readFileSync(join(certDir, 'processor-client.key'), 'utf8')
  })
  t.equal(withCert.status, 200, 'the processor\'s certificate: decided')
  const webhookNoCert = await tlsRequest({ port: pProcessorMtls as number, path: '/health', ca })
  t.equal(webhookNoCert.status, 200, 'other routes do not require it')
})

t.test('SIGTERM: /ready turns 503 at once, the instance keeps serving for the drain period, then closes', async t => {
  const signalledAt = Date.now()
  authorizer1.child.kill('SIGTERM')
  await waitFor(async () => (await plainRequest(authorizer1.port, '/ready')).status === 503, 1000, '/ready 503')
  const body = jitFundingRequest(card, { amount: 100 })
  const during = await plainRequest(authorizer1.port, '/v1/jit-funding', { method: 'POST', headers: { authorization: basic(CREDENTIALS.jit) }, body: JSON.stringify(body) })
  t.equal(during.status, 200, 'a JIT request during the drain is still decided')
  t.ok(Date.now() - signalledAt < 1500, 'both within the drain period')
  t.equal(await authorizer1.exited, 0, 'then it stops cleanly')
  t.ok(Date.now() - signalledAt >= 1500, `not before the drain period (${Date.now() - signalledAt} ms)`)
  t.ok(authorizer1.logs.some(l => l.msg === 'draining: /ready answers 503, still serving'), 'and says so in its log')
})

t.teardown(() => { t.comment(`nginx suite: ${Date.now() - startedAt} ms`) })
