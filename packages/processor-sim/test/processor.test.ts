import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignatureVerifier } from '@jit/http-auth'
import { createProcessor, processorBackoff, parseCredentials } from '../src/index.js'

// The processor's side of the HTTP contracts against a real local server: Basic auth, the deadline,
// batches of at most 10, signatures of the raw body, retries of every answer but 200.
interface Seen { url: string, auth: string | undefined, signature: string | undefined, body: string }
const seen: Seen[] = []
let hookStatuses: number[] = []
let jitDelayMs = 0
const server = createServer((req: IncomingMessage, res) => {
  let body = ''
  req.on('data', (c: Buffer) => { body += c.toString() })
  req.on('end', () => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization, signature: req.headers['x-marqeta-signature'] as string | undefined, body })
    if (req.url === '/jit') {
      setTimeout(() => { res.writeHead(402, { 'content-type': 'application/json' }).end(JSON.stringify({ jit_funding: { decline_reason: 'INSUFFICIENT_FUNDS' } })) }, jitDelayMs)
      return
    }
    res.writeHead(hookStatuses.shift() ?? 200).end()
  })
})
await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => { server.closeAllConnections(); server.close() })
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const processor = createProcessor({
  jitUrl: `${origin}/jit`,
  jitCredentials: parseCredentials('proc:Secret-Passw0rd-1234!'),
  webhookUrl: `${origin}/hooks`,
  webhookCredentials: parseCredentials('hooks:Other-Passw0rd-1234!'),
  webhookSecret: 'shh',
  deadlineMs: 2000,
  retryDelaysMs: [10, 20]
})

t.test('a JIT request carries Basic auth; a 402 is a decline with its reason; a late answer is a timeout', async t => {
  const declined = await processor.requestFunding({ a: 1 })
  t.same([declined.status, declined.approved, declined.timedOut, declined.declineReason], [402, false, false, 'INSUFFICIENT_FUNDS'])
  t.equal(seen.at(-1)?.auth, 'Basic ' + Buffer.from('proc:Secret-Passw0rd-1234!').toString('base64'))
  jitDelayMs = 3000
  const late = await processor.requestFunding({ a: 2 })
  jitDelayMs = 0
  t.same([late.status, late.timedOut, late.declineReason], [null, true, 'TIMEOUT'])
  t.ok(late.latencyMs >= 1990, `waited the whole deadline (${Math.round(late.latencyMs)} ms)`)
  const unreachable = await processor.with({ jitUrl: 'http://127.0.0.1:9/jit' }).requestFunding({})
  t.same([unreachable.timedOut, unreachable.declineReason], [false, 'GATEWAY_UNREACHABLE'])
})

t.test('webhooks go in signed batches of at most 10, each retried until 200', async t => {
  seen.length = 0
  hookStatuses = [503, 500]
  const events = Array.from({ length: 23 }, (_, i) => ({ token: `e-${i}` }))
  const deliveries = await processor.deliverWebhooks('transactions', events)
  t.same(deliveries.map(d => d.events), [10, 10, 3])
  t.same(deliveries[0]?.statuses, [503, 500, 200], 'the first batch took three attempts')
  t.ok(deliveries.every(d => d.delivered))
  const verify = createSignatureVerifier(['shh'])
  t.equal(seen.length, 5)
  for (const s of seen) t.ok(verify(Buffer.from(s.body), s.signature), 'signed over the raw body')
  t.same((JSON.parse(seen.at(-1)?.body ?? '{}') as { transactions: unknown[] }).transactions.length, 3)

  hookStatuses = [500, 500, 500]
  const [failed] = await processor.deliverWebhooks('transactions', [{ token: 'x' }])
  t.same([failed?.delivered, failed?.attempts], [false, 3], 'given up after the schedule')
  hookStatuses = []
  t.equal((await processor.ping()).delivered, true)
  t.match(seen.at(-1)?.body, '"pings"')
})

t.test("the processor's backoff: 10 retries, each four times the last, from 4 s", async t => {
  const real = processorBackoff()
  t.equal(real.length, 10)
  t.same(real.slice(0, 3), [4000, 16000, 64000])
  t.ok(real.reduce((a, b) => a + b, 0) > 11 * 86_400_000, 'about 12 days in all')
  t.same(processorBackoff(0.001, 3), [4, 16, 64])
})
