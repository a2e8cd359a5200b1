// SQL for API keys. Everything but the pre-authentication prefix lookup is scoped by organisation.
import { and, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { rowsOf } from '../db/rows.js'
import { inOrg } from '../db/org-scope.js'
import { apiKeys, type ApiKeyRow } from '../db/schema.js'
import { asOrgId, type OrgId } from '../org-id.js'

/** Payload is the revoked key's ID; every instance drops it from its key cache. */
export const KEY_REVOKED_CHANNEL = 'jack_key_revoked'

export interface ApiKeyRecord {
  id: string
  orgId: OrgId
  prefix: string
  label: string
  createdAt: Date
  lastUsedAt: Date | null
  revokedAt: Date | null
}

export interface ApiKeyCandidate {
  id: string
  orgId: OrgId
  hash: string
  revokedAt: Date | null
}

function toRecord (row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    orgId: asOrgId(row.orgId),
    prefix: row.prefix,
    label: row.label,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt
  }
}

export async function insertApiKey (db: Db, orgId: OrgId, key: { prefix: string, hash: string, label: string }): Promise<ApiKeyRecord> {
  const [row] = await inOrg(db, orgId, async (tx) => await tx.insert(apiKeys).values({ orgId, ...key }).returning())
  if (row === undefined) throw new Error('insert into api_keys returned no row')
  return toRecord(row)
}

export async function listApiKeys (db: Db, orgId: OrgId): Promise<ApiKeyRecord[]> {
  const rows = await inOrg(db, orgId, async (tx) => await tx.select().from(apiKeys)
    .where(eq(apiKeys.orgId, orgId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)))
  return rows.map(toRecord)
}

/**
 * Revokes a key for good and tells every instance through NOTIFY, in the same
 * transaction, so no instance can miss a committed revocation. Revoking twice
 * keeps the first time. Returns undefined when the org has no such key.
 */
export async function revokeApiKey (db: Db, orgId: OrgId, keyId: string): Promise<ApiKeyRecord | undefined> {
  return await inOrg(db, orgId, async (tx) => {
    const [row] = await tx.update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.id, keyId)))
      .returning()
    if (row === undefined) return undefined
    await tx.execute(sql`select pg_notify(${KEY_REVOKED_CHANNEL}, ${row.id})`)
    return toRecord(row)
  })
}

export async function touchApiKey (db: Db, orgId: OrgId, keyId: string): Promise<void> {
  await inOrg(db, orgId, async (tx) => await tx.update(apiKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.id, keyId))))
}

/**
 * The one lookup before an organisation is known: the candidates whose hash
 * the presented key must match. It returns hashes, never tenant data, through
 * the one function row-level security lets read keys across organisations.
 */
export async function findApiKeyCandidates (db: Db, prefix: string): Promise<ApiKeyCandidate[]> {
  const result = await db.execute(sql`select org_id, id, hash, revoked_at from jack_api_key_candidates(${prefix})`)
  return rowsOf<{ org_id: string, id: string, hash: string, revoked_at: Date | string | null }>(result).map((row) => ({
    id: row.id,
    orgId: asOrgId(row.org_id),
    hash: row.hash,
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at)
  }))
}
