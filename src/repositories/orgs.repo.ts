// SQL for organisations, the tenant root. Creating one is what mints a new OrgId.
import { randomUUID } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { inOrg } from '../db/org-scope.js'
import { rowsOf } from '../db/rows.js'
import { orgs } from '../db/schema.js'
import { asOrgId, type OrgId } from '../org-id.js'

export interface Org {
  id: OrgId
  name: string
  createdAt: Date
}

/** The ID is chosen here, not by the database, so the insert can already be scoped to the organisation it creates. */
export async function createOrg (db: Db, name: string): Promise<Org> {
  const id = asOrgId(randomUUID())
  const [row] = await inOrg(db, id, async (tx) => await tx.insert(orgs).values({ id, name }).returning())
  if (row === undefined) throw new Error('insert into orgs returned no row')
  return { id, name: row.name, createdAt: row.createdAt }
}

/** Whether any organisation exists: the one question about organisations asked across them (drizzle/0007_row_level_security.sql). */
export async function anyOrgExists (db: Db): Promise<boolean> {
  const [row] = rowsOf<{ exists: boolean }>(await db.execute(sql`select jack_any_org_exists() as exists`))
  return row?.exists === true
}

export async function findOrg (db: Db, orgId: OrgId): Promise<Org | undefined> {
  const [row] = await inOrg(db, orgId, async (tx) => await tx.select().from(orgs).where(eq(orgs.id, orgId)))
  return row === undefined ? undefined : { id: asOrgId(row.id), name: row.name, createdAt: row.createdAt }
}
