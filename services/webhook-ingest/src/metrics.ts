import { Counter, Histogram, type Registry } from 'prom-client'
import { isKnownWebhookFamily } from '@jit/contracts'

/** Why a request was refused with 401. */
export type AuthFailureKind = 'basic_missing' | 'basic_invalid' | 'signature_missing' | 'signature_invalid'

/** What became of one webhook POST. */
export type BatchOutcome = 'accepted' | 'ping' | 'invalid' | 'unauthorized' | 'unavailable'

/** The webhook counters and histogram, registered on the app's own registry. */
export interface WebhookMetrics {
  batch: (family: string | null, outcome: BatchOutcome) => void
  eventsPublished: (family: string, count: number) => void
  authFailure: (kind: AuthFailureKind) => void
  invalid: (error: string) => void
  /** Starts timing a batch's publishes; call the result with the outcome once all settled. */
  timePublish: () => (outcome: 'confirmed' | 'failed') => void
}

// An unknown family is accepted and routed by name, but it must not mint a new time series per
// name: label values stay the known list plus 'other'.
function familyLabel (family: string | null): string {
  if (family === null) return 'none'
  return isKnownWebhookFamily(family) ? family : 'other'
}

/** Registers the webhook metrics on `registry` (one registry per app, never the global one). */
export function createWebhookMetrics (registry: Registry): WebhookMetrics {
  // Every webhook counter: labelled, on this app's registry.
  const counter = <L extends string> (name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    new Counter({ name, help, labelNames, registers: [registry] })
  const batches = counter('webhook_batches_total', 'Webhook POSTs by family and outcome (accepted, ping, invalid, unauthorized, unavailable)', ['family', 'outcome'])
  const events = counter('webhook_events_published_total', 'Webhook events published and confirmed by the broker, by family', ['family'])
  const authFailures = counter('webhook_auth_failures_total', 'Webhook requests refused with 401, by kind (basic_missing, basic_invalid, signature_missing, signature_invalid)', ['kind'])
  const invalid = counter('webhook_invalid_requests_total', 'Webhook requests refused with 4xx for their body, by error code', ['error'])
  const publishSeconds = new Histogram({
    name: 'webhook_publish_duration_seconds',
    help: 'Time from the first publish of a batch to the last broker confirm (or the first failure)',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  })
  return {
    batch: (family, outcome) => { batches.inc({ family: familyLabel(family), outcome }) },
    eventsPublished: (family, count) => { events.inc({ family: familyLabel(family) }, count) },
    authFailure: (kind) => { authFailures.inc({ kind }) },
    invalid: (error) => { invalid.inc({ error }) },
    timePublish: () => {
      const end = publishSeconds.startTimer()
      return (outcome) => { end({ outcome }) }
    }
  }
}
