import t from 'tap'
import { EXIT_CONFIG, WebhookIngestConfig, loadServiceConfig } from '../src/index.js'

/** Runs `fn` with process.exit and stderr captured (an entry point's exit becomes a thrown status). */
function captured<T> (fn: () => T): { status: number | null, stderr: string, value?: T } {
  const exit = process.exit
  const write = process.stderr.write
  let stderr = ''
  process.stderr.write = ((chunk: string) => { stderr += chunk; return true }) as typeof process.stderr.write
  process.exit = ((code?: number) => { throw Object.assign(new Error('exit'), { status: code }) }) as typeof process.exit
  try {
    return { status: null, stderr, value: fn() }
  } catch (err) {
    return { status: (err as { status?: number }).status ?? null, stderr }
  } finally {
    process.exit = exit
    process.stderr.write = write
  }
}

t.test('a wrong configuration exits 78 naming each variable, and never prints the secret', async t => {
  const bad = captured(() => loadServiceConfig(WebhookIngestConfig, 'fixture-service', {
    DEPLOY_ENV: 'production', WEBHOOK_BASIC_AUTH: 'marqeta:example-change-me-Passw0rd-2026', PORT: 'not-a-port'
  }))
  t.equal(EXIT_CONFIG, 78)
  t.equal(bad.status, 78, 'EX_CONFIG')
  t.match(bad.stderr, /^fixture-service: /)
  t.match(bad.stderr, /PORT/)
  t.match(bad.stderr, /WEBHOOK_BASIC_AUTH/)
  t.notMatch(bad.stderr, /example-change-me/, 'the value of a secret is not in the message')

  const good = captured(() => loadServiceConfig(WebhookIngestConfig, 'fixture-service', { DEPLOY_ENV: 'local', WEBHOOK_BASIC_AUTH: 'marqeta:example-change-me-Passw0rd-2026' }))
  t.equal(good.status, null, 'no exit')
  t.equal(good.value?.PORT, 3002)
})
