import { Type, type Static } from '@sinclair/typebox'

/**
 * The one vocabulary of HTTP error codes of the three services, each with its status. The
 * webhook route's finer 400 codes are part of its documented contract; everything else that is
 * refused as malformed is INVALID_REQUEST.
 */
export const HTTP_ERRORS = {
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_BODY: 400,
  INVALID_FAMILY: 400,
  EMPTY_BATCH: 400,
  BATCH_TOO_LARGE: 400,
  INVALID_EVENT: 400,
  EVENT_TOO_DEEP: 400,
  UNAUTHORIZED: 401,
  INVALID_SIGNATURE: 401,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  BROKER_UNAVAILABLE: 503
} as const satisfies Record<string, number>
/** One of {@link HTTP_ERRORS}. */
export type HttpErrorCode = keyof typeof HTTP_ERRORS

/**
 * Body of every error answer outside the JIT route's 200/402 (which carry a `jit_funding`):
 * a stable machine-readable `error` from {@link HTTP_ERRORS}, a human `message`, and `field`, the
 * JSON Pointer of the offending field when there is one.
 */
export const HttpErrorBody = Type.Object({
  error: Type.String({ description: `Machine-readable code: ${Object.keys(HTTP_ERRORS).join(', ')}` }),
  message: Type.String(),
  field: Type.Optional(Type.String({ description: 'JSON Pointer of the offending field, e.g. /transactions/1/token' }))
}, { additionalProperties: false })
export type HttpErrorBodyT = Static<typeof HttpErrorBody>

/** An error body of the vocabulary (`field` only when given). */
export function httpError (error: HttpErrorCode, message: string, field?: string): HttpErrorBodyT {
  return field === undefined ? { error, message } : { error, message, field }
}
