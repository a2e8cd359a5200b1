import t from 'tap'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import { DatabaseUnavailableError, isDatabaseUnavailable, sqlStateOf } from '../../src/db/database-errors.js'

const coded = (code: string, message = 'failed'): Error => Object.assign(new Error(message), { code })
const wrapped = (cause: unknown): Error => new DrizzleQueryError('select 1', [], cause as Error)

t.test('an unreachable or exhausted database is unavailable; a bug or a bad statement is not', async (t) => {
  for (const error of [
    coded('ECONNREFUSED'), coded('CONNECT_TIMEOUT'), coded('CONNECTION_CLOSED'), coded('CONNECTION_ENDED'), coded('ENOSPC'),
    coded('08006'), coded('53100', 'could not extend file'), coded('53300', 'too many connections'), coded('57P01'), coded('57P03'), coded('57014'),
    new DatabaseUnavailableError('database did not answer within 2000 ms'), new Error('PGlite is closed'),
    wrapped(coded('ECONNRESET')), wrapped(coded('53200'))
  ]) t.ok(isDatabaseUnavailable(error), `${(error as { code?: string }).code ?? error.message}: unavailable`)
  for (const error of [
    coded('42P01', 'relation does not exist'), coded('23505', 'duplicate key'), coded('22P02'), coded('42501', 'permission denied'),
    new TypeError('x is undefined'), wrapped(coded('40001')), 'a string', undefined, null
  ]) t.notOk(isDatabaseUnavailable(error), `${String((error as { code?: string } | undefined)?.code ?? error)}: not unavailable`)
})

t.test('the SQLSTATE is found through Drizzle\'s wrapper', async (t) => {
  t.equal(sqlStateOf(wrapped(coded('53100'))), '53100')
  t.equal(sqlStateOf(wrapped(coded('ECONNREFUSED'))), undefined, 'a socket error has no SQLSTATE')
  t.equal(sqlStateOf(new Error('plain')), undefined)
})
