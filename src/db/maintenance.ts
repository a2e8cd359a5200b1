// Housekeeping that PostgreSQL's autovacuum does by itself and PGlite, which has none, needs done for it.
import { sql } from 'drizzle-orm'
import type { Database } from './client.js'

/**
 * On PGlite: VACUUM (ANALYZE) the search index's tables, whose rows merges
 * replace all the time (dead rows would otherwise pile up), and ANALYZE the
 * tables queries plan over (without statistics the planner guesses). On
 * PostgreSQL autovacuum does this, so nothing runs. VACUUM cannot run inside a
 * transaction, hence one statement at a time.
 */
export async function maintainSearchIndex (database: Database): Promise<boolean> {
  if (database.kind !== 'pglite') return false
  await database.db.execute(sql`vacuum (analyze) index_terms`)
  await database.db.execute(sql`vacuum (analyze) index_segments`)
  await database.db.execute(sql`vacuum (analyze) index_deletions, index_deleted_terms`)
  await database.db.execute(sql`analyze org_chunk_stats`)
  await database.db.execute(sql`analyze documents`)
  await database.db.execute(sql`analyze chunks`)
  return true
}
