/// <reference lib="dom" />
// (page.evaluate callbacks run in the browser)
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { getAccount } from '@jit/ledger'
import { waitFor } from '@jit/test-support'
import { sessionKeyPrefix } from '../src/console/plugin.js'
import { build, queueDepth, txEvent, txRoutingKey } from './helper.js'
import { buildConsoleApp, consoleCardholder, consoleSettings, flakyLedger, sessionRedis } from './fixtures/console.js'

// Debian's chromium (Playwright cannot download browsers here); installed once if missing.
const CHROMIUM = '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) spawnSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'ignore', timeout: 300_000 })
if (!existsSync(CHROMIUM)) {
  t.fail(`${CHROMIUM} is missing and apt-get install -y chromium did not install it`)
  process.exit(1)
}
const SHOTS = fileURLToPath(new URL('../.tap/console/', import.meta.url))
mkdirSync(SHOTS, { recursive: true })

const env = await build(t)
// a refund dead-letters while the ledger is broken and is re-driven from the console once it is fixed
const flaky = flakyLedger()
env.startWorker({ ledger: flaky.ledger })

const password = 'Console-Operator-Passw0rd-2026'
const settings = consoleSettings(env, 'support', password)
const app = await buildConsoleApp(t, env, settings)
const base = await app.listen({ host: '127.0.0.1', port: 0 })

const redis = await sessionRedis(t)
const { c, approved, declined } = await consoleCardholder(env, `browser-${process.pid}`)
const pending = txEvent(c, { type: 'authorization', state: 'PENDING', amount: 1200, jit: { token: approved.jitToken, method: 'pgfs.authorization' } })
await env.sendEvent(txRoutingKey(pending), pending)
// the refund that dead-letters while the ledger is "down"
const refund = txEvent(c, { type: 'refund', state: 'COMPLETION', amount: 700 })
await env.sendEvent(txRoutingKey(refund), refund)
await waitFor(async () => await queueDepth(env.amqp, 'transactions.dead') >= 2, 20_000, 'both events dead-lettered')
flaky.broken = false

