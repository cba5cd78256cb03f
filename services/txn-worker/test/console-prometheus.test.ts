import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Histogram, Registry } from 'prom-client'
import { freePort, waitFor } from '@jit/test-support'
import { readJitStageP99 } from '../src/console/health.js'

// The console reads the JIT stage p99 from Prometheus: a private Prometheus scrapes a registry
// with jit-authorizer's stage histogram, and the console's query must find each stage's p99 in the
// bucket its observations fall in.
t.test('a Prometheus that does not answer is given up after the timeout (CONSOLE_PROMETHEUS_TIMEOUT_MS)', async t => {
  // accepts the request and never answers
  const silent = createServer(() => {})
  const port = await freePort()
  await new Promise<void>(resolve => silent.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { silent.closeAllConnections(); silent.close(() => { resolve() }) }))
  const started = Date.now()
  const r = await readJitStageP99(`http://127.0.0.1:${port}`, 300)
  const ms = Date.now() - started
  t.match(r.error, /Prometheus unreachable/)
  t.ok(ms >= 250 && ms < 1500, `given up after ${ms} ms (timeout 300; the default is 2000)`)
})

const PROMETHEUS = '/usr/bin/prometheus'
if (!existsSync(PROMETHEUS)) spawnSync('apt-get', ['install', '-y', 'prometheus'], { stdio: 'ignore', timeout: 300_000 })
if (!existsSync(PROMETHEUS)) {
  t.fail(`${PROMETHEUS} is missing and apt-get install -y prometheus did not install it`)
} else {
  const registry = new Registry()
  const stages = new Histogram({
    name: 'jit_stage_duration_seconds',
    help: 'each decision stage',
    labelNames: ['stage'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 1.5, 3],
    registers: [registry]
  })
  const observe = setInterval(() => {
    for (let i = 0; i < 20; i++) {
      stages.observe({ stage: 'user' }, 0.0007)
      stages.observe({ stage: 'decision' }, 0.004)
    }
  }, 100)
  t.teardown(() => clearInterval(observe))
  const server = createServer((_req, res) => {
    registry.metrics().then(text => { res.setHeader('content-type', registry.contentType); res.end(text) }, () => { res.statusCode = 500; res.end() })
  })
  const targetPort = await freePort()
  await new Promise<void>(resolve => server.listen(targetPort, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => { resolve() })))

  const dir = mkdtempSync(join(tmpdir(), 'console-prom-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: jit-authorizer\n    static_configs:\n      - targets: ['127.0.0.1:${targetPort}']\n`)
  const promPort = await freePort()
  const prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' })
  t.teardown(async () => {
    prom.kill('SIGTERM')
    await new Promise(resolve => prom.once('exit', resolve))
  })
  const url = `http://127.0.0.1:${promPort}`

  t.test('the JIT stage p99 per stage, from Prometheus', async t => {
    const { p99Ms } = await waitFor(async () => {
      const r = await readJitStageP99(url)
      return r.p99Ms.user !== undefined && r.p99Ms.decision !== undefined ? r : null
    }, 30_000, 'Prometheus to have scraped two samples')
    t.ok((p99Ms.user ?? 0) > 0.5 && (p99Ms.user ?? 0) <= 1, `user p99 ${p99Ms.user} ms is in the 0.5-1 ms bucket`)
    t.ok((p99Ms.decision ?? 0) > 2.5 && (p99Ms.decision ?? 0) <= 5, `decision p99 ${p99Ms.decision} ms is in the 2.5-5 ms bucket`)
  })

  t.test('an unreachable Prometheus is reported, not thrown', async t => {
    const r = await readJitStageP99(`http://127.0.0.1:${await freePort()}`)
    t.match(r.error, /Prometheus unreachable/)
    t.same(r.p99Ms, {})
  })
}
