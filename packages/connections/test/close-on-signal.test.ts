import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { waitFor } from '@jit/test-support'
import { testConfig, testServers } from './helper.js'

t.test('closeOnSignal: on SIGTERM /ready turns 503 while requests are served, then everything closes and the process exits 0', async t => {
  const servers = await testServers(t)
  const config = testConfig(servers, { SHUTDOWN_DRAIN_MS: '1500', SHUTDOWN_TIMEOUT_MS: '5000' })
  const child = spawn(process.execPath, ['--conditions=@jit/source', '--import', 'tsx', fileURLToPath(new URL('./fixtures/signal-process.ts', import.meta.url))], {
    env: { ...process.env, JIT_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))

  const port = await waitFor(() => /port (\d+)/.exec(out)?.[1] ?? null, 30_000, 'the process listening')
  const ready = async (): Promise<number> => (await fetch(`http://127.0.0.1:${port}/ready`)).status
  t.equal(await ready(), 200, 'ready before the signal')

  child.kill('SIGTERM')
  await waitFor(async () => await ready() === 503, 5000, '/ready 503 while draining')
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, 'still serving during the drain')
  t.notMatch(out, /stopping/, 'the drain is not over yet')

  const code = await exited
  t.equal(code, 0, code === 0 ? 'exits 0' : `exits 0\n${err}`)
  t.match(out, /stopping/, 'onStopping ran after the drain')
  t.match(err, /shutting down/)
  t.match(err, /connections closed[\s\S]*"msg":"closed"/, 'the connections closed before the process said closed')
})
