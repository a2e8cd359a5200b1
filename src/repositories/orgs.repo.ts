// SQL for organisations, the tenant root. Creating one is what mints a new OrgId.
import { count, eq } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { orgs } from '../db/schema.js'
import { asOrgId, type OrgId } from '../org-id.js'

export interface Org {
  id: OrgId
  name: string
  createdAt: Date
}

export async function createOrg (db: Db, name: string): Promise<Org> {
  const [row] = await db.insert(orgs).values({ name }).returning()
  if (row === undefined) throw new Error('insert into orgs returned no row')
  return { id: asOrgId(row.id), name: row.name, createdAt: row.createdAt }
}

export async function countOrgs (db: Db): Promise<number> {
  const [row] = await db.select({ value: count() }).from(orgs)
  return row?.value ?? 0
}

export async function findOrg (db: Db, orgId: OrgId): Promise<Org | undefined> {
  const [row] = await db.select().from(orgs).where(eq(orgs.id, orgId))
  return row === undefined ? undefined : { id: asOrgId(row.id), name: row.name, createdAt: row.createdAt }
}
