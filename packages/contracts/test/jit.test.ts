import t from 'tap'
import {
  DECLINE_REASONS,
  JIT_METHODS,
  JIT_METHOD_CLASSES,
  classifyJitMethod,
  isActionableJitClass,
  isDeclineReason,
  isJitMethod
} from '../src/index.js'
import { loadFixture, loadSwagger, type Swagger } from '@jit/test-support'

type Definitions = Record<string, { properties: Record<string, { enum?: string[] }> }>
const fixture = loadFixture() as Swagger & { definitions: Definitions }

t.test('JIT_METHODS is exactly the swagger enum', async (t) => {
  const fromFixture = fixture.definitions.jit_funding_api?.properties.method?.enum
  t.same([...JIT_METHODS], fromFixture)
  t.equal(JIT_METHODS.length, 50)
  const full = loadSwagger().swagger as Swagger & { definitions: Definitions }
  t.same([...JIT_METHODS], full.definitions.jit_funding_api?.properties.method?.enum, 'and the swagger in use agrees')
})

t.test('DECLINE_REASONS is the fixed list of docs/processor-protocol.md', async (t) => {
  t.equal(DECLINE_REASONS.length, 20)
  t.equal(new Set(DECLINE_REASONS).size, 20, 'no duplicates')
  for (const r of ['INSUFFICIENT_FUNDS', 'INVALID_AMOUNT', 'DUPLICATE_TRANSACTION', 'AMOUNT_LIMIT_EXCEEDED', 'TRANSACTION_NOT_PERMITTED',
    'SOFT_DECLINE_AUTHENTICATION_REQUIRED', 'REVOCATION_ALL_AUTHORIZATION_ORDER']) {
    t.ok(isDeclineReason(r), r)
  }
  t.notOk(isDeclineReason('insufficient_funds'))
  t.notOk(isDeclineReason('DECLINED'))
  t.notOk(isDeclineReason(undefined))
})

t.test('classifyJitMethod: the actionable methods', async (t) => {
  const expected: Record<string, string> = {
    'pgfs.authorization': 'authorization',
    'pgfs.authorization.cashback': 'authorization',
    'pgfs.authorization.quasi.cash': 'authorization',
    'pgfs.atm.withdrawal': 'authorization',
    'pgfs.pindebit.authorization': 'authorization',
    'pgfs.billpayment': 'authorization',
    'pgfs.authorization.incremental': 'incremental',
    'pgfs.auth_plus_capture': 'immediate_debit',
    'pgfs.pindebit': 'immediate_debit',
    'pgfs.pindebit.cashback': 'immediate_debit',
    'pgfs.pindebit.atm.withdrawal': 'immediate_debit',
    'pgfs.pindebit.quasi.cash': 'immediate_debit',
    'pgfs.authorization.account_verification': 'account_verification',
    'pgfs.refund.authorization': 'refund_authorization',
    'pgfs.original.credit.authorization': 'refund_authorization',
    'pgfs.balanceinquiry': 'balance_inquiry',
    'pgfs.pindebit.balanceinquiry': 'balance_inquiry'
  }
  for (const [method, cls] of Object.entries(expected)) t.equal(classifyJitMethod(method), cls, method)
})

t.test('classifyJitMethod: completions, reversals, disputes, adjustments and stand-ins are informative', async (t) => {
  for (const method of [
    'pgfs.authorization.clearing', 'pgfs.authorization.advice', 'pgfs.authorization.capture', 'pgfs.authorization.reversal',
    'pgfs.refund', 'pgfs.refund.authorization.reversal', 'pgfs.refund.authorization.clearing', 'pgfs.force_capture',
    'pgfs.authorization.capture.chargeback', 'pgfs.authorization.capture.chargeback.reversal',
    'pgfs.pindebit.chargeback', 'pgfs.pindebit.chargeback.reversal', 'pgfs.pindebit.refund',
    'pgfs.pindebit.authorization.clearing', 'pgfs.pindebit.authorization.reversal',
    'pgfs.dispute.credit', 'pgfs.dispute.debit', 'pgfs.adjustment.credit', 'pgfs.adjustment.debit',
    'pgfs.directdeposit.credit', 'pgfs.directdeposit.debit.reversal',
    'pgfs.auth_plus_capture.standin', 'pgfs.authorization.standin',
    'pgfs.atm.clearing.withdrawal', 'pgfs.authorization.clearing.quasi.cash', 'pgfs.billpayment.capture', 'pgfs.billpayment.reversal',
    'pgfs.original.credit.authorization.clearing', 'pgfs.original.credit.authorization.reversal'
  ]) {
    t.equal(classifyJitMethod(method), 'informative', method)
  }
  for (const method of JIT_METHODS) {
    if (method.endsWith('.standin') || method.includes('reversal') || method.includes('chargeback') || method.includes('clearing')) {
      t.equal(classifyJitMethod(method), 'informative', `${method} by name`)
    }
  }
})

t.test('every enum value is classified, nothing else is', async (t) => {
  for (const method of JIT_METHODS) {
    const cls = classifyJitMethod(method)
    t.not(cls, 'unknown', method)
    t.ok(JIT_METHOD_CLASSES.includes(cls), `${method} -> ${cls}`)
    t.ok(isJitMethod(method))
  }
  for (const method of ['', 'pgfs', 'PGFS.AUTHORIZATION', 'pgfs.authorization ', 'pgfs.authorization.new_thing', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    t.equal(classifyJitMethod(method), 'unknown', JSON.stringify(method))
    t.notOk(isJitMethod(method))
  }
  t.equal(classifyJitMethod(undefined as unknown as string), 'unknown', 'a non-string never crashes')
})

t.test('isActionableJitClass', async (t) => {
  t.ok(isActionableJitClass('authorization'))
  t.ok(isActionableJitClass('balance_inquiry'))
  t.notOk(isActionableJitClass('informative'))
  t.notOk(isActionableJitClass('unknown'))
})
