import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'dotenv'
import {
  CommonConfig, JitAuthorizerConfig, TxnWorkerConfig, WebhookIngestConfig, describeConfig, loadConfig,
  isPlaceholderSecret, ConfigError
} from '../src/index.js'

const path = fileURLToPath(new URL('../../../.env.example', import.meta.url))
const text = readFileSync(path, 'utf8')
const example = parse(text)
const schemas = { CommonConfig, JitAuthorizerConfig, WebhookIngestConfig, TxnWorkerConfig }

t.test('.env.example loads through every service schema', async t => {
  t.equal(example.DEPLOY_ENV, 'local')
  const jit = loadConfig(JitAuthorizerConfig, example)
  t.equal(jit.PORT, 3001, 'PORT is left empty so each service keeps its default')
  t.equal(loadConfig(WebhookIngestConfig, example).PORT, 3002)
  t.equal(loadConfig(TxnWorkerConfig, example).PORT, 3003)
  t.equal(loadConfig(CommonConfig, example).DEPLOY_ENV, 'local')
})

t.test('.env.example secrets are placeholders refused outside local', async t => {
  for (const [name, schema] of Object.entries(schemas)) {
    for (const v of describeConfig(schema).filter(v => v.secret)) {
      const value = example[v.name]
      if (value === undefined || value === '') continue
      t.ok(isPlaceholderSecret(value), `${name}.${v.name} is an obvious placeholder`)
    }
  }
  t.throws(() => loadConfig(JitAuthorizerConfig, { ...example, DEPLOY_ENV: 'production' }), ConfigError)
})

t.test('.env.example lists every variable of every schema, and nothing else', async t => {
  const documented = new Set<string>()
  for (const [name, schema] of Object.entries(schemas)) {
    for (const v of describeConfig(schema)) {
      documented.add(v.name)
      t.ok(v.name in example, `${name}.${v.name} is in .env.example`)
      t.match(text, new RegExp(`# [^\\n]+\\n(?:#[^\\n]*\\n)*${v.name}=`), `${v.name} has a comment`)
    }
  }
  for (const name of Object.keys(example)) t.ok(documented.has(name), `${name} belongs to a schema`)
})

t.test('.env.example shows each default', async t => {
  // Local development deliberately differs from the production default here.
  const localOverrides = new Set(['DEPLOY_ENV'])
  for (const schema of Object.values(schemas)) {
    for (const v of describeConfig(schema)) {
      if (v.default === undefined || localOverrides.has(v.name)) continue
      const value = example[v.name]
      if (value === '') {
        // An empty value falls back to the default: the comment must state it instead.
        t.match(text, new RegExp(`Default[^\\n]*${String(v.default)}[\\s\\S]*?\\n${v.name}=`), `${v.name} default is documented`)
      } else {
        t.equal(value, String(v.default), `${v.name} shows its default`)
      }
      t.match(text, new RegExp(`Default[^\\n]*${String(v.default).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), `${v.name} default is in a comment`)
    }
  }
})
