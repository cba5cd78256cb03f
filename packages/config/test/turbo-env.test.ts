import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CommonConfig, JitAuthorizerConfig, TxnWorkerConfig, WebhookIngestConfig, describeConfig } from '../src/index.js'

// turbo 2 drops every variable a task does not declare: one missing from globalPassThroughEnv is
// silently replaced by its default under `pnpm dev` and `pnpm test`.
const turbo = JSON.parse(readFileSync(fileURLToPath(new URL('../../../turbo.json', import.meta.url)), 'utf8')) as { globalPassThroughEnv: string[] }

t.test('turbo passes every configuration variable through to its tasks', async t => {
  const passed = new Set(turbo.globalPassThroughEnv)
  for (const schema of [CommonConfig, JitAuthorizerConfig, WebhookIngestConfig, TxnWorkerConfig]) {
    for (const v of describeConfig(schema)) t.ok(passed.has(v.name), `${v.name} is in turbo.json globalPassThroughEnv`)
  }
})
