// Raw SQL for tests that seed or inspect tables directly: row-level security shows and lets a statement write only the rows of the organisation its transaction has set, so each runs scoped to one.
import type { SQL } from 'drizzle-orm'
import type { Database } from '../../src/db/client.js'
import { inOrg } from '../../src/db/org-scope.js'
import { rowsOf } from '../../src/db/rows.js'
import type { OrgId } from '../../src/org-id.js'

/** Runs `query` in a transaction scoped to `orgId` and returns its rows. */
export async function queryInOrg<T = Record<string, unknown>> (database: Database, orgId: OrgId, query: SQL): Promise<T[]> {
  return await inOrg(database.db, orgId, async (tx) => rowsOf<T>(await tx.execute(query)))
}
