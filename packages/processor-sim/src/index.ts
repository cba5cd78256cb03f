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
