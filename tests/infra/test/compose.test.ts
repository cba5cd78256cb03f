import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { ROOT, tempDir } from './helper.js'

const run = promisify(execFile)

// docker-compose.yml validated offline by docker-compose v1 (no engine needed), in a temporary
// copy with .env.example copied to .env, as the README tells a newcomer to do.
const dir = tempDir(t, 'compose')
copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'))

interface ComposeService {
  image?: string
  build?: unknown
  healthcheck?: { test: string[] }
  depends_on?: Record<string, { condition: string }>
  volumes?: Array<string | { source?: string, target?: string, type?: string }>
  environment?: Record<string, string>
}

t.test('without .env the file does not validate (the README\'s copy step is needed)', async t => {
  await t.rejects(run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir }), /\.env/)
})

t.test('docker-compose config -q accepts the file, and the stack is the one the issue lists', async t => {
  copyFileSync(join(ROOT, '.env.example'), join(dir, '.env'))
  const check = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir })
  t.equal(check.stderr, '', 'no warnings')
  const source = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Record<string, unknown>
  t.notOk('version' in source, 'no obsolete version key')

  const resolved = parse((await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: dir })).stdout) as { services: Record<string, ComposeService>, volumes: Record<string, unknown> }
  const services = resolved.services
  t.same(Object.keys(services).sort(), ['grafana', 'jit-authorizer-1', 'jit-authorizer-2', 'mongo', 'nginx', 'postgres', 'prometheus', 'rabbitmq', 'redis', 'txn-worker', 'webhook-ingest'])
  for (const [name, s] of Object.entries(services)) {
    t.ok(s.healthcheck?.test !== undefined && s.healthcheck.test.length > 0, `${name} has a health check`)
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) t.match(d.condition, /^service_(healthy|started)$/, `${name} -> ${dep} has a condition`)
  }
  t.match(services.postgres?.image, /^postgres:1[67]\b/, 'PostgreSQL 16 or 17')
  t.match(services.rabbitmq?.image, /^rabbitmq:(3\.13|4\.\d+)-management$/, 'RabbitMQ 3.13 or 4.x with the management plugin')
  for (const name of ['jit-authorizer-1', 'jit-authorizer-2', 'webhook-ingest', 'txn-worker']) {
    const s = services[name] as ComposeService
    t.ok(s.build !== undefined, `${name} is built from the Dockerfile`)
    t.equal(s.environment?.DEPLOY_ENV, 'local', `${name} reads .env (env_file, inlined by config)`)
    t.equal(s.depends_on?.postgres?.condition, 'service_healthy', `${name} waits for a healthy PostgreSQL`)
    t.match(s.environment?.DATABASE_URL, /@postgres:5432\//, `${name} reaches PostgreSQL by its service name`)
  }
  t.equal(services['jit-authorizer-1']?.depends_on?.rabbitmq?.condition, 'service_started', 'the authorizer does not wait for RabbitMQ')
  for (const name of ['jit-authorizer-1', 'jit-authorizer-2', 'webhook-ingest', 'txn-worker']) {
    t.equal(services.nginx?.depends_on?.[name]?.condition, 'service_healthy', `nginx starts once ${name} is ready`)
  }
  t.same(Object.keys(resolved.volumes).sort(), ['grafana-data', 'mongo-data', 'postgres-data', 'prometheus-data', 'rabbitmq-data'], 'named volumes')
  const mounts = (name: string): string => JSON.stringify(services[name]?.volumes ?? [])
  t.match(mounts('nginx'), /infra\/nginx\/nginx\.conf/, 'nginx runs the tested configuration')
  t.match(mounts('prometheus'), /infra\/prometheus/, 'Prometheus runs the tested scrape configuration and alerts')
  t.match(mounts('grafana'), /infra\/grafana\/provisioning/, 'Grafana is provisioned')
})

t.test('one multi-stage Dockerfile on Node 24: production dependencies only, non-root', async t => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)]
  t.ok(stages.length >= 2, 'multi-stage')
  t.match(dockerfile, /^ARG NODE_IMAGE=node:24-/m, 'Node 24')
  t.match(dockerfile, /pnpm install --frozen-lockfile --prod/, 'production dependencies only in the image')
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  t.match(runtime, /^USER node$/m, 'the runtime stage runs as the node user')
  t.notMatch(runtime, /^USER root$/m)
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  for (const entry of ['.env', '**/node_modules', 'infra/nginx/certs']) t.match(ignore, entry, `${entry} stays out of the image`)
})
