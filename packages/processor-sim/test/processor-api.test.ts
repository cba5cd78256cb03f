import t from 'tap'
import { waitFor } from '@jit/test-support'
import { startSandbox, createProvisioner, provisionCardholder, createOperatorClient, parseCredentials } from '../src/index.js'
import { startServices, runJitOps } from './helper.js'

// The sandbox (jit-sim serve) in front of the three services as real processes: `jit-ops processor
// setup` registers our endpoints through the Core API, the simulation endpoints drive the gateway
// and the webhooks, and `jit-ops reconcile` compares the sandbox's transactions with the ledger.
const services = await startServices(t)
const env = services.env
const CORE = 'app-token-test:access-token-test'
const card = { user: `api-user-${process.pid}`, card: `api-card-${process.pid}` }
const provisioner = await createProvisioner({ amqpUrl: env.AMQP_URL as string })
t.teardown(async () => { await provisioner.close() })
await provisionCardholder(provisioner, { ...card, funding: '1000.00' })
const operator = createOperatorClient({ baseUrl: services.workerUrl, credentials: parseCredentials(env.OPERATOR_BASIC_AUTH as string) })

// until `processor setup` registers them, the sandbox sends nowhere useful
const nowhere = 'http://127.0.0.1:9/'
const sandbox = await startSandbox({
  processor: { jitUrl: nowhere, jitCredentials: { username: 'x', password: 'y' }, webhookUrl: nowhere, webhookCredentials: { username: 'x', password: 'y' }, retryDelaysMs: [] },
  cards: [card],
  coreCredentials: parseCredentials(CORE)
})
t.teardown(async () => { await sandbox.close() })
const coreAuth = 'Basic ' + Buffer.from(CORE).toString('base64')

