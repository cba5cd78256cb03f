import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createDatabase } from '@jit/postgres'
import * as ledger from '@jit/ledger'
import { signBody } from '@jit/http-auth'
import { jitFundingRequest, purchasesOf, webhookBatch } from '@jit/processor-sim'
import { createTestDatabase, createTestRedisPrefix, createTestVhost, freePort, fundedCards, sharedRedisUrl, sleep, waitFor } from '@jit/test-support'
import { CREDENTIALS, ROOT, basic, plainRequest, serviceEnv, startService, tempDir, track } from './helper.js'
import { metricNames, operands } from './promql.js'

const run = promisify(execFile)

// A real Prometheus (Debian's package) with a loopback rendering of infra/prometheus/prometheus.yml
// scrapes the three services running as processes; every dashboard query and every alert
// operand is evaluated against it: each returns series and names only metrics the services export.
// No assertion at the top level: tap would end the file's test at the first one.
t.setTimeout(240_000)
const startedAt = Date.now()
const PROM_DIR = join(ROOT, 'infra/prometheus')
const DASHBOARD_DIR = join(ROOT, 'infra/grafana/dashboards')

const databaseUrl = await createTestDatabase(t, 'prom')
const amqpUrl = await createTestVhost(t, 'prom')
const redisPrefix = createTestRedisPrefix(t, 'prom')
const work = tempDir(t, 'prom')
const env = serviceEnv(databaseUrl, amqpUrl, sharedRedisUrl, redisPrefix)
const [pAuth, pIngest, pWorker] = await Promise.all([freePort(), freePort(), freePort()])
const authorizer = await startService(t, 'jit-authorizer', pAuth, env, work)
const [ingest, worker] = await Promise.all([
  startService(t, 'webhook-ingest', pIngest, env, work),
  startService(t, 'txn-worker', pWorker, env, work)
])
const services = [authorizer, ingest, worker]

/** The deployed scrape configuration with loopback targets and 1 s intervals. */
function renderPrometheus (dir: string, promPort: number): string {
  let conf = readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')
  const replace = (from: string, to: string): void => {
    if (!conf.includes(from)) throw new Error(`infra/prometheus/prometheus.yml no longer contains ${JSON.stringify(from)}: update the test's rendering`)
    conf = conf.replace(from, to)
  }
  const dns = (name: string, port: number): string => `    dns_sd_configs:\n      - names: ['${name}']\n        type: A\n        port: ${port}\n        refresh_interval: 30s\n`
  const staticTarget = (port: number): string => `    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`
  replace('scrape_interval: 15s', 'scrape_interval: 1s')
  replace('scrape_timeout: 5s', 'scrape_timeout: 1s')
  replace('evaluation_interval: 15s', 'evaluation_interval: 1s')
  replace("- targets: ['jit-authorizer-1:3001', 'jit-authorizer-2:3001']", `- targets: ['127.0.0.1:${pAuth}']`)
  replace(dns('webhook-ingest', 3002), staticTarget(pIngest))
  replace(dns('txn-worker', 3003), staticTarget(pWorker))
  replace("- targets: ['localhost:9090']", `- targets: ['127.0.0.1:${promPort}']`)
  const file = join(dir, 'prometheus.yml')
  writeFileSync(file, conf)
  copyFileSync(join(PROM_DIR, 'alerts.yml'), join(dir, 'alerts.yml'))
  return file
}

const promDir = tempDir(t, 'prom-run')
const promPort = await freePort()
const promConfig = renderPrometheus(promDir, promPort)
const prometheus = spawn('prometheus', [
  `--config.file=${promConfig}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'
], { stdio: ['ignore', 'ignore', 'pipe'] })
track(prometheus)
let promStderr = ''
prometheus.stderr?.setEncoding('utf8').on('data', (c: string) => { promStderr += c })
t.teardown(async () => {
  if (prometheus.exitCode === null && prometheus.signalCode === null) {
    prometheus.kill('SIGTERM')
    await new Promise(resolve => prometheus.once('exit', resolve))
  }
})
await waitFor(async () => {
  if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${promStderr}`)
  return (await plainRequest(promPort, '/-/ready').catch(() => ({ status: 0 }))).status === 200
}, 30_000, 'prometheus ready')

