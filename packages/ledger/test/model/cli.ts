/**
 * Long mode of the model-based test:
 *   pnpm --filter @jit/ledger run model -- --ops 1000000 --seed 42 [--max-ops 40] [--workers 2] [--exclude flag,flag]
 * Prints the seed first and, on a failure, the shrunk history; the same seed replays it.
 */
import { parseArgs } from 'node:util'
import { ModelRunner, checkLedgerModel, modelDatabase } from './runner.js'
import type { GeneratorFlag } from './generate.js'

const { values } = parseArgs({
  args: process.argv.slice(2).filter(a => a !== '--'),
  options: {
    ops: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    'max-ops': { type: 'string', default: '40' },
    exclude: { type: 'string', default: '' },
    workers: { type: 'string', default: '2' }
  }
})
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const ops = Number(values.ops)
const maxOps = Number(values['max-ops'])
const workers = Number(values.workers)
if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(ops) || ops < 1 || !Number.isSafeInteger(maxOps) || maxOps < 1 || !Number.isSafeInteger(workers) || workers < 1) {
  console.error('usage: model -- --ops N --seed N [--max-ops N] [--workers N] [--exclude flag,flag]')
  process.exit(2)
}
const exclude = new Set(values.exclude.split(',').filter(f => f !== '')) as Set<GeneratorFlag>
console.log(`ledger model: seed ${seed}, ${ops} operations, up to ${maxOps} per history, ${workers} databases at once${exclude.size > 0 ? `, excluding ${[...exclude].join(',')}` : ''}`)

const cleanups: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }
const started = Date.now()
let code = 1
try {
  const runners: ModelRunner[] = []
  for (let w = 0; w < workers; w++) {
    const runner = new ModelRunner(await modelDatabase(t))
    await runner.init()
    runners.push(runner)
  }
  const { stats, failure } = await checkLedgerModel(runners, { seed, ops, maxOpsPerHistory: maxOps, exclude, log: line => console.log(line) })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`${stats.histories} histories, ${stats.ops} operations in ${seconds} s (seed ${seed})`)
  for (const runner of runners) console.log(`time (ms): ${JSON.stringify(Object.fromEntries(Object.entries(runner.timing).map(([k, v]) => [k, Math.round(v)])))}`)
  if (failure !== null) console.log(failure)
  code = failure === null ? 0 : 1
} finally {
  for (const fn of cleanups.reverse()) await fn()
}
process.exit(code)
