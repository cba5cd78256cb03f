import { Type } from '@sinclair/typebox'
import { HttpErrorBody } from '@jit/contracts'

/** 200 of `POST /v1/webhooks/marqeta`: every event of the batch is durably accepted. */
export const WebhookAccepted = Type.Object({
  family: Type.String(),
  events: Type.Integer({ description: 'Events in the batch' }),
  published: Type.Integer({ description: 'Events published (0 for pings, which are only answered)' })
}, { additionalProperties: false })

/** Every error status answers the contract's error body. */
export const ErrorReply = HttpErrorBody
