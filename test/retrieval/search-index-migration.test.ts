import { randomBytes, randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { sql, type SQL } from 'drizzle-orm'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import postgres from 'postgres'
import { migrationsFolder } from '../../src/db/client.js'
import { rowsOf } from '../../src/db/rows.js'
import { adminConnection, testDatabaseUrl, urlForDatabase } from '../helpers/template.js'
import { expectedPostings, indexedPostings, postingKey } from '../helpers/search-index-contents.js'
import type { Database, Db } from '../../src/db/client.js'
import { asOrgId } from '../../src/org-id.js'
import { claimNextJob, finishIndexJob, loadPayload } from '../../src/repositories/ingest-jobs.repo.js'
import { EMPTY_FILTER, parseFilter } from '../../src/retrieval/filters.js'
import { searchChunks } from '../../src/search-index/search-chunks.js'

// An existing deployment upgrades with chunks already stored: the migrations
// that added the postings index (0003) and changed its analysis (0008) indexed
// them, and the triggers took over; 0009, which replaces postings with index
// segments, queues the ready documents for the worker to index.

interface Migratable {
  db: PgDatabase<PgQueryResultHKT>
  execute: (query: SQL) => Promise<unknown>
  /** Runs `query` in a transaction scoped to `orgId`, as row-level security (0007 on) requires of the owner too. */
  executeInOrg: (orgId: string, query: SQL) => Promise<unknown>
  migrateTo: (folder: string) => Promise<void>
}

/** The migrations folder as it was up to and including the migration tagged `lastTag`. */
function folderUpTo (lastTag: string): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-migrations-'))
  t.teardown(() => fs.rmSync(folder, { recursive: true, force: true }))
  fs.mkdirSync(path.join(folder, 'meta'))
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag)
  if (last < 0) throw new Error(`no migration ${lastTag}`)
  journal.entries = journal.entries.slice(0, last + 1)
  for (const entry of journal.entries) fs.copyFileSync(path.join(migrationsFolder, `${entry.tag}.sql`), path.join(folder, `${entry.tag}.sql`))
  fs.writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify(journal))
  return folder
}

function migratable (db: PgDatabase<PgQueryResultHKT>, migrateTo: Migratable['migrateTo']): Migratable {
  return {
    db,
    execute: async (query) => await db.execute(query),
    executeInOrg: async (orgId, query) => await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.org_id', ${orgId}, true)`)
      return await tx.execute(query)
    }),
    migrateTo
  }
}

/**
 * An empty database, migrated by the superuser, or on PostgreSQL with `owner`
 * by a login that owns the database and is no superuser (a managed service's
 * administrator: CREATEROLE, CREATEDB), whom row-level security binds.
 */
async function openEmptyDatabase (options: { owner?: boolean } = {}): Promise<Migratable> {
  if (testDatabaseUrl === undefined) {
    const client = new PGlite()
    t.teardown(async () => { await client.close() })
    const db = drizzlePglite(client)
    return migratable(db, async (folder) => { await migratePglite(db, { migrationsFolder: folder }) })
  }
  const serverUrl = testDatabaseUrl
  const suffix = randomBytes(6).toString('hex')
  const name = `jack_test_migration_${suffix}`
  const owner = options.owner === true ? `jack_test_owner_${suffix}` : undefined
  const admin = adminConnection(serverUrl)
  try {
    if (owner !== undefined) await admin.unsafe(`create role ${owner} login createrole createdb nosuperuser`)
    await admin.unsafe(`create database "${name}"${owner === undefined ? '' : ` owner ${owner}`}`)
  } finally {
    await admin.end()
  }
  const url = new URL(urlForDatabase(serverUrl, name))
  if (owner !== undefined) url.username = owner
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} })
  t.teardown(async () => {
    await client.end({ timeout: 5 })
    const dropper = adminConnection(serverUrl)
    try {
      await dropper.unsafe(`drop database if exists "${name}" with (force)`)
      if (owner !== undefined) await dropper.unsafe(`drop role if exists ${owner}`)
    } finally {
      await dropper.end()
    }
  })
  const db = drizzlePostgres(client)
  return migratable(db, async (folder) => { await migratePostgres(db, { migrationsFolder: folder }) })
}

