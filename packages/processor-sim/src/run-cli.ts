import { parseArgs } from 'node:util'
import type { Environment } from '@jit/config'
import { createProcessor } from './processor.js'
import { createProvisioner, seedProgram, demoCard } from './provision.js'
import { createOperatorClient } from './operator.js'
import { runScenarios, formatScenarioTable, SCENARIOS } from './scenarios.js'
import { runJitLoad } from './traffic.js'
import { buildReport, formatReport } from './report.js'
import { readSimSettings, type SimSettings } from './settings.js'
import { startSandbox } from './sandbox/server.js'

/** Where {@link runSimCli} reads its configuration and writes its output. */
export interface SimCliIo {
  env: Environment
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** Whether stderr is a terminal (a redrawn progress bar) or not (progress lines). */
  interactive?: boolean
  /** Resolves when the user asks `serve` to stop (Ctrl-C). */
  stopSignal?: Promise<void>
}

export const SIM_EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 })

const USAGE = `Usage: jit-sim <command> [options]

A local stand-in for the card processor: it sends JIT funding requests and webhooks to the
services the way the processor does.

Commands:
  scenarios [--filter <text>] [--seed <n>] [--concurrency <n>] [--json]
      Every sequence of the ledger's expected results, a slow gateway and a balance inquiry;
      prints a table and exits 1 when any balance or available differs.
  seed [--prefix <p>] [--cardholders <n>] [--funding <decimal>]
      Provisions a demo program through the AMQP commands (cardholders already there are kept).
  load --rate <n> --seconds <s> [--prefix <p>] [--cardholders <n>] [--seed <n>] [--json]
      Open-loop JIT authorizations from the demo program's cards; latency from each request's
      scheduled time, unsent requests counted.
  report [--json]
      Approval rate, decline reasons, stage and end-to-end percentiles, webhook-to-ledger lag,
      cache hit rate and dead letters, from the services' metrics.
  demo [--rate <n>] [--seconds <s>]
      seed, scenarios, load and report in one run with a progress bar; exits 1 when a scenario fails.
  serve [--port <n>] [--host <h>] [--prefix <p>] [--cardholders <n>]
      The processor's sandbox API on a local port: /simulate/*, /simulations/cardtransactions/*
      and the Core API calls a program makes (funding source, webhooks, transactions, resend).

Options of every command:
  --gateway <url>   jit-authorizer (default http://127.0.0.1:3001)
  --ingest <url>    webhook-ingest (default http://127.0.0.1:3002)
  --worker <url>    txn-worker's operator API (default http://127.0.0.1:3003)
  --deadline-ms <n> how long the processor waits for a JIT answer (default 3000)

Credentials and the broker come from the services' own variables (JIT_BASIC_AUTH,
WEBHOOK_BASIC_AUTH, WEBHOOK_HMAC_SECRET, OPERATOR_BASIC_AUTH, AMQP_URL), read from the environment
and the .env file of the current directory.
`

class UsageError extends Error {}

function wholeNumber (name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be a whole number >= ${min}, got '${String(value)}'`)
  return Number(value)
}

function progress (io: SimCliIo, label: string): (done: number, total: number) => void {
  let lastLine = -1
  return (done, total) => {
    const fraction = total === 0 ? 1 : done / total
    if (io.interactive === true) {
      const width = 30
      const filled = Math.round(fraction * width)
      io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${label} ${done}/${total}${done === total ? '\n' : ''}`)
    } else {
      const tenth = Math.floor(fraction * 10)
      if (tenth !== lastLine) { lastLine = tenth; io.stderr(`${label}: ${done}/${total}\n`) }
    }
  }
}

async function fetchText (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  return await res.text()
}

async function report (s: SimSettings): Promise<ReturnType<typeof buildReport>> {
  const [am, wm, ready] = await Promise.all([
    fetchText(new URL('/metrics', s.gatewayUrl).href),
    fetchText(new URL('/metrics', s.workerUrl).href),
    fetchText(new URL('/ready', s.workerUrl).href)
  ])
  return buildReport(am, wm, JSON.parse(ready))
}

