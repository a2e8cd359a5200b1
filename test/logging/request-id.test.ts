import t from 'tap'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('every response carries X-Request-Id: the caller\'s when well formed, else a fresh UUID, and the request\'s log lines carry it', async (t) => {
  const lines: string[] = []
  const { app, database } = await buildTestApp(t, { config: { logLevel: 'info' }, logStream: { write: (line: string) => { lines.push(line) } } })
  const org = await createOrgWithKey(database)
  const auth = { authorization: `Bearer ${org.key}` }

  const first = await app.inject({ method: 'GET', url: '/v1/documents', headers: auth })
  const second = await app.inject({ method: 'GET', url: '/v1/documents', headers: auth })
  t.match(first.headers['x-request-id'], UUID)
  t.not(first.headers['x-request-id'], second.headers['x-request-id'], 'unique per request')

  const traced = await app.inject({ method: 'GET', url: '/v1/documents', headers: { ...auth, 'x-request-id': 'client-trace:4f2a.91_b' } })
  t.equal(traced.headers['x-request-id'], 'client-trace:4f2a.91_b', 'a well-formed incoming ID is kept')
  const logged = lines.map((line) => JSON.parse(line) as { requestId?: string, msg: string }).filter((line) => line.requestId === 'client-trace:4f2a.91_b')
  t.ok(logged.some((line) => line.msg === 'incoming request') && logged.some((line) => line.msg === 'request completed'), 'its log lines carry it')

  for (const hostile of ['x'.repeat(129), 'has space', '<script>', 'naïve', '', 'a,b', '"quoted"', '{"json":1}']) {
    const response = await app.inject({ method: 'GET', url: '/v1/documents', headers: { ...auth, 'x-request-id': hostile } })
    t.match(response.headers['x-request-id'], UUID, `${JSON.stringify(hostile.slice(0, 20))} is replaced, not echoed`)
  }

  for (const [label, response] of [
    ['401', await app.inject({ method: 'GET', url: '/v1/documents' })],
    ['404', await app.inject({ method: 'GET', url: '/no-such-route' })],
    ['422 from the router', await app.inject({ method: 'GET', url: '/v1/documents/%E0%A4%A', headers: auth })],
    ['400', await app.inject({ method: 'POST', url: '/v1/query', headers: { ...auth, 'content-type': 'application/json' }, payload: '{' })],
    ['/healthz', await app.inject({ method: 'GET', url: '/healthz' })]
  ] as const) {
    t.match(response.headers['x-request-id'], UUID, `${label} (${response.statusCode}) carries one`)
  }
})