interface QueryResult { status: string, error?: string, data?: { resultType: string, result: unknown } }
async function query (expr: string): Promise<QueryResult> {
  const res = await plainRequest(promPort, `/api/v1/query?query=${encodeURIComponent(expr)}`)
  return JSON.parse(res.body) as QueryResult
}
function hasSeries (r: QueryResult): boolean {
  if (r.status !== 'success' || r.data === undefined) return false
  if (r.data.resultType === 'scalar') return !Number.isNaN(Number((r.data.result as [number, string])[1]))
  return Array.isArray(r.data.result) && r.data.result.length > 0
}

// Traffic, so every series the dashboards read exists: approvals, a decline, a webhook applied.
const db = createDatabase({ url: databaseUrl, poolMin: 0, poolMax: 2 })
t.teardown(() => db.close(2))
const card = await fundedCards(ledger)(db, 'prom', 100_000)
const jitHeaders = { authorization: basic(CREDENTIALS.jit) }
const sim = purchasesOf(card)
const purchase = sim.purchase(1000)
for (const body of [sim.request(purchase), jitFundingRequest(card, { amount: 500 }), jitFundingRequest(card, { amount: 10_000_000 })]) {
  await plainRequest(pAuth, '/v1/jit-funding', { method: 'POST', headers: jitHeaders, body: JSON.stringify(body) })
}
const raw = JSON.stringify(webhookBatch('transactions', [sim.pending(purchase)]))
const webhook = await plainRequest(pIngest, '/v1/webhooks/marqeta', {
  method: 'POST', body: raw, headers: { authorization: basic(CREDENTIALS.webhook), 'x-marqeta-signature': signBody(raw, CREDENTIALS.hmacSecret, 'sha256') }
})
if (webhook.status !== 200) throw new Error(`webhook refused: ${webhook.status} ${webhook.body}`)
// A few scrapes after the traffic, so rates have two samples that differ.
await waitFor(async () => hasSeries(await query('sum(txn_worker_webhook_to_ledger_lag_seconds_count) > 0')), 30_000, 'the webhook applied and scraped')
await waitFor(async () => hasSeries(await query('count_over_time(up{job="txn-worker"}[1m]) >= 4')), 30_000, 'four scrapes')
await sleep(2000)
t.comment(`stack up and scraped in ${Date.now() - startedAt} ms`)

// What the services export: the names in their /metrics (histograms with their series suffixes).
const exported = new Set<string>(['up'])
for (const s of services) {
  const text = (await plainRequest(s.port, '/metrics')).body
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string]
    exported.add(name)
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix)
  }
}

t.test('promtool accepts the configuration and the rules', async t => {
  const config = await run('promtool', ['check', 'config', join(PROM_DIR, 'prometheus.yml')])
  t.match(config.stdout + config.stderr, /SUCCESS/, 'check config')
  const rules = await run('promtool', ['check', 'rules', join(PROM_DIR, 'alerts.yml')])
  t.match(rules.stdout + rules.stderr, /SUCCESS: \d+ rules found/, 'check rules')
})

t.test('every scrape target is up and every series has a service label', async t => {
  const up = await query('up{job=~"jit-authorizer|webhook-ingest|txn-worker"}')
  const result = up.data?.result as Array<{ metric: Record<string, string>, value: [number, string] }>
  t.equal(result.length, 3)
  for (const r of result) t.equal(r.value[1], '1', `${r.metric.job} is up`)
  const unlabelled = await query('count({job=~"jit-authorizer|webhook-ingest|txn-worker", service=""}) - count({job=~"jit-authorizer|webhook-ingest|txn-worker", __name__=~"up|scrape_.*"})')
  const left = (unlabelled.data?.result as Array<{ value: [number, string] }>)[0]?.value[1] ?? '0'
  t.equal(left, '0', 'only Prometheus\'s own up/scrape_* series lack a service label')
})

