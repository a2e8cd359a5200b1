import { randomBytes } from 'node:crypto'
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
import postgres from 'postgres'
import { migrationsFolder } from '../../src/db/client.js'
import { rowsOf } from '../../src/db/rows.js'
import { adminConnection, testDatabaseUrl, urlForDatabase } from '../helpers/template.js'

// An existing deployment upgrades with chunks already stored: the migration
// that adds the postings index must index them, and its triggers take over.

interface Migratable {
  execute: (query: SQL) => Promise<unknown>
  migrateTo: (folder: string) => Promise<void>
}

/** The migrations folder as it was before the search index: 0000 and 0001 only. */
function folderBeforeSearchIndex (): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'jack-migrations-'))
  t.teardown(() => fs.rmSync(folder, { recursive: true, force: true }))
  fs.mkdirSync(path.join(folder, 'meta'))
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }
  journal.entries = journal.entries.filter((entry) => entry.tag === '0000_init' || entry.tag === '0001_documents')
  for (const entry of journal.entries) fs.copyFileSync(path.join(migrationsFolder, `${entry.tag}.sql`), path.join(folder, `${entry.tag}.sql`))
  fs.writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify(journal))
  return folder
}

async function openEmptyDatabase (): Promise<Migratable> {
  if (testDatabaseUrl === undefined) {
    const client = new PGlite()
    t.teardown(async () => { await client.close() })
    const db = drizzlePglite(client)
    return { execute: async (query) => await db.execute(query), migrateTo: async (folder) => { await migratePglite(db, { migrationsFolder: folder }) } }
  }
  const serverUrl = testDatabaseUrl
  const name = `jack_test_migration_${randomBytes(6).toString('hex')}`
  const admin = adminConnection(serverUrl)
  try {
    await admin.unsafe(`create database "${name}"`)
  } finally {
    await admin.end()
  }
  const client = postgres(urlForDatabase(serverUrl, name), { max: 1, onnotice: () => {} })
  t.teardown(async () => {
    await client.end({ timeout: 5 })
    const dropper = adminConnection(serverUrl)
    try {
      await dropper.unsafe(`drop database if exists "${name}" with (force)`)
    } finally {
      await dropper.end()
    }
  })
  const db = drizzlePostgres(client)
  return { execute: async (query) => await db.execute(query), migrateTo: async (folder) => { await migratePostgres(db, { migrationsFolder: folder }) } }
}

t.test('upgrading indexes the chunks already stored, and the triggers carry on from there', async (t) => {
  const database = await openEmptyDatabase()
  await database.migrateTo(folderBeforeSearchIndex())
  const [org] = rowsOf<{ id: string }>(await database.execute(sql`insert into orgs (name) values ('before the upgrade') returning id`))
  const [document] = rowsOf<{ id: string }>(await database.execute(sql`
    insert into documents (org_id, source_type, chunk_size, chunk_overlap, status) values (${org?.id}, 'text', 512, 64, 'ready') returning id`))
  await database.execute(sql`
    insert into chunks (org_id, document_id, chunk_index, text, token_count, start_offset, end_offset)
    values (${org?.id}, ${document?.id}, 0, 'The cat sat on the cat''s mat.', 9, 0, 29), (${org?.id}, ${document?.id}, 1, 'Dogs were running.', 4, 30, 48)`)

  await database.migrateTo(migrationsFolder)
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
