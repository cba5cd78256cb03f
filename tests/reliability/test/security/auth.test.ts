import t from 'tap'
import { basicAuthHeader, signBody } from '@jit/http-auth'
import { jitFundingRequest, transactionEvent, webhookBatch } from '@jit/processor-sim'
import { startInProcessStack, JIT_AUTH, WEBHOOK_AUTH, SUITE_SECRETS } from '../support/in-process.js'

// Authentication of both processor-facing endpoints, on the real apps: every refusal is a 401
// that decides, holds and publishes nothing; only the configured credentials (and the signature
// over the exact bytes) get through.
const stack = await startInProcessStack(t, { JIT_BASIC_AUTH_PREVIOUS: 'processor-jit:Rl7-Jit-Previous-Passw0rd-k3!' })
const card = { user: 'auth-user', card: 'auth-card' }
await stack.fundedCard(card.user, card.card, 100_000)
const jitUser = SUITE_SECRETS.JIT_BASIC_AUTH.split(':')[0] ?? ''
const jitPassword = SUITE_SECRETS.JIT_BASIC_AUTH.slice(jitUser.length + 1)

const WRONG_HEADERS: Array<[string, string | undefined]> = [
  ['no Authorization header', undefined],
  ['an empty header', ''],
  ['the scheme alone', 'Basic'],
  ['another scheme', `Bearer ${Buffer.from(SUITE_SECRETS.JIT_BASIC_AUTH).toString('base64')}`],
  ['not base64', 'Basic !!!not-base64!!!'],
  ['base64 without a colon', 'Basic ' + Buffer.from('processor-jit').toString('base64')],
  ['a wrong password', basicAuthHeader(jitUser, jitPassword + 'x')],
  ['a password prefix', basicAuthHeader(jitUser, jitPassword.slice(0, -1))],
  ['a wrong user', basicAuthHeader('processor-jot', jitPassword)],
  ['the user in another case', basicAuthHeader(jitUser.toUpperCase(), jitPassword)],
  ['the webhook credentials', WEBHOOK_AUTH],
  ['the credentials twice', `${JIT_AUTH}, ${JIT_AUTH}`],
  ['a 16 KiB header', 'Basic ' + 'A'.repeat(16_384)]
]

t.test('JIT endpoint: missing, malformed and wrong Basic auth get 401 and decide nothing', async t => {
  for (const [name, header] of WRONG_HEADERS) {
    const body = jitFundingRequest(card, { amount: 100 })
    const res = await stack.authorizer.inject({
      method: 'POST',
      url: '/v1/jit-funding',
      headers: { 'content-type': 'application/json', ...(header === undefined ? {} : { authorization: header }) },
      payload: JSON.stringify(body)
    })
    t.equal(res.statusCode, 401, name)
    t.match(res.headers['www-authenticate'] ?? '', /^Basic/, `${name}: a Basic challenge`)
    const [row] = await stack.connections.db.sql`select count(*)::int as n from decisions where jit_token = ${body.jitToken}`
    t.equal(row?.n, 0, `${name}: no decision recorded`)
  }
  const ok = await stack.authorizer.inject({ method: 'POST', url: '/v1/jit-funding', headers: { authorization: JIT_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(jitFundingRequest(card, { amount: 100 })) })
  t.equal(ok.statusCode, 200, 'the configured credentials decide')
  const previous = await stack.authorizer.inject({ method: 'POST', url: '/v1/jit-funding', headers: { authorization: basicAuthHeader(jitUser, 'Rl7-Jit-Previous-Passw0rd-k3!'), 'content-type': 'application/json' }, payload: JSON.stringify(jitFundingRequest(card, { amount: 100 })) })
  t.equal(previous.statusCode, 200, 'the previous credentials decide during a rotation')
})

t.test('webhook endpoint: wrong Basic auth or a signature over other bytes get 401 and publish nothing', async t => {
  const published = await stack.capture('webhook.#', () => undefined)
  const event = (token: string): Record<string, unknown> => transactionEvent(card, { type: 'authorization.clearing', state: 'COMPLETION', token, amount: 100 })
  const send = async (headers: Record<string, string>, payload: string): Promise<number> =>
    (await stack.ingest.inject({ method: 'POST', url: '/v1/webhooks/marqeta', headers: { 'content-type': 'application/json', ...headers }, payload })).statusCode

  const body = JSON.stringify(webhookBatch('transactions', [event('auth-hook-1')]))
  const other = JSON.stringify(webhookBatch('transactions', [event('auth-hook-2')]))
  const secret = SUITE_SECRETS.WEBHOOK_HMAC_SECRET
  for (const [name, header] of WRONG_HEADERS) {
    if (header === WEBHOOK_AUTH) continue
    const headers: Record<string, string> = { 'x-marqeta-signature': signBody(body, secret) }
    if (header !== undefined) headers.authorization = header
    t.equal(await send(headers, body), 401, `basic: ${name}`)
  }
  const signatures: Array<[string, string | undefined]> = [
    ['no signature', undefined],
    ['an empty signature', ''],
    ['a signature over a different body', signBody(other, secret)],
    ['a signature over the same JSON re-serialised', signBody(JSON.stringify(JSON.parse(body), null, 1), secret)],
    ['a signature with another secret', signBody(body, secret + 'x')],
    ['the JIT password as the secret', signBody(body, SUITE_SECRETS.JIT_BASIC_AUTH)],
    ['a truncated signature', signBody(body, secret).slice(0, 63)],
    ['a signature with one more digit', signBody(body, secret) + '0'],
    ['not hex', 'g'.repeat(64)],
    ['the secret itself', secret]
  ]
  for (const [name, signature] of signatures) {
    const headers: Record<string, string> = { authorization: WEBHOOK_AUTH }
    if (signature !== undefined) headers['x-marqeta-signature'] = signature
    t.equal(await send(headers, body), 401, `signature: ${name}`)
  }
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(published.count(), 0, 'no refused batch published anything')

  t.equal(await send({ authorization: WEBHOOK_AUTH, 'x-marqeta-signature': signBody(body, secret) }, body), 200, 'sha256 over the exact bytes is accepted')
  t.equal(await send({ authorization: WEBHOOK_AUTH, 'x-marqeta-signature': 'sha1=' + signBody(other, secret, 'sha1').toUpperCase() }, other), 200, 'sha1, prefixed and upper case, is accepted')
  for (let i = 0; i < 50 && published.count() < 2; i++) await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(published.count(), 2, 'the accepted batches were published')
  t.same(stack.logs.findings, [], 'no credential or signature in the logs')
})
