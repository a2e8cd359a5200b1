import t from 'tap'
import { sql } from 'drizzle-orm'
import { maintainSearchIndex } from '../../src/db/maintenance.js'
import { rowsOf } from '../../src/db/rows.js'
import { createTestDatabase } from '../helpers/database.js'
import { buildTestApp, createOrgWithKey } from '../helpers/app.js'
import { waitForDocument } from '../helpers/documents.js'

t.test('PGlite gets the vacuum and statistics autovacuum would give it; PostgreSQL is left to autovacuum', async (t) => {
  const testDatabase = await createTestDatabase(t)
  const database = await testDatabase.open()
  t.teardown(async () => { await database.close() })
  const ran = await maintainSearchIndex(database)
  t.equal(ran, database.kind === 'pglite')
  const [stats] = rowsOf<{ vacuumed: boolean, analysed: boolean }>(await database.db.execute(sql`
    select last_vacuum is not null as vacuumed, last_analyze is not null as analysed from pg_stat_user_tables where relname = 'index_terms'`))
  if (database.kind === 'pglite') t.same(stats, { vacuumed: true, analysed: true }, 'index_terms vacuumed and analysed')
  else t.equal(stats?.vacuumed, false, 'nothing run on PostgreSQL')
})

t.test('a worker whose queue ran dry after 100 documents maintains the index, and search still finds them', async (t) => {
  const lines: string[] = []
  const logStream = { write: (line: string) => { lines.push(line) } }
  const { app, database } = await buildTestApp(t, { config: { workers: 2, logLevel: 'info' }, logStream })
  const org = await createOrgWithKey(database)
  const ids: string[] = []
  for (let batch = 0; batch < 2; batch++) {
    const documents = Array.from({ length: 50 }, (_, n) => ({ text: `Beacon ${batch * 50 + n} guides the ships.` }))
    const response = await app.inject({ method: 'POST', url: '/v1/ingest', headers: { authorization: `Bearer ${org.key}` }, payload: { documents } })
    ids.push(...response.json().document_ids)
  }
  for (const id of ids) await waitForDocument(app, org.key, id)
  const deadline = Date.now() + 10_000
  const maintained = (): boolean => lines.some((line) => line.includes('search index vacuumed and analysed'))
  while (database.kind === 'pglite' && !maintained() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(maintained(), database.kind === 'pglite', database.kind === 'pglite' ? 'logged once the queue ran dry' : 'not on PostgreSQL')
  const search = await app.inject({ method: 'POST', url: '/v1/search', headers: { authorization: `Bearer ${org.key}` }, payload: { query: 'beacon ships', top_k: 100 } })
  t.equal(search.json().results.length, 100)
})
