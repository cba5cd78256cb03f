import t from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { runOpenLoop, runClosedLoop, decodeLatencyHistogram, isHeld, highestHeldRate, type LoadResult } from '../../src/index.js'

/** A local HTTP server answering after `delayMs(seq)`, with the status `statusOf(path)`. */
async function server (delayMs: () => number, statusOf: (path: string) => number = () => 200): Promise<{ origin: string, seen: () => number, close: () => Promise<void> }> {
  let seen = 0
  const s: Server = createServer((req, res) => {
    seen++
    req.resume()
    req.on('end', () => setTimeout(() => { res.statusCode = statusOf(req.url ?? '/'); res.end('{"ok":true}') }, delayMs()))
  })
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    seen: () => seen,
    close: async () => { s.closeAllConnections(); await new Promise<void>(resolve => s.close(() => resolve())) }
  }
}

t.test('open loop sends at the fixed rate and accounts for every scheduled request', async t => {
  const srv = await server(() => 0)
  t.teardown(srv.close)
  const r = await runOpenLoop({ origin: srv.origin, rate: 200, durationMs: 1000, maxInFlight: 16, request: seq => ({ path: `/jit/${seq}`, body: '{}' }) })
  t.equal(r.mode, 'open')
  t.equal(r.scheduled, 200)
  t.equal(r.sent + r.unsent, r.scheduled)
  t.equal(r.unsent, 0, 'a fast server leaves nothing unsent')
  t.equal(r.ok, r.sent)
  t.equal(srv.seen(), r.sent, 'the server saw every request sent')
  t.ok(r.throughput > 150 && r.throughput <= 210, `throughput ${r.throughput} near the rate`)
  t.equal(decodeLatencyHistogram(r.histogram).totalCount, r.ok, 'the histogram holds every answer')
  t.ok(r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max)
})

t.test('open loop counts what it could not send and measures latency from the scheduled time', async t => {
  const srv = await server(() => 300)
  t.teardown(srv.close)
  const r = await runOpenLoop({ origin: srv.origin, rate: 100, durationMs: 1000, maxInFlight: 5, request: () => ({ path: '/' }) })
  t.equal(r.sent + r.unsent, 100)
  t.ok(r.unsent > 50, `5 connections at 300 ms each cannot carry 100/s: ${r.unsent} unsent`)
  t.ok(r.latencyMs.p50 >= 300, `latency includes the server's 300 ms: p50 ${r.latencyMs.p50}`)
  t.notOk(isHeld(r), 'a phase with unsent requests is not held')
})

t.test('closed loop keeps each connection busy and measures from the send', async t => {
  const srv = await server(() => 20)
  t.teardown(srv.close)
  const r = await runClosedLoop({ origin: srv.origin, connections: 4, durationMs: 600, request: () => ({ path: '/' }) })
  t.equal(r.mode, 'closed')
  t.equal(r.unsent, 0)
  t.equal(r.ok, r.sent)
  // 4 connections at >= 20 ms per answer: at most 200/s, and well above 1 connection's 50/s
  t.ok(r.throughput <= 210 && r.throughput > 60, `throughput ${r.throughput}`)
  t.ok(r.latencyMs.p50 >= 20, `p50 ${r.latencyMs.p50} >= the server's 20 ms`)
})

t.test('errors are counted by kind: status, check, network', async t => {
  const srv = await server(() => 0, path => path === '/fail' ? 503 : 200)
  t.teardown(srv.close)
  const bad = await runClosedLoop({ origin: srv.origin, connections: 2, durationMs: 200, request: seq => ({ path: seq % 2 === 0 ? '/fail' : '/' }) })
  t.ok(bad.errorKinds['status:503']! > 0)
  t.equal(bad.errors + bad.ok, bad.sent)
  const checked = await runClosedLoop({
    origin: srv.origin,
    connections: 1,
    durationMs: 200,
    request: () => ({ path: '/' }),
    check: (status, body) => status === 200 && body === '{"wrong":true}'
  })
  t.equal(checked.ok, 0)
  t.equal(checked.errorKinds.check, checked.sent, 'the check sees the body and refuses it')
  await srv.close()
  const refused = await runOpenLoop({ origin: srv.origin, rate: 50, durationMs: 200, maxInFlight: 2, request: () => ({ path: '/' }) })
  t.equal(refused.ok, 0)
  t.equal(refused.errors, refused.sent)
  t.ok(Object.keys(refused.errorKinds).length > 0, `network errors by code: ${JSON.stringify(refused.errorKinds)}`)
})

t.test('the highest held rate is the highest phase within p99 and failure limits', async t => {
  const phase = (rate: number, p99: number, errors: number): LoadResult => ({
    mode: 'open',
    targetRate: rate,
    connections: 8,
    durationMs: 1000,
    scheduled: 1000,
    sent: 1000,
    unsent: 0,
    ok: 1000 - errors,
    errors,
    errorKinds: {},
    statuses: {},
    throughput: rate,
    latencyMs: { p50: 1, p90: 1, p99, p999: p99, max: p99, mean: 1 },
    histogram: '',
    maxScheduleLagMs: 0
  })
  t.equal(highestHeldRate([phase(100, 5, 0), phase(200, 40, 0), phase(300, 60, 0), phase(400, 10, 5)]), 200)
  t.equal(highestHeldRate([phase(100, 80, 0)]), 0)
  t.ok(isHeld(phase(100, 80, 0), { p99Ms: 100 }))
})

t.test('bad options are refused before anything is sent', async t => {
  await t.rejects(runOpenLoop({ origin: 'http://127.0.0.1:1', rate: 0, durationMs: 100, maxInFlight: 1, request: () => ({ path: '/' }) }), RangeError)
  await t.rejects(runClosedLoop({ origin: 'http://127.0.0.1:1', connections: 0, durationMs: 100, request: () => ({ path: '/' }) }), RangeError)
})
