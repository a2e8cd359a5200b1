// SQL for Idempotency-Key records of ingest requests: claiming a key under a lease, completing it with its documents, expiring it.
import { randomUUID } from 'node:crypto'
import { and, eq, gt, lte, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { inOrg } from '../db/org-scope.js'
import { idempotencyKeys } from '../db/schema.js'
import type { OrgId } from '../org-id.js'

/** How long a completed request is replayed. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000

/** Expired rows removed per sweep, so a sweep never holds up the request that runs it for long. */
const SWEEP_BATCH = 1000

/** A key this request holds while it is being handled; `token` tells its holder from a later one. */
export interface IdempotencyClaim {
  key: string
  token: string
}

/** What completes a claim, in the transaction that stores the request's documents. */
export interface IdempotencyCompletion extends IdempotencyClaim {
  requestHash: string
}

/** A live record held by an earlier request: one still being handled, or one that finished. */
export type HeldIdempotencyKey =
  | { status: 'pending' }
  | { status: 'completed', requestHash: string, documentIds: string[] }

export type ClaimOutcome = { claimed: IdempotencyClaim } | { held: HeldIdempotencyKey }

/** The claim's lease ran out and another request took the key over before this one committed. */
export class IdempotencyClaimLostError extends Error {
  override name = 'IdempotencyClaimLostError'
}

const inMs = (ms: number): ReturnType<typeof sql> => sql`now() + ${ms} * interval '1 millisecond'`

/**
 * Takes the key as `pending` for `leaseMs`, unless a live record holds it
 * (expired records count as absent and are taken over). The insert and the
 * takeover are one statement, so of two requests racing for a key exactly one
 * claims it.
 */
export async function claimIdempotencyKey (db: Db, orgId: OrgId, key: string, leaseMs: number): Promise<ClaimOutcome> {
  const token = randomUUID()
  return await inOrg(db, orgId, async (tx) => {
    // A record that expires between the two statements frees the key: look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimed = await tx.insert(idempotencyKeys)
        .values({ orgId, key, status: 'pending', leaseToken: token, expiresAt: inMs(leaseMs) })
        .onConflictDoUpdate({
          target: [idempotencyKeys.orgId, idempotencyKeys.key],
          set: { status: 'pending', leaseToken: token, requestHash: null, documentIds: null, createdAt: sql`now()`, expiresAt: inMs(leaseMs) },
          setWhere: lte(idempotencyKeys.expiresAt, sql`now()`)
        })
        .returning({ key: idempotencyKeys.key })
      if (claimed.length > 0) return { claimed: { key, token } }
      const [row] = await tx.select({ status: idempotencyKeys.status, requestHash: idempotencyKeys.requestHash, documentIds: idempotencyKeys.documentIds })
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, key), gt(idempotencyKeys.expiresAt, sql`now()`)))
      if (row === undefined) continue
      if (row.status === 'pending') return { held: { status: 'pending' } }
      return { held: { status: 'completed', requestHash: row.requestHash ?? '', documentIds: row.documentIds ?? [] } }
    }
    throw new Error('could not claim an idempotency key: its record kept expiring')
  })
}

/** Extends a pending claim's lease; false when this request no longer holds the key. */
export async function renewIdempotencyClaim (db: Db, orgId: OrgId, claim: IdempotencyClaim, leaseMs: number): Promise<boolean> {
  const rows = await inOrg(db, orgId, async (tx) => await tx.update(idempotencyKeys)
    .set({ expiresAt: inMs(leaseMs) })
    .where(and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.leaseToken, claim.token), eq(idempotencyKeys.status, 'pending')))
    .returning({ key: idempotencyKeys.key }))
  return rows.length > 0
}

/** Frees a key whose request failed, so a corrected retry can use it. Does nothing once the claim completed or was lost. */
export async function releaseIdempotencyClaim (db: Db, orgId: OrgId, claim: IdempotencyClaim): Promise<void> {
  await inOrg(db, orgId, async (tx) => await tx.delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.leaseToken, claim.token), eq(idempotencyKeys.status, 'pending'))))
}

/**
 * Marks the key completed with the request's hash and document IDs, for 24
 * hours. Call it inside the transaction that stores those documents: the key
 * and its documents commit together or not at all. It writes the row even if
 * an expired lease let it be deleted meanwhile, and throws
 * IdempotencyClaimLostError (rolling the transaction back) when another
 * request took the key over.
 */
export async function completeIdempotencyClaim (db: Db, orgId: OrgId, completion: IdempotencyCompletion, documentIds: string[]): Promise<void> {
  const values = {
    status: 'completed' as const,
    leaseToken: null,
    requestHash: completion.requestHash,
    documentIds,
    createdAt: sql`now()`,
    expiresAt: inMs(IDEMPOTENCY_RETENTION_MS)
  }
  const rows = await inOrg(db, orgId, async (tx) => await tx.insert(idempotencyKeys)
    .values({ orgId, key: completion.key, ...values })
    .onConflictDoUpdate({
      target: [idempotencyKeys.orgId, idempotencyKeys.key],
      set: values,
      setWhere: sql`${idempotencyKeys.leaseToken} = ${completion.token} or ${idempotencyKeys.expiresAt} <= now()`
    })
    .returning({ key: idempotencyKeys.key }))
  if (rows.length === 0) throw new IdempotencyClaimLostError(`idempotency key ${JSON.stringify(completion.key)} was taken over by another request`)
}

/**
 * Deletes up to SWEEP_BATCH of the organisation's expired records: completed
 * ones past their 24 hours and pending ones whose request died with its lease.
 * The outer condition is checked again on the row itself, so a record taken
 * over while this runs is kept. Returns how many were deleted.
 */
export async function deleteExpiredIdempotencyKeys (db: Db, orgId: OrgId): Promise<number> {
  const expired = and(eq(idempotencyKeys.orgId, orgId), lte(idempotencyKeys.expiresAt, sql`now()`))
  const rows = await inOrg(db, orgId, async (tx) => await tx.delete(idempotencyKeys)
    .where(and(expired, sql`${idempotencyKeys.key} in (${tx.select({ key: idempotencyKeys.key }).from(idempotencyKeys).where(expired).limit(SWEEP_BATCH)})`))
    .returning({ key: idempotencyKeys.key }))
  return rows.length
}