t.test('upgrading indexes the chunks already stored, and the triggers carry on from there', async (t) => {
  const database = await openEmptyDatabase()
  await database.migrateTo(folderUpTo('0001_documents'))
  const [org] = rowsOf<{ id: string }>(await database.execute(sql`insert into orgs (name) values ('before the upgrade') returning id`))
  const [document] = rowsOf<{ id: string }>(await database.execute(sql`
    insert into documents (org_id, source_type, chunk_size, chunk_overlap, status) values (${org?.id}, 'text', 512, 64, 'ready') returning id`))
  await database.execute(sql`
    insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset)
    values (${org?.id}, ${document?.id}, 0, 'The cat sat on the cat''s mat.', 9, 0, 29), (${org?.id}, ${document?.id}, 1, 'Dogs were running.', 4, 30, 48)`)

  await database.migrateTo(folderUpTo('0008_search_cjk_bigrams'))
  const postingsOf = async (): Promise<unknown[]> => rowsOf<Record<string, unknown>>(await database.execute(sql`
    select chunk_index, lexeme, tf, chunk_length from postings order by chunk_index, lexeme`)).map((row) => ({ ...row, chunk_index: Number(row.chunk_index), tf: Number(row.tf), chunk_length: Number(row.chunk_length) }))
  const statsOf = async (): Promise<{ chunks: number, length: number }> => {
    const [row] = rowsOf<{ chunks: string | number | null, length: string | number | null }>(await database.execute(sql`
      select sum(chunk_count) as chunks, sum(total_length) as length from org_chunk_stats where org_id = ${org?.id}`))
    return { chunks: Number(row?.chunks ?? 0), length: Number(row?.length ?? 0) }
  }
  // 'The', 'on' and 'were' are stop words; "cat's" stems to cat.
  t.same(await postingsOf(), [
    { chunk_index: 0, lexeme: 'cat', tf: 2, chunk_length: 4 },
    { chunk_index: 0, lexeme: 'mat', tf: 1, chunk_length: 4 },
    { chunk_index: 0, lexeme: 'sat', tf: 1, chunk_length: 4 },
    { chunk_index: 1, lexeme: 'dog', tf: 1, chunk_length: 2 },
    { chunk_index: 1, lexeme: 'run', tf: 1, chunk_length: 2 }
  ], 'the stored chunks are indexed')
  t.same(await statsOf(), { chunks: 2, length: 6 }, 'and counted')

  await database.execute(sql`
    insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset)
    values (${org?.id}, ${document?.id}, 2, 'A cat.', 3, 49, 55)`)
  t.same(await statsOf(), { chunks: 3, length: 7 }, 'a new chunk is added by the trigger')
  await database.execute(sql`delete from documents where id = ${document?.id}`)
  t.same(await postingsOf(), [], 'deleting the document removes every posting, old and new')
  t.same(await statsOf(), { chunks: 0, length: 0 }, 'and the statistics return to zero')
})

t.test('upgrading re-indexes the CJK chunks already stored as bigrams, leaves the others, and keeps the statistics exact', async (t) => {
  // On PostgreSQL the owner is no superuser, so the backfill must see rows that row-level security hides from it.
  const database = await openEmptyDatabase({ owner: true })
  await database.migrateTo(folderUpTo('0007_row_level_security'))
  const org = randomUUID()
  const inOrg = async (query: SQL): Promise<Array<Record<string, unknown>>> => rowsOf<Record<string, unknown>>(await database.executeInOrg(org, query))
  await inOrg(sql`insert into orgs (id, name) values (${org}, 'before the bigrams')`)
  const [document] = await inOrg(sql`
    insert into documents (org_id, source_type, chunk_size, chunk_overlap, status) values (${org}, 'text', 512, 64, 'ready') returning id`)
  const chunk = (index: number, text: string): SQL => sql`(${org}, ${document?.id}, ${index}, ${text}, 5, ${index * 100}, ${index * 100 + text.length})`
  await inOrg(sql`
    insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset)
    values ${chunk(0, 'The cats sat.')}, ${chunk(1, '東京都、大阪')}, ${chunk(2, 'Ein Kätzchen.')}`)
  const before = await inOrg(sql`select lexeme from postings where chunk_index = 1 order by lexeme`)
  t.same(before.map((row) => row.lexeme), ['大阪', '東京都'], 'before: each CJK run one lexeme')

  await database.migrateTo(folderUpTo('0008_search_cjk_bigrams'))
  const postingsOf = async (): Promise<unknown[]> => (await inOrg(sql`
    select chunk_index, lexeme, tf, chunk_length from postings order by chunk_index, lexeme collate "C"`))
    .map((row) => ({ ...row, chunk_index: Number(row.chunk_index), tf: Number(row.tf), chunk_length: Number(row.chunk_length) }))
  const statsOf = async (): Promise<{ chunks: number, length: number }> => {
    const [row] = await inOrg(sql`select sum(chunk_count) as chunks, sum(total_length) as length from org_chunk_stats where org_id = ${org}`)
    return { chunks: Number(row?.chunks ?? 0), length: Number(row?.length ?? 0) }
  }
  // 東京都 → bigrams 東京 京都 and unigrams 東 京 都; 大阪, a run of two, → 大阪 and 大 阪: eight lexemes in all.
  t.same(await postingsOf(), [
    { chunk_index: 0, lexeme: 'cat', tf: 1, chunk_length: 2 },
    { chunk_index: 0, lexeme: 'sat', tf: 1, chunk_length: 2 },
    ...['京', '京都', '大', '大阪', '東', '東京', '阪', '都'].sort().map((lexeme) => ({ chunk_index: 1, lexeme, tf: 1, chunk_length: 8 })),
    { chunk_index: 2, lexeme: 'ein', tf: 1, chunk_length: 2 },
    { chunk_index: 2, lexeme: 'kätzchen', tf: 1, chunk_length: 2 }
  ], 'the CJK chunk is re-indexed; the others keep their postings')
  t.same(await statsOf(), { chunks: 3, length: 12 }, 'and the total length follows')
  const [forced] = await inOrg(sql`
    select bool_and(relforcerowsecurity) as forced from pg_class where relname in ('chunks', 'postings', 'org_chunk_stats') and relkind = 'r'`)
  t.equal(forced?.forced, true, 'row-level security is forced again on the tables the backfill read')

  await inOrg(sql`delete from documents where id = ${document?.id}`)
  t.same(await postingsOf(), [], 'deleting the document removes every posting, re-indexed or not')
  t.same(await statsOf(), { chunks: 0, length: 0 }, 'and the statistics return to zero')
})

