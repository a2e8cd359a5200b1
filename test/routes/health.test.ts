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