const browser: Browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
})
t.teardown(() => browser.close())
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
const page = await context.newPage()
const problems: string[] = []
page.on('console', msg => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${page.url()}: ${msg.text()}`) })
page.on('pageerror', err => { problems.push(`${page.url()}: ${err.message}`) })
page.on('response', res => { if (res.status() >= 500) problems.push(`${res.url()}: HTTP ${res.status()}`) })

const unlabelled: string[] = []
async function shot (p: Page, name: string): Promise<void> {
  await p.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true })
  // every control has an accessible name (a label, its text, or aria-label)
  const missing = await p.evaluate(() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, button, textarea'))
    .filter(el => (el as HTMLInputElement).labels?.length === 0 && (el.textContent ?? '').trim() === '' && el.getAttribute('aria-label') === null)
    .map(el => el.outerHTML))
  unlabelled.push(...missing.map(m => `${name}: ${m}`))
}

t.test('sign in, search a just-declined card and see its reason and memo', async t => {
  await page.goto(`${base}/console/`)
  t.match(page.url(), /\/console\/login/, 'sent to the login page')
  await shot(page, '01-login')
  await page.getByLabel('Operator').fill('support')
  await page.getByLabel('Password').fill(password)
  await page.keyboard.press('Enter')
  await page.waitForURL(`${base}/console/`)
  await shot(page, '02-search')
  // the search box has the focus: type and press Enter
  await page.keyboard.type(c.card)
  await page.keyboard.press('Enter')
  await page.waitForURL(`${base}/console/cards/${c.card}`)
  const row = page.locator(`tr[data-jit="${declined.jitToken}"]`)
  t.match(await row.innerText(), /INSUFFICIENT_FUNDS/)
  t.match(await row.innerText(), /available balance is below the amount/, 'the memo')
  t.match(await row.innerText(), /9999\.99 USD/)
  await shot(page, '03-card')
})

t.test('open the hold of the approved purchase', async t => {
  await page.locator(`tr[data-jit="${approved.jitToken}"] a[href*="/holds/"]`).click()
  await page.waitForURL(`${base}/console/holds/${approved.jitToken}`)
  t.equal(await page.locator('#hold-state').innerText(), 'OPEN')
  t.match(await page.locator('main').innerText(), /Remaining\s+12\.00 USD/)
  await shot(page, '04-hold')
  await page.goto(`${base}/console/accounts/${c.account}/holds?state=OPEN`)
  t.match(await page.locator('table').innerText(), new RegExp(approved.jitToken))
  await shot(page, '05-holds')
})

t.test('re-drive a dead letter and see it applied', async t => {
  await page.getByRole('link', { name: 'Dead letters' }).click()
  await page.getByRole('navigation', { name: 'Queues' }).getByRole('link', { name: 'transactions' }).click()
  const body = await page.locator('main').innerText()
  t.match(body, /ledger unavailable \(test\)/, 'the reason')
  await shot(page, '06-dead-letters')
  await page.getByRole('link', { name: /Re-drive all of transactions\.dead/ }).click()
  await shot(page, '07-redrive-confirm')
  await page.getByRole('button', { name: 'Re-drive' }).click()
  await page.waitForURL(/\/console\/actions\/\d+$/)
  t.equal(await page.locator('#action-outcome').innerText(), 'done')
  await waitFor(async () => (await getAccount(env.db.sql, c.account))?.balance === 5700, 20_000, 'the re-driven refund applied')
  const [action] = await env.db.sql<Array<{ operator: string, action: string, outcome: string }>>`select operator, action, outcome from operator_actions order by id desc limit 1`
  t.match(action, { operator: 'support', action: 'dead_letter.redrive_all', outcome: 'done' }, 'recorded who, what and when')
  await shot(page, '08-action')
})

t.test('the timeline shows the decisions, webhooks and money with balance and available after', async t => {
  await waitFor(async () => (await env.archive.query({ card_token: c.card, kind: 'webhook' })).length >= 2, 20_000, 'webhooks archived')
  await page.goto(`${base}/console/timeline?card=${c.card}`)
  const table = await page.locator('#timeline').innerText()
  t.match(table, /INSUFFICIENT_FUNDS/)
  t.match(table, /refund/)
  t.match(table, /57\.00 USD/, 'balance after the refund')
  t.match(table, /Grocery Store/, 'the merchant from the webhook')
  await shot(page, '09-timeline')
  await page.goto(`${base}/console/health`)
  t.match(await page.locator('main').innerText(), /Approval rate/)
  t.equal(await page.locator('svg[role=img]').count(), 1, 'the chart')
  await shot(page, '10-health')
  await page.goto(`${base}/console/actions`)
  await shot(page, '11-actions')
})

t.test('on a phone the card page still reads', async t => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, storageState: await context.storageState() })
  const p = await phone.newPage()
  p.on('console', msg => { if (msg.type() === 'error') problems.push(`${p.url()}: ${msg.text()}`) })
  await p.goto(`${base}/console/cards/${c.card}`)
  t.match(await p.locator('main').innerText(), /INSUFFICIENT_FUNDS/)
  await shot(p, '12-card-phone')
  await phone.close()
})

t.test('a write without the CSRF token is refused', async t => {
  const res = await page.request.post(`${base}/console/holds/${approved.jitToken}/release`, { form: { reason: 'no token' } })
  t.equal(res.status(), 403)
  const forged = await page.request.post(`${base}/console/dead-letters/redrive`, { form: { queue: 'transactions', _csrf: 'forged' } })
  t.equal(forged.status(), 403)
  const [hold] = await env.db.sql<Array<{ state: string }>>`select state from holds where hold_token = ${approved.jitToken}`
  t.equal(hold?.state, 'OPEN', 'nothing released')
})

t.test('sign-out ends the session in Redis', async t => {
  const cookie = (await context.cookies()).find(k => k.name === 'jit_console')
  t.ok(cookie, 'a session cookie')
  t.equal(cookie?.httpOnly, true)
  const sid = decodeURIComponent(cookie?.value ?? '').split('.')[0] ?? ''
  const key = `${sessionKeyPrefix(settings)}${sid}`
  t.equal(await redis.exists(key), 1, 'the session is in Redis')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(/\/console\/login/)
  t.equal(await redis.exists(key), 0, 'and gone after sign-out')
  await page.goto(`${base}/console/cards/${c.card}`)
  t.match(page.url(), /\/console\/login/, 'the console asks to sign in again')
})

t.test('no console errors on any page, and every control is labelled', async t => {
  t.same(problems, [])
  t.same(unlabelled, [])
})
