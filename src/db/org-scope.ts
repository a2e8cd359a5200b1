// Runs a repository's statements in a transaction that row-level security scopes to one organisation (drizzle/0007_row_level_security.sql).
import { sql } from 'drizzle-orm'
import { PgTransaction, type PgTransactionConfig } from 'drizzle-orm/pg-core'
import type { Db } from './client.js'
import type { OrgId } from '../org-id.js'

/** The organisation each open transaction has set; a transaction is never reused for another. */
const scopes = new WeakMap<Db, OrgId>()

export class OrgScopeError extends Error {
  override name = 'OrgScopeError'
}

/**
 * Runs `work` in a transaction whose `app.org_id` is `orgId`, set with
 * set_config(…, true) so it ends with the transaction and a pooled connection
 * never carries it into the next one. Inside a transaction already scoped to
 * the same organisation it adds nothing (and `config`, the isolation of a new
 * transaction, does not apply); inside one scoped to another it refuses, so no
 * code path can mix two tenants in one transaction.
 */
export async function inOrg<T> (db: Db, orgId: OrgId, work: (tx: Db) => Promise<T>, config?: PgTransactionConfig): Promise<T> {
  const current = scopes.get(db)
  if (current === orgId) return await work(db)
  if (current !== undefined) throw new OrgScopeError('a transaction scoped to one organisation cannot act for another')
  if (isTransaction(db)) {
    await scope(db, orgId)
    return await work(db)
  }
  return await db.transaction(async (tx) => {
    const scoped = tx as unknown as Db
    await scope(scoped, orgId)
    return await work(scoped)
  }, config)
}

function isTransaction (db: Db): boolean {
  return (db as unknown) instanceof PgTransaction
}

async function scope (tx: Db, orgId: OrgId): Promise<void> {
  await tx.execute(sql`select set_config('app.org_id', ${orgId}, true)`)
  scopes.set(tx, orgId)
}
