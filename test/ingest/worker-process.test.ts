import t from 'tap'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { call } from '../helpers/client.js'
import { waitForDocument } from '../helpers/documents.js'
import { jackEnv, spawnJack } from '../helpers/processes.js'

t.test('`jack worker` processes the queue on its own and stops gracefully', async (t) => {
  // An API instance that only accepts: JACK_WORKERS=0.
  const api = await buildTestApp(t, { config: { workers: 0 } })
  const org = await createOrgWithKey(api.database)
  const ids: string[] = (await call(t, api.app, 'POST', '/v1/ingest', {
    key: org.key,
    body: { documents: Array.from({ length: 5 }, (_, i) => ({ text: `Handled by the worker process, document ${i}.` })) }
  })).json().document_ids
  t.equal((await waitForDocument(api.app, org.key, ids[0] as string, 300)).status, 'processing', 'nothing processes them in the API instance')
  if (api.testDatabase.kind === 'pglite') {
    // PGlite's directory has one owner at a time: hand it to the worker process.
    await api.app.close()
    await api.database.close()
  }

  const worker = spawnJack(t, ['worker'], jackEnv(api.testDatabase, { JACK_WORKERS: '2' }))
  await worker.waitForStdout(/ingest worker started/)

  if (api.testDatabase.kind === 'postgres') {
    for (const id of ids) t.equal((await waitForDocument(api.app, org.key, id)).status, 'ready', 'ready while the API instance serves')
  } else {
    // The API instance is closed (PGlite has one owner): the worker's own log says when all five are done.
    await worker.waitForStdout(/(?:"document processed"[\s\S]*){5}/)
  }
  worker.child.kill('SIGTERM')
  t.same(await worker.waitForExit(10_000), { code: 0, signal: null }, 'SIGTERM stops it cleanly')

  if (api.testDatabase.kind === 'pglite') {
    const reopened = await buildTestApp(t, { testDatabase: api.testDatabase, config: { workers: 0 } })
    for (const id of ids) t.equal((await waitForDocument(reopened.app, org.key, id, 100)).status, 'ready', 'processed by the worker process')
  }
})

t.test('`jack worker` refuses JACK_WORKERS=0', async (t) => {
  const api = await buildTestApp(t, { config: { workers: 0 } })
  const worker = spawnJack(t, ['worker'], jackEnv(api.testDatabase, { JACK_WORKERS: '0' }))
  const exit = await worker.waitForExit(15_000)
  t.not(exit.code, 0)
  t.match(worker.stderr, /JACK_WORKERS must be at least 1/)
})
