import t from 'tap'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import { serializeError } from '../../src/logging/loggable-error.js'

const TENANT_TEXT = 'The Halvorsen acquisition closes on the ninth of March.'

t.test('a failed query keeps its SQL and SQLSTATE, never its parameters', async (t) => {
  const driverError = Object.assign(new Error('could not extend file "base/16384/16521": No space left on device'), { code: '53100', detail: `Key (text)=(${TENANT_TEXT}) is …`, parameters: [TENANT_TEXT] })
  const error = new DrizzleQueryError('insert into "chunks" ("text") values ($1)', [TENANT_TEXT], driverError)
  const logged = serializeError(error)
  const line = JSON.stringify(logged)
  t.notOk(line.includes('Halvorsen'), 'no parameter, no detail, in any field or stack')
  t.equal(logged.message, 'Failed query: insert into "chunks" ("text") values ($1) (parameters withheld)')
  t.match(logged.cause, { type: 'Error', code: '53100', message: /No space left on device/ })
  t.match(logged.stack, /^ {4}at /, 'the stack is frames only (its first line would repeat the message)')
})

t.test('messages are capped, causes kept to a depth, plain objects and non-errors described', async (t) => {
  t.ok(serializeError(new Error('x'.repeat(10_000))).message.length < 400, 'a long message is cut')
  let deep: Error = new Error('root')
  for (let level = 0; level < 10; level++) deep = new Error(`level ${level}`, { cause: deep })
  let depth = 0
  for (let link = serializeError(deep).cause; link !== undefined; link = link.cause) depth++
  t.equal(depth, 4, 'four causes at most')
  t.same(serializeError({ type: 'LlmError', message: 'HTTP 500' }), { type: 'LlmError', message: 'HTTP 500' })
  t.same(serializeError('a string'), { type: 'string', message: 'a string' })
  const loop: Error & { cause?: unknown } = new Error('loop')
  loop.cause = loop
  t.same(serializeError(loop).cause, undefined, 'a cause cycle ends')
})
