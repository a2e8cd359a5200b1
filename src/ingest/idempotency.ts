// Idempotency-Key on ingest requests: a repeat of a completed request replays its 202, a repeat while it runs is 409, the key with another request is 422.
import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../db/client.js'
import type { OrgId } from '../org-id.js'
import { ConflictError, UnprocessableError } from '../errors/http-errors.js'
import {
  claimIdempotencyKey,
  deleteExpiredIdempotencyKeys,
  IdempotencyClaimLostError,
  releaseIdempotencyClaim,
  renewIdempotencyClaim,
  type IdempotencyCompletion
} from '../repositories/idempotency-keys.repo.js'

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/

/**
 * A request holds its key under this lease, renewed while it runs. Were the
 * instance to die mid-request, the key is free again when the lease ends
 * (until then a retry gets 409), instead of being stuck "in progress".
 */
export const IDEMPOTENCY_LEASE_MS = 30_000

export const IN_PROGRESS_DETAIL = 'A request with this Idempotency-Key is still being handled; retry after it has finished'
export const MISMATCH_DETAIL = 'This Idempotency-Key was already used for a different request (another body or endpoint) in the last 24 hours; use a new key for a new request'

/** The request's Idempotency-Key, or undefined without one; 422 when it is not 1–255 printable ASCII characters. */
export function readIdempotencyKey (headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers[IDEMPOTENCY_KEY_HEADER]
  if (raw === undefined) return undefined
  // Node joins repeated headers with ", "; a client sending two keys gets their joined text as the key.
  const key = Array.isArray(raw) ? raw.join(', ') : raw
  if (key === '') throw new UnprocessableError('Idempotency-Key must not be empty')
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) throw new UnprocessableError(`Idempotency-Key must be at most ${IDEMPOTENCY_KEY_MAX_LENGTH} characters long`)
  if (!PRINTABLE_ASCII.test(key)) throw new UnprocessableError('Idempotency-Key must contain only printable ASCII characters')
  return key
}

/** JSON with object keys in a fixed order, so requests that mean the same hash the same. */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>
    const entries = Object.keys(object).sort()
      .filter((name) => object[name] !== undefined)
      .map((name) => `${JSON.stringify(name)}:${canonicalJson(object[name])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** SHA-256 (hex) of the canonical form of a request: what "the same body" means for a key. */
export function hashRequest (request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex')
}

/** The request's hash (hashRequest), asked for only when the request carries a key. */
export type RequestHash = () => string

export interface IdempotencyGuard {
  /**
   * Once the request is known: the original response's document IDs when this
   * repeats a completed request; 422 when the key was used for another
   * request; undefined when this request is to do the work.
   */
  replay: (requestHash: RequestHash) => string[] | undefined
  /** For insertDocuments, which completes the key in the transaction storing the documents; undefined without a key. */
  completion: (requestHash: RequestHash) => IdempotencyCompletion | undefined
}

const WITHOUT_KEY: IdempotencyGuard = { replay: () => undefined, completion: () => undefined }

/**
 * Runs an ingest request under its Idempotency-Key (or plainly, without one).
 * 409 at once while another request holds the key. A request that fails, for
 * whatever reason, gives its key back, so a corrected retry can use it.
 */
export async function withIdempotencyKey<T> (
  db: Db, orgId: OrgId, key: string | undefined, log: FastifyBaseLogger,
  work: (guard: IdempotencyGuard) => Promise<T>,
  { leaseMs = IDEMPOTENCY_LEASE_MS }: { leaseMs?: number } = {}
): Promise<T> {
  if (key === undefined) return await work(WITHOUT_KEY)
  await deleteExpiredIdempotencyKeys(db, orgId)
  const outcome = await claimIdempotencyKey(db, orgId, key, leaseMs)
  if ('held' in outcome) {
    const held = outcome.held
    if (held.status === 'pending') throw new ConflictError(IN_PROGRESS_DETAIL)
    return await work({
      replay: (requestHash) => {
        if (requestHash() !== held.requestHash) throw new UnprocessableError(MISMATCH_DETAIL)
        return held.documentIds
      },
      completion: () => { throw new Error('a request that repeats a completed one must be replayed, not stored') }
    })
  }
  const claim = outcome.claimed
  const heartbeat = setInterval(() => {
    renewIdempotencyClaim(db, orgId, claim, leaseMs)
      .then((held) => { if (!held) log.warn('an Idempotency-Key lease ran out while its request was running') })
      .catch((error: unknown) => log.warn({ err: error }, 'could not renew an Idempotency-Key lease'))
  }, leaseMs / 3)
  heartbeat.unref()
  try {
    return await work({ replay: () => undefined, completion: (requestHash) => ({ ...claim, requestHash: requestHash() }) })
  } catch (error) {
    await releaseIdempotencyClaim(db, orgId, claim)
      .catch((releaseError: unknown) => log.warn({ err: releaseError }, 'could not release an Idempotency-Key; it frees itself when its lease ends'))
    if (error instanceof IdempotencyClaimLostError) throw new ConflictError(IN_PROGRESS_DETAIL)
    throw error
  } finally {
    clearInterval(heartbeat)
  }
}