async function simulate (path: string, body: Record<string, unknown>): Promise<{ token: string, state: string }> {
  const res = await fetch(`${sandbox.url}${path}`, { method: 'POST', headers: { authorization: coreAuth, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json() as { transaction: { token: string, state: string } }).transaction
}

async function balances (): Promise<string> {
  const a = await operator.account(card.user)
  return a === null ? 'none' : `${a.balance_minor}/${a.available_minor}`
}

async function settledTo (expected: string): Promise<void> {
  await sandbox.settled()
  await waitFor(async () => (await balances()) === expected ? true : null, 15_000, `balance/available ${expected} (now ${await balances()})`)
}

const today = new Date().toISOString().slice(0, 10)
const reconcile = async (): Promise<{ code: number | null, out: string, err: string }> => await runJitOps(['reconcile', '--base-url', sandbox.url, '--from', today, '--to', today], env, `${CORE}\n`)

t.test('jit-ops processor setup registers our gateway and webhook endpoint through the Core API', async t => {
  const res = await runJitOps(['processor', 'setup', '--base-url', sandbox.url, '--gateway-url', `${services.gatewayUrl}/v1/jit-funding`, '--webhook-url', `${services.ingestUrl}/v1/webhooks/marqeta`], env, `${CORE}\n`)
  t.equal(res.code, 0, res.err)
  const source = sandbox.state.activeFundingSource()
  t.equal(source?.url, `${services.gatewayUrl}/v1/jit-funding`)
  t.equal(source?.timeout_millis, 3000, 'consistent with the 1500 ms decision budget')
  t.equal(source?.basic_auth_username, 'jit-sim-test')
  const hook = sandbox.state.webhookFor('transactions')
  t.equal(hook?.config.secret, env.WEBHOOK_HMAC_SECRET, 'webhooks are signed with our secret')
  t.match(res.out, /funding source .*timeout_millis 3000/)

  const refused = await runJitOps(['processor', 'setup', '--base-url', sandbox.url, '--gateway-url', 'x', '--webhook-url', 'y'], env, `${CORE}\n`)
  t.equal(refused.code, 2)
  t.match(refused.err, "--gateway-url must be an http(s) URL, got 'x'")
  const noCredentials = await runJitOps(['processor', 'setup', '--base-url', sandbox.url, '--gateway-url', services.gatewayUrl, '--webhook-url', services.ingestUrl, '--timeout-ms', '1600'], env, '')
  t.equal(noCredentials.code, 2, 'a timeout the budget cannot meet is refused')
  t.match(noCredentials.err, 'leaves no room for JIT_DECISION_BUDGET_MS 1500')
})

t.test('the simulation endpoints drive the gateway and the webhooks; reconcile finds nothing to report', async t => {
  const auth = await simulate('/simulate/authorization', { card_token: card.card, amount: 100, mid: '000001234' })
  t.equal(auth.state, 'PENDING', 'approved by our gateway')
  await settledTo('100000/90000')
  await simulate('/simulate/clearing', { original_transaction_token: auth.token, amount: 100 })
  await settledTo('90000/90000')
  const second = await simulate('/simulations/cardtransactions/authorization', { card_token: card.card, amount: 50 })
  await simulate('/simulations/cardtransactions/authorization.reversal', { preceding_related_transaction_token: second.token, amount: 20 })
  await settledTo('90000/87000')
  const res = await reconcile()
  t.equal(res.code, 0, `${res.out}${res.err}`)
  t.match(res.out, '4 processor transaction(s)')
  t.match(res.out, '0 difference(s)')
})

t.test('a lost clearing is reported until the processor re-sends it', async t => {
  const auth = await simulate('/simulate/authorization', { card_token: card.card, amount: 40 })
  await settledTo('90000/83000')
  // the program's endpoint is misconfigured for a while: the clearing's webhook is lost
  const good = sandbox.state.webhookFor('transactions')
  if (good === undefined) throw new Error('no webhook endpoint')
  good.active = false
  sandbox.state.webhooks.set('broken', { ...good, token: 'broken', active: true, config: { ...good.config, url: 'http://127.0.0.1:9/v1/webhooks/marqeta' } })
  const clearing = await simulate('/simulate/clearing', { original_transaction_token: auth.token, amount: 40 })
  await sandbox.settled()
  t.equal(await balances(), '90000/83000', 'the ledger never heard of the clearing')

  const lost = await reconcile()
  t.equal(lost.code, 1, 'exit 1 on a difference')
  t.match(lost.out, new RegExp(`missing_event\\t${clearing.token}\\tauthorization.clearing`))

  const fixed = sandbox.state.webhooks.get('broken')
  if (fixed !== undefined) fixed.active = false
  good.active = true
  const resend = await fetch(`${sandbox.url}/webhooks/${good.token}/transaction/${clearing.token}`, { method: 'POST', headers: { authorization: coreAuth } })
  t.same(await resend.json(), { delivered: true, attempts: 1 }, 're-sent to our endpoint')
  await settledTo('86000/83000')
  const after = await reconcile()
  t.equal(after.code, 0, after.out)
})

t.test('the Core API reads a webhook endpoint, a transaction and a funding source by token, 404 naming what is missing', async t => {
  const get = async (path: string): Promise<{ status: number, body: Record<string, unknown> }> => {
    const res = await fetch(`${sandbox.url}${path}`, { headers: { authorization: coreAuth } })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const endpoint = sandbox.state.webhookFor('transactions')
  t.ok(endpoint, 'an endpoint was registered by processor setup')
  const found = await get(`/webhooks/${String(endpoint?.token)}`)
  t.equal(found.status, 200)
  t.equal(found.body.token, endpoint?.token)
  const [txToken, tx] = [...sandbox.state.transactions.entries()][0] ?? []
  t.ok(tx, 'the earlier tests made transactions')
  t.same((await get(`/transactions/${String(txToken)}`)).body, tx?.event, 'a transaction is its event')
  for (const [path, what] of [['/webhooks/nope', 'webhook'], ['/transactions/nope', 'transaction'], ['/fundingsources/programgateway/nope', 'funding source']] as const) {
    const missing = await get(path)
    t.equal(missing.status, 404, path)
    t.equal(missing.body.error_message, `${what} not found`)
  }
})
