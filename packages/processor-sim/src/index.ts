/**
 * @jit/processor-sim: the messages a Marqeta-style processor sends (JIT funding requests and
 * transaction webhooks), built the way it builds them, for tests, demos and benchmarks.
 * @packageDocumentation
 */
export {
  simToken, jitFundingRequest, transactionEvent, purchasesOf, webhookBatch,
  type SimCard, type JitRequestSpec, type WebhookSpec, type SimPurchase
} from './messages.js'
export * from './load/index.js'
export { createRandom, transactionFields, spendAmount, type SimRandom, type SimMerchant, type SimTransactionFields } from './random.js'
export {
  createProcessor, processorBackoff, parseCredentials,
  type Processor, type ProcessorOptions, type JitOutcome, type WebhookDelivery, type Credentials
} from './processor.js'
export { startSlowGateway, type SlowGateway } from './slow-gateway.js'
export {
  createProvisioner, applyCommand, provisionCardholder, seedProgram, demoCard, CommandError,
  type Provisioner, type CommandAnswer, type CardholderSpec, type SeededProgram
} from './provision.js'
export { createOperatorClient, type OperatorClient, type AccountBalances } from './operator.js'
export { SCENARIOS, runScenarios, formatScenarioTable, type Scenario, type ScenarioContext, type ScenarioResult, type ScenarioRunOptions } from './scenarios.js'
export { runJitLoad, type JitLoadOptions } from './traffic.js'
export { parsePrometheus, histogramQuantile, buildReport, formatReport, type Sample, type DemoReport, type Percentiles } from './report.js'
export { readSimSettings, DEFAULT_URLS, type SimSettings } from './settings.js'
export { buildSandboxApp, startSandbox, type SandboxOptions, type RunningSandbox } from './sandbox/server.js'
export { SandboxState, type FundingSource, type WebhookEndpoint, type SandboxTransaction } from './sandbox/state.js'
export { runSimCli, SIM_EXIT, type SimCliIo } from './run-cli.js'
