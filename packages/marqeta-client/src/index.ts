/**
 * @jit/marqeta-client: the processor's Core API calls a JIT program makes, with timeouts, retries
 * on 429/5xx and errors that name the call.
 * @packageDocumentation
 */
export {
  createMarqetaClient, MarqetaApiError,
  type MarqetaClient, type MarqetaClientOptions, type GatewayFundingSourceRequest, type GatewayFundingSource,
  type WebhookRequest, type Webhook, type ProcessorTransaction, type ListTransactionsOptions
} from './client.js'
