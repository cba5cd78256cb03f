/**
 * @jit/contracts: exact money, the JIT vocabulary, and TypeBox schemas of every HTTP body and
 * AMQP message with their routing keys. Pure code: no I/O, no configuration.
 *
 * Naming: a schema is exported under its name (`JitProgramResponse`), its static TypeScript type
 * under the same name with a `T` suffix (`JitProgramResponseT`), as in @jit/config.
 * @packageDocumentation
 */
export * from './money.js'
export * from './jit.js'
export * from './jit-schemas.js'
export * from './webhook-schemas.js'
export * from './amqp.js'
export * from './asyncapi.js'
export * from './http-schemas.js'
export * from './validate.js'
// literalGuard stays internal (the contracts' own type guards are built with it)
export { literalUnion } from './literals.js'
export * from './storable.js'
