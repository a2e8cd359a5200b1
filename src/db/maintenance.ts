// Housekeeping that PostgreSQL's autovacuum does by itself and PGlite, which has none, needs done for it.
import { sql } from 'drizzle-orm'
import type { Database } from './client.js'

/**
 * On PGlite: VACUUM (ANALYZE) the BM25 index and ANALYZE the tables queries
 * plan over. Until postings is vacuumed, its index-only scans still visit the
 * heap for visibility, which about doubles query time (bench/search-sql.ts:
 * SciFact p50 13 → 7 ms); and without statistics the planner guesses. On
 * PostgreSQL autovacuum does this, so nothing runs. VACUUM cannot run inside a
 * transaction, hence one statement at a time.
 */
export async function maintainSearchIndex (database: Database): Promise<boolean> {
  if (database.kind !== 'pglite') return false
  await database.db.execute(sql`vacuum (analyze) postings`)
  await database.db.execute(sql`analyze org_chunk_stats`)
  await database.db.execute(sql`analyze documents`)
  await database.db.execute(sql`analyze chunks`)
  return true
}
