// BASE: the simplest correct JIT authorizer, the benchmark's yardstick. node:http, Basic auth,
// JSON.parse, and ONE statement per request: record the decision (once per token), raise the
// account's `held` only if the available balance covers the amount, insert the hold. A repeated
// token changes nothing and gets the answer its hold says. No cache, no events, no limits.
//
// env: BASE_PORT, BASE_DATABASE_URL, BASE_POOL_MAX (default 20), BASE_BASIC_AUTH (user:password)
import { createServer } from 'node:http'
import postgres from 'postgres'

const port = Number(process.env.BASE_PORT ?? 3099)
const sql = postgres(process.env.BASE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/jit', {
  max: Number(process.env.BASE_POOL_MAX ?? 20),
  onnotice: () => {}
})
const expected = 'Basic ' + Buffer.from(process.env.BASE_BASIC_AUTH ?? 'base:base').toString('base64')

function minorUnits (amount) {
  const [whole, frac = ''] = String(amount).split('.')
  return Number(whole) * 100 + Number((frac + '00').slice(0, 2))
}

async function decide (jf, cardToken) {
  const amount = minorUnits(jf.amount)
  const [row] = await sql`
    with d as (
      insert into base.decisions (jit_token, card_token, amount) values (${jf.token}, ${cardToken}, ${amount})
      on conflict (jit_token) do nothing returning jit_token
    ), a as (
      update base.accounts set held = held + ${amount}
      where exists (select 1 from d)
        and account_token = (select account_token from base.cards where card_token = ${cardToken})
        and balance - held >= ${amount}
      returning account_token
    ), h as (
      insert into base.holds (jit_token, account_token, amount) select ${jf.token}, account_token, ${amount} from a
    )
    select exists (select 1 from d) as fresh, exists (select 1 from a) as approved
  `
  if (row.fresh) return row.approved
  const [held] = await sql`select 1 from base.holds where jit_token = ${jf.token}`
  return held !== undefined
}

const server = createServer((req, res) => {
  if (req.url === '/health') { res.end('ok'); return }
  if (req.method !== 'POST' || req.headers.authorization !== expected) { res.statusCode = 401; res.end(); return }
  const chunks = []
  req.on('data', c => chunks.push(c))
  req.on('end', () => {
    let body
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { res.statusCode = 400; res.end(); return }
    const jf = (body.gpa_order ?? body.gpa_order_unload)?.jit_funding
    if (jf === undefined || typeof jf.token !== 'string') { res.statusCode = 400; res.end(); return }
    decide(jf, body.card_token).then(approved => {
      const answer = { token: jf.token, method: jf.method, user_token: jf.user_token, amount: jf.amount }
      if (!approved) answer.decline_reason = 'INSUFFICIENT_FUNDS'
      res.statusCode = approved ? 200 : 402
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ jit_funding: answer }))
    }, err => {
      process.stderr.write(`base: ${err.message}\n`)
      res.statusCode = 500
      res.end()
    })
  })
})
server.keepAliveTimeout = 60_000
server.listen(port, '127.0.0.1')
process.on('SIGTERM', () => { server.close(); sql.end({ timeout: 2 }).then(() => process.exit(0)) })