/**
 * The CLI behind `jit-sim`: parses `argv` (without node and the script), runs the command against
 * the services, resolves the exit code. Errors go to `stderr`, never thrown.
 */
export async function runSimCli (argv: string[], io: SimCliIo): Promise<number> {
  let positionals: string[]
  let values: Record<string, string | boolean | undefined>
  let settings: SimSettings
  try {
    ({ positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        gateway: { type: 'string' },
        ingest: { type: 'string' },
        worker: { type: 'string' },
        'deadline-ms': { type: 'string' },
        filter: { type: 'string' },
        seed: { type: 'string' },
        concurrency: { type: 'string' },
        json: { type: 'boolean' },
        prefix: { type: 'string' },
        cardholders: { type: 'string' },
        funding: { type: 'string' },
        rate: { type: 'string' },
        seconds: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    io.stderr(`jit-sim: ${(err as Error).message}\n\n${USAGE}`)
    return SIM_EXIT.usage
  }
  const command = positionals.join(' ')
  if (values.help === true || command === '' || command === 'help') {
    io.stdout(USAGE)
    return command === '' && values.help !== true ? SIM_EXIT.usage : SIM_EXIT.ok
  }
  try {
    if (!['scenarios', 'seed', 'load', 'report', 'demo', 'serve'].includes(command)) throw new UsageError(`unknown command '${command}'`)
    if (command === 'load' && (values.rate === undefined || values.seconds === undefined)) throw new UsageError('load needs --rate and --seconds')
    if (values.funding !== undefined && !/^\d{1,12}(\.\d{1,2})?$/.test(String(values.funding))) throw new UsageError(`--funding must be a decimal amount like 1000.00, got '${String(values.funding)}'`)
    settings = readSimSettings(io.env, {
      ...(typeof values.gateway === 'string' ? { gateway: values.gateway } : {}),
      ...(typeof values.ingest === 'string' ? { ingest: values.ingest } : {}),
      ...(typeof values.worker === 'string' ? { worker: values.worker } : {}),
      deadlineMs: wholeNumber('deadline-ms', values['deadline-ms'], 3000)
    })
  } catch (err) {
    io.stderr(`jit-sim: ${(err as Error).message}\n${err instanceof UsageError ? `\n${USAGE}` : ''}`)
    return SIM_EXIT.usage
  }

  const prefix = typeof values.prefix === 'string' ? values.prefix : 'demo'
  const processorOptions = {
    jitUrl: new URL('/v1/jit-funding', settings.gatewayUrl).href,
    jitCredentials: settings.jitCredentials,
    webhookUrl: new URL('/v1/webhooks/marqeta', settings.ingestUrl).href,
    webhookCredentials: settings.webhookCredentials,
    webhookSecret: settings.webhookSecret,
    deadlineMs: settings.deadlineMs,
    // a local run cannot wait the processor's real 4 s .. 12 days: the same x4 schedule, shortened
    retryDelaysMs: [250, 1000, 4000]
  }
  const processor = createProcessor(processorOptions)
  const operator = createOperatorClient({ baseUrl: settings.workerUrl, credentials: settings.operatorCredentials })

  try {
    const cardholders = wholeNumber('cardholders', values.cardholders, 20)
    const seed = wholeNumber('seed', values.seed, 1, 0)
    const seedDemo = async (): Promise<void> => {
      const provisioner = await createProvisioner({ amqpUrl: settings.amqpUrl })
      try {
        const program = await seedProgram(provisioner, operator, { prefix, cardholders, funding: typeof values.funding === 'string' ? values.funding : '10000.00', onProgress: progress(io, 'seed') })
        io.stdout(`seeded program '${prefix}': ${program.cards.length} cardholders (${program.created} new), e.g. user ${program.cards[0]?.user ?? '-'} card ${program.cards[0]?.card ?? '-'}\n`)
      } finally {
        await provisioner.close()
      }
    }
    const scenarios = async (): Promise<boolean> => {
      const provisioner = await createProvisioner({ amqpUrl: settings.amqpUrl })
      try {
        const total = SCENARIOS.filter(s => typeof values.filter !== 'string' || s.name.includes(values.filter)).length
        const bar = progress(io, 'scenarios')
        bar(0, total)
        const results = await runScenarios({
          processor,
          provisioner,
          operator,
          seed,
          concurrency: wholeNumber('concurrency', values.concurrency, 4),
          ...(typeof values.filter === 'string' ? { filter: values.filter } : {}),
          onResult: (_r, done, all) => { bar(done, all) }
        })
        io.stdout(values.json === true && command === 'scenarios' ? JSON.stringify(results, null, 2) + '\n' : formatScenarioTable(results))
        return results.length > 0 && results.every(r => r.ok)
      } finally {
        await provisioner.close()
      }
    }
    const load = async (rate: number, seconds: number): Promise<void> => {
      const cards = Array.from({ length: cardholders }, (_, i) => demoCard(prefix, i))
      const bar = progress(io, `load ${rate}/s`)
      let elapsed = 0
      bar(0, seconds)
      const timer = setInterval(() => { if (elapsed < seconds) bar(++elapsed, seconds) }, 1000)
      let result
      try {
        result = await runJitLoad({ gatewayUrl: settings.gatewayUrl, credentials: settings.jitCredentials, cards, rate, seconds, seed, deadlineMs: settings.deadlineMs })
      } finally {
        clearInterval(timer)
        if (elapsed < seconds) bar(seconds, seconds)
      }
      if (values.json === true && command === 'load') {
        io.stdout(JSON.stringify({ ...result, histogram: undefined }, null, 2) + '\n')
        return
      }
      const l = result.latencyMs
      io.stdout(`load: ${result.sent} sent of ${result.scheduled} scheduled (${result.unsent} unsent), ${result.ok} answered, ${result.errors} errors ${JSON.stringify(result.errorKinds)}\n` +
        `      statuses ${JSON.stringify(result.statuses)}, ${result.throughput.toFixed(1)} answers/s, latency from schedule p50 ${l.p50.toFixed(1)} ms, p90 ${l.p90.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms\n`)
    }

    switch (command) {
      case 'seed':
        await seedDemo()
        return SIM_EXIT.ok
      case 'scenarios':
        return await scenarios() ? SIM_EXIT.ok : SIM_EXIT.failed
      case 'load':
        await load(wholeNumber('rate', values.rate, 50), wholeNumber('seconds', values.seconds, 30))
        return SIM_EXIT.ok
      case 'report': {
        const r = await report(settings)
        io.stdout(values.json === true ? JSON.stringify(r, null, 2) + '\n' : formatReport(r))
        return SIM_EXIT.ok
      }
      case 'demo': {
        await seedDemo()
        const passed = await scenarios()
        await load(wholeNumber('rate', values.rate, 50), wholeNumber('seconds', values.seconds, 30))
        io.stdout('\n' + formatReport(await report(settings)))
        if (!passed) io.stderr('jit-sim: a scenario failed\n')
        return passed ? SIM_EXIT.ok : SIM_EXIT.failed
      }
      default: {
        const sandbox = await startSandbox({
          processor: processorOptions,
          cards: Array.from({ length: cardholders }, (_, i) => demoCard(prefix, i)),
          host: typeof values.host === 'string' ? values.host : '127.0.0.1',
          port: wholeNumber('port', values.port, 3010, 0)
        })
        io.stdout(`processor sandbox listening on ${sandbox.url} (driving ${settings.gatewayUrl} and ${settings.ingestUrl}); try:\n` +
          `  curl -s -u app-token:access-token -X POST ${sandbox.url}/simulate/authorization -H 'content-type: application/json' -d '{"card_token":"${demoCard(prefix, 0).card}","amount":12.5,"mid":"123456890"}'\n`)
        await (io.stopSignal ?? new Promise<void>(() => {}))
        await sandbox.close()
        return SIM_EXIT.ok
      }
    }
  } catch (err) {
    io.stderr(`jit-sim ${command}: ${(err as Error).message}\n`)
    return err instanceof UsageError ? SIM_EXIT.usage : SIM_EXIT.failed
  }
}