const alerts = readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8')
const alertExprs = [...alerts.matchAll(/- alert: (\S+)\n(?:\s+#.*\n)*\s+expr: (>-\n((?:\s{10}.*\n)+)|(.*)\n)/g)]
  .map(m => ({ alert: m[1] as string, expr: (m[3] ?? m[4] ?? '').split('\n').map(l => l.trim()).join(' ').trim() }))

t.test('every alert expression names exported metrics and each of its operands returns series', async t => {
  t.ok(alertExprs.length >= 10, `${alertExprs.length} alerts read from alerts.yml`)
  for (const { alert, expr } of alertExprs) {
    for (const name of metricNames(expr)) t.ok(exported.has(name), `${alert}: ${name} is exported`)
    const whole = await query(expr)
    t.equal(whole.status, 'success', `${alert} evaluates${whole.error === undefined ? '' : `: ${whole.error}`}`)
    for (const part of operands(expr)) t.ok(hasSeries(await query(part)), `${alert}: ${part} returns series`)
  }
  const rules = JSON.parse((await plainRequest(promPort, '/api/v1/rules')).body) as { data: { groups: Array<{ rules: Array<{ name: string, health: string, lastError?: string }> }> } }
  const loaded = rules.data.groups.flatMap(g => g.rules)
  t.equal(loaded.length, alertExprs.length, 'Prometheus loaded every rule')
  for (const r of loaded) t.equal(r.health, 'ok', `${r.name} evaluated by Prometheus${r.lastError === undefined || r.lastError === '' ? '' : `: ${r.lastError}`}`)
  const firing = JSON.parse((await plainRequest(promPort, '/api/v1/alerts')).body) as { data: { alerts: Array<{ labels: { alertname: string }, state: string }> } }
  t.same(firing.data.alerts.filter(a => a.state === 'firing' && a.labels.alertname !== 'JitApprovalRateDropped').map(a => a.labels.alertname), [],
    'a healthy stack fires nothing (the approval-rate alert may see this test\'s one decline)')
})

t.test('every dashboard query names exported metrics and returns series', async t => {
  const files = readdirSync(DASHBOARD_DIR).filter(f => f.endsWith('.json'))
  t.ok(files.length > 0, 'dashboards exist')
  for (const file of files) {
    const dashboard = JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as { uid: string, panels: Array<{ title: string, type: string, datasource?: { uid: string }, targets?: Array<{ expr: string }>, panels?: unknown[] }> }
    t.type(dashboard.uid, 'string', `${file} has a uid`)
    const panels = dashboard.panels.filter(p => p.type !== 'row')
    t.ok(panels.length >= 10, `${file}: ${panels.length} panels`)
    for (const panel of panels) {
      t.equal(panel.datasource?.uid, 'prometheus', `${panel.title}: the provisioned datasource`)
      for (const target of panel.targets ?? []) {
        // Grafana's interval variable, as Grafana would substitute it at this scrape interval
        const expr = target.expr.replaceAll('$__rate_interval', '1m')
        for (const name of metricNames(expr)) t.ok(exported.has(name), `${panel.title}: ${name} is exported`)
        const r = await query(expr)
        t.ok(hasSeries(r), `${panel.title}: ${target.expr} returns series${r.error === undefined ? '' : `: ${r.error}`}`)
      }
    }
  }
  const provisioned = readFileSync(join(ROOT, 'infra/grafana/provisioning/datasources/prometheus.yml'), 'utf8')
  t.match(provisioned, /uid: prometheus/, 'the datasource the panels name is provisioned')
})

t.teardown(() => { t.comment(`prometheus suite: ${Date.now() - startedAt} ms`) })
