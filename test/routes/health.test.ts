import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { call } from '../helpers/client.js'

t.test('healthz answers while the process runs, readyz while the database answers', async (t) => {
  const { app, database } = await buildTestApp(t)
  const health = await call(t, app, 'GET', '/healthz')
  t.equal(health.status, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await call(t, app, 'GET', '/readyz')
  t.equal(ready.status, 200)
  t.same(ready.json(), { status: 'ok' })

  await database.close()
  const notReady = await call(t, app, 'GET', '/readyz')
  t.equal(notReady.status, 503)
  t.same(notReady.json(), { detail: 'Database is not reachable' })
  t.equal((await call(t, app, 'GET', '/healthz')).status, 200, 'liveness does not depend on the database')
})

t.test('probes write no log line at info', async (t) => {
  const lines: string[] = []
  const { app } = await buildTestApp(t, { config: { logLevel: 'info' }, logStream: { write: (line: string) => { lines.push(line) } } })
  await app.inject({ method: 'GET', url: '/healthz' })
  await app.inject({ method: 'GET', url: '/readyz' })
  t.same(lines.filter((line) => line.includes('/healthz') || line.includes('/readyz')), [], 'no request lines for probes')
  await app.inject({ method: 'GET', url: '/v1/keys' })
  t.ok(lines.some((line) => line.includes('incoming request')), 'other requests are still logged')
})