t.test('upgrading to index segments queues the ready documents, and the worker\'s job indexes their stored chunks', async (t) => {
  // On PostgreSQL the owner is no superuser: the backfill must see rows that row-level security hides from it.
  const database = await openEmptyDatabase({ owner: true })
  await database.migrateTo(folderUpTo('0008_search_cjk_bigrams'))
  const org = randomUUID()
  const inOrg = async (query: SQL): Promise<Array<Record<string, unknown>>> => rowsOf<Record<string, unknown>>(await database.executeInOrg(org, query))
  await inOrg(sql`insert into orgs (id, name) values (${org}, 'before the segments')`)
  const [ready] = await inOrg(sql`
    insert into documents (org_id, source_type, chunk_size, chunk_overlap, status, chunk_count, metadata)
    values (${org}, 'text', 512, 64, 'ready', 2, '{"team":"ops"}') returning id`)
  const [failed] = await inOrg(sql`
    insert into documents (org_id, source_type, chunk_size, chunk_overlap, status) values (${org}, 'text', 512, 64, 'failed') returning id`)
  await inOrg(sql`
    insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset)
    values (${org}, ${ready?.id}, 0, 'The cat sat on the cat''s mat.', 9, 0, 29), (${org}, ${ready?.id}, 1, '東京都の猫', 4, 30, 35)`)

  await database.migrateTo(migrationsFolder)
  const [gone] = rowsOf<{ postings: string | null }>(await database.execute(sql`select to_regclass('postings')::text as postings`))
  t.equal(gone?.postings, null, 'the postings table is gone')
  const jobs = await inOrg(sql`select document_id, attempts from ingest_jobs order by document_id`)
  t.same(jobs.map((job) => job.document_id), [ready?.id], 'one job, for the ready document only')
  const [stats] = await inOrg(sql`select sum(chunk_count) as chunks from org_chunk_stats where org_id = ${org}`)
  t.equal(Number(stats?.chunks), 2, 'the statistics are kept')
  const [forced] = rowsOf<{ forced: boolean }>(await database.execute(sql`
    select bool_and(relforcerowsecurity) as forced from pg_class
    where relname in ('documents', 'ingest_jobs', 'index_segments', 'index_terms', 'index_deletions', 'index_deleted_terms', 'org_ordinals') and relkind = 'r'`))
  t.equal(forced?.forced, true, 'row-level security is forced on the tables the backfill read and on the new ones')

  // The worker's path for such a job: claim it, see the document is ready, index its stored chunks.
  const db = database.db as unknown as Db
  const claimed = await claimNextJob(db, 'upgrade-worker', 60_000)
  t.equal(claimed?.documentId, ready?.id, 'the job is claimed like any other')
  t.equal((await loadPayload(db, asOrgId(org), ready?.id as string))?.status, 'ready', 'its document is ready')
  t.equal(await finishIndexJob(db, asOrgId(org), ready?.id as string, 'upgrade-worker'), 'done')
  t.same(await inOrg(sql`select count(*)::int as jobs from ingest_jobs`), [{ jobs: 0 }], 'the queue is empty')
  const asDatabase = { db, kind: testDatabaseUrl === undefined ? 'pglite' : 'postgres' } as unknown as Database
  const indexed = await indexedPostings(asDatabase, asOrgId(org))
  const expected = await expectedPostings(asDatabase, asOrgId(org))
  t.same(indexed.postings.map(postingKey).sort(), expected.map(postingKey).sort(), 'the index holds exactly the stored chunks\' postings, CJK bigrams included')
  t.ok(expected.some((posting) => posting.lexeme === '東京'), 'the CJK chunk is indexed as bigrams')
  const hits = await searchChunks(db, asOrgId(org), { query: 'cats on mats', filter: parseFilter({ team: 'ops' }), topK: 5 })
  t.same(hits.map((hit) => [hit.documentId, hit.chunkIndex]), [[ready?.id, 0]], 'and it is found, filters included')
  t.same(await searchChunks(db, asOrgId(org), { query: 'cat', filter: EMPTY_FILTER, topK: 5 }).then((found) => found.map((hit) => hit.documentId)), [ready?.id], 'the failed document is nowhere')
  t.not(failed?.id, undefined)
})
