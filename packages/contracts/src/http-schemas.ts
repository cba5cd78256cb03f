import { Type, type Static } from '@sinclair/typebox'

/**
 * Body of every 4xx outside the JIT route (which answers 402 with a `jit_funding` instead):
 * a stable machine-readable `error`, a human `message`, and the offending fields.
 */
export const HttpErrorBody = Type.Object({
  error: Type.String({ description: 'Machine-readable code, e.g. INVALID_BODY, UNAUTHORIZED' }),
  message: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON Pointer of the field' }),
    message: Type.String()
  }, { additionalProperties: false })))
}, { additionalProperties: false })
export type HttpErrorBodyT = Static<typeof HttpErrorBody>
