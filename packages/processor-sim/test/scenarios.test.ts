import t from 'tap'
import { runSimCli, SCENARIOS } from '../src/index.js'
import { startServices } from './helper.js'

// Every scenario against the three services as separate processes, through the CLI a user runs:
// the JIT requests and signed webhooks over HTTP, provisioning over AMQP, balances from the
// operator API.
const services = await startServices(t)

async function cli (...args: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await runSimCli([...args, '--gateway', services.gatewayUrl, '--ingest', services.ingestUrl, '--worker', services.workerUrl], {
    env: services.env,
    stdout: (s) => { out += s },
    stderr: (s) => { err += s }
  })
  return { code, out, err }
}

t.test('jit-sim scenarios: every expected result of the ledger, a slow gateway and a balance inquiry', async t => {
  const started = Date.now()
  const { code, out, err } = await cli('scenarios')
  t.comment(`scenarios took ${Date.now() - started} ms`)
  t.equal(code, 0, `every scenario passes\n${out}\n${err}\n${code === 0 ? '' : services.logs()}`)
  for (const s of SCENARIOS) t.match(out, new RegExp(`^PASS  ${s.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s`, 'm'), s.name)
  t.match(out, `${SCENARIOS.length} of ${SCENARIOS.length} scenarios passed`)
})

t.test('jit-sim seed twice provisions once; load and report read the services', async t => {
  const first = await cli('seed', '--cardholders', '3', '--prefix', 'ci')
  t.equal(first.code, 0, first.err)
  t.match(first.out, '3 cardholders (3 new)')
  const second = await cli('seed', '--cardholders', '3', '--prefix', 'ci')
  t.match(second.out, '3 cardholders (0 new)', 'a second seed changes nothing')

  const load = await cli('load', '--rate', '20', '--seconds', '2', '--cardholders', '3', '--prefix', 'ci', '--json')
  t.equal(load.code, 0, load.err)
  const result = JSON.parse(load.out) as { scheduled: number, sent: number, unsent: number, ok: number, errors: number, statuses: Record<string, number> }
  t.equal(result.scheduled, result.sent + result.unsent)
  t.ok(result.ok > 0 && result.errors === 0, `answered: ${load.out}`)

  const report = await cli('report', '--json')
  t.equal(report.code, 0, report.err)
  const r = JSON.parse(report.out) as { decisions: number, approvalRate: number, endToEnd: { p50: number | null }, webhookToLedger: { count: number }, deadLetters: number }
  t.ok(r.decisions >= result.ok, 'the load is counted by the authorizer')
  t.ok(r.approvalRate > 0 && r.approvalRate <= 1)
  t.ok(r.endToEnd.p50 !== null && r.endToEnd.p50 > 0)
  t.ok(r.webhookToLedger.count > 0, 'the scenarios\' webhooks reached the ledger')
  t.equal(r.deadLetters, 0)
})

t.test('bad usage is a clear error, not a crash', async t => {
  const res = await cli('load', '--rate', 'fast', '--seconds', '1')
  t.equal(res.code, 2)
  t.match(res.err, "--rate must be a whole number >= 1, got 'fast'")
  t.equal((await cli('nope')).code, 2)
})
