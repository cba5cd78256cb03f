import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startSandbox } from '@jit/processor-sim'
import { createMarqetaClient, MarqetaApiError } from '../src/index.js'

// The client against the simulator's Core API (jit-sim serve), over real HTTP. A small program
// endpoint stands in for the gateway and the webhook receiver.
const received: string[] = []
const program = createServer((req, res) => {
  let body = ''
  req.on('data', (c: Buffer) => { body += c.toString() })
  req.on('end', () => {
    received.push(`${req.url ?? ''} ${body}`)
    if (req.url === '/v1/jit-funding') {
      const jit = (JSON.parse(body) as { gpa_order: { jit_funding: Record<string, unknown> } }).gpa_order.jit_funding
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jit_funding: jit }))
    } else {
      res.writeHead(200).end()
    }
  })
})
await new Promise<void>(resolve => program.listen(0, '127.0.0.1', resolve))
t.teardown(() => { program.close() })
const programUrl = `http://127.0.0.1:${(program.address() as AddressInfo).port}`
const creds = { username: 'program', password: 'Program-Test-Passw0rd!' }

const sandbox = await startSandbox({
  processor: { jitUrl: `${programUrl}/unused`, jitCredentials: creds, webhookUrl: `${programUrl}/unused`, webhookCredentials: creds, retryDelaysMs: [] },
  cards: [{ user: 'u-1', card: 'c-1' }],
  coreCredentials: { username: 'app-token', password: 'access-token' }
})
t.teardown(async () => { await sandbox.close() })
const client = createMarqetaClient({ baseUrl: sandbox.url, applicationToken: 'app-token', accessToken: 'access-token', backoffMs: 10, timeoutMs: 2000 })

async function fault (status: number, times: number, path?: string, delayMs?: number): Promise<void> {
  const res = await fetch(`${sandbox.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status, times, ...(path === undefined ? {} : { path }), ...(delayMs === undefined ? {} : { delay_ms: delayMs }) }) })
  if (res.status !== 204) throw new Error(`fault not set: ${res.status}`)
}

t.test('the funding source, then the webhook endpoint, decide where the sandbox sends JIT requests and webhooks', async t => {
  const source = await client.createGatewayFundingSource({ name: 'jit gateway', url: `${programUrl}/v1/jit-funding`, basicAuthUsername: creds.username, basicAuthPassword: creds.password, timeoutMillis: 2500 })
  t.equal(source.timeout_millis, 2500)
  t.equal((await client.getGatewayFundingSource(source.token)).url, `${programUrl}/v1/jit-funding`)
  const hook = await client.createWebhook({ name: 'ledger', url: `${programUrl}/v1/webhooks/marqeta`, basicAuthUsername: creds.username, basicAuthPassword: creds.password, secret: 'hook-secret', events: ['transaction.*'] })
  t.same(hook.events, ['transaction.*'])

  const sim = await fetch(`${sandbox.url}/simulate/authorization`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from('app-token:access-token').toString('base64'), 'content-type': 'application/json' }, body: JSON.stringify({ card_token: 'c-1', amount: 12.5, mid: '1234' }) })
  t.equal(sim.status, 201)
  const txn = (await sim.json() as { transaction: { token: string, state: string } }).transaction
  t.equal(txn.state, 'PENDING', 'approved by the registered gateway')
  await sandbox.settled()
  t.ok(received.some(r => r.startsWith('/v1/jit-funding ') && r.includes('"amount":12.5')), 'the JIT request went to the funding source URL')
  t.ok(received.some(r => r.startsWith('/v1/webhooks/marqeta ') && r.includes(txn.token)), 'the webhook went to the registered endpoint')

  const before = received.length
  await client.resendEvent(hook.token, 'transaction', txn.token)
  t.equal(received.length, before + 1)
  t.ok(received.at(-1)?.includes(txn.token), 're-sent the event')
  await t.rejects(client.resendEvent(hook.token, 'transaction', 'no-such-event'), { name: 'MarqetaApiError', status: 404, call: 'resendEvent' })
})

t.test('listTransactions reads every page of the period', async t => {
  for (let i = 0; i < 6; i++) {
    await fetch(`${sandbox.url}/simulations/cardtransactions/authorization`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from('app-token:access-token').toString('base64'), 'content-type': 'application/json' }, body: JSON.stringify({ card_token: 'c-1', amount: i + 1 }) })
  }
  const today = new Date().toISOString().slice(0, 10)
  const all = await client.listTransactions({ from: today, to: today, pageSize: 2 })
  t.equal(all.length, 7)
  t.equal(new Set(all.map(x => x.token)).size, 7, 'no page read twice')
  t.same(await client.listTransactions({ from: '2001-01-01', to: '2001-01-02' }), [])
})

t.test('429 and 5xx are retried with backoff; 4xx is not; errors name the call', async t => {
  await fault(503, 2, '/fundingsources')
  const source = await client.createGatewayFundingSource({ name: 'after 503s', url: `${programUrl}/v1/jit-funding`, basicAuthUsername: 'u', basicAuthPassword: creds.password, timeoutMillis: 3000 })
  t.equal(source.name, 'after 503s', 'succeeded on the third attempt')

  await fault(429, 10, '/transactions')
  const err = await client.listTransactions({ from: '2001-01-01', to: '2001-01-02' }).catch((e: unknown) => e)
  t.ok(err instanceof MarqetaApiError)
  t.match((err as MarqetaApiError).message, /^listTransactions failed with HTTP 429 after 4 attempt\(s\)/)
  sandbox.state.faults.length = 0

  await t.rejects(client.createGatewayFundingSource({ name: 'weak', url: `${programUrl}/x`, basicAuthUsername: 'u', basicAuthPassword: 'weak', timeoutMillis: 3000 }),
    { name: 'MarqetaApiError', status: 400, call: 'createGatewayFundingSource', attempts: 1 }, 'a refusal is not retried')
  await t.rejects(client.createGatewayFundingSource({ name: 'slow', url: `${programUrl}/x`, basicAuthUsername: 'u', basicAuthPassword: creds.password, timeoutMillis: 9000 }), RangeError)
  const wrong = createMarqetaClient({ baseUrl: sandbox.url, applicationToken: 'app-token', accessToken: 'wrong', retries: 0 })
  await t.rejects(wrong.getWebhook('x'), { name: 'MarqetaApiError', status: 401, call: 'getWebhook' })
})

t.test('a timed-out attempt is retried; a create whose answer was lost finds its resource', async t => {
  const slowClient = createMarqetaClient({ baseUrl: sandbox.url, applicationToken: 'app-token', accessToken: 'access-token', backoffMs: 10, timeoutMs: 200, retries: 2 })
  await fault(503, 1, '/webhooks/', 400)
  const res = await slowClient.getWebhook('missing').catch((e: unknown) => e as MarqetaApiError)
  t.equal((res as MarqetaApiError).status, 404, 'the slow attempt timed out, the retry got the real answer')

  const first = await client.createWebhook({ token: 'wh-fixed', name: 'once', url: `${programUrl}/h`, basicAuthUsername: 'u', basicAuthPassword: 'p', events: ['*'] })
  const again = await client.createWebhook({ token: 'wh-fixed', name: 'once', url: `${programUrl}/h`, basicAuthUsername: 'u', basicAuthPassword: 'p', events: ['*'] })
  t.equal(again.token, first.token, 'a 409 on its own token is the resource it created')
})
