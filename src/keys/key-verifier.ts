// Checks presented API keys: argon2id against the stored hash once, then a memory cache keyed by the key's SHA-256.
// At most `argon2Concurrency` argon2 runs at once, on low-priority threads, with a bounded queue, so a flood of bad keys cannot starve requests;
// concurrent checks of one key share a single verification.
import { createHash } from 'node:crypto'
import type { Database } from '../db/client.js'
import type { OrgId } from '../org-id.js'
import { findApiKeyCandidates, KEY_REVOKED_CHANNEL, touchApiKey } from '../repositories/api-keys.repo.js'
import { API_KEY_PATTERN, keyPrefix } from './api-key.js'
import { Argon2Workers } from './argon2-workers.js'
import { Semaphore } from './semaphore.js'

export type Verification =
  | { outcome: 'valid', orgId: OrgId, keyId: string }
  | { outcome: 'invalid' }
  | { outcome: 'revoked' }
  /** Not checked: every argon2 slot is busy and the queue for them is full. */
  | { outcome: 'busy' }

interface CachedKey {
  orgId: OrgId
  keyId: string
  revoked: boolean
}

export interface KeyVerifierOptions {
  /** Verified keys kept in memory; 0 turns the cache off (argon2 on every request). */
  cacheSize: number
  /** last_used_at is written at most this often per key. */
  touchIntervalMs?: number
  onBackgroundError?: (error: unknown) => void
  /** Uncached key checks (prefix lookup and argon2) running at once (default 2). */
  argon2Concurrency?: number
  /** Checks waiting for a slot (default 32); beyond it a check answers 'busy' at once, with no SQL and no argon2. */
  argon2QueueLimit?: number
}

const BEARER = /^Bearer ([^\s]+)$/i

/** The key from an Authorization header, or undefined unless it is exactly `Bearer jack_<48 lowercase hex>`. */
export function parseBearerKey (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const key = BEARER.exec(header)?.[1]
  return key !== undefined && API_KEY_PATTERN.test(key) ? key : undefined
}

/**
 * Whether a request carries more than one Authorization header (Node's raw
 * name/value list). Node keeps the first and a proxy may act on another, so
 * such a request is refused rather than judged by either.
 */
export function repeatsAuthorization (rawHeaders: readonly string[]): boolean {
  let seen = 0
  for (let index = 0; index < rawHeaders.length; index += 2) {
    if (rawHeaders[index]?.toLowerCase() === 'authorization' && ++seen > 1) return true
  }
  return false
}

function digestOf (key: string): string {
  return createHash('sha256').update(key).digest('base64')
}

export class KeyVerifier {
  readonly stats = {
    argon2Verifications: 0,
    /** The most argon2 verifications ever running at once. */
    argon2PeakConcurrency: 0,
    /** Checks answered 'busy' because the argon2 queue was full. */
    argon2Refusals: 0,
    /** Checks that waited for a verification of the same key already under way instead of starting their own. */
    sharedVerifications: 0
  }

  private readonly argon2Slots: Semaphore
  private readonly argon2: Argon2Workers
  private argon2Running = 0
  private readonly cache = new Map<string, CachedKey>()
  private readonly lastTouched = new Map<string, number>()
  /** Verifications under way, by key digest, that a check of the same key may wait for. */
  private readonly inFlight = new Map<string, Promise<Verification>>()
  // Bumped by every revocation and reconnect: a verification that began
  // before one must not put its (possibly stale) result into the cache.
  private epoch = 0
  private unlisten: (() => Promise<void>) | undefined

  constructor (private readonly database: Database, private readonly options: KeyVerifierOptions) {
    this.argon2Slots = new Semaphore(options.argon2Concurrency ?? 2, options.argon2QueueLimit ?? 32)
    this.argon2 = new Argon2Workers(this.argon2Slots.concurrency)
  }

  /** Subscribes to revocations from every instance; the cache is flushed on each (re)connect, since notifications may have been missed. */
  async start (): Promise<void> {
    this.unlisten = await this.database.listen(KEY_REVOKED_CHANNEL, (keyId) => this.forget(keyId), () => this.flush())
  }

  async stop (): Promise<void> {
    await this.unlisten?.()
    this.unlisten = undefined
    await this.argon2.close()
  }

  forget (keyId: string): void {
    this.newEpoch()
    for (const [digest, entry] of this.cache) {
      if (entry.keyId === keyId && !entry.revoked) this.cache.delete(digest)
    }
  }

  flush (): void {
    this.newEpoch()
    this.cache.clear()
  }

  private newEpoch (): void {
    this.epoch++
    // A check arriving after a revocation must not wait for a verification
    // that may have read the key before it: it starts its own.
    this.inFlight.clear()
  }

  /** The verdict on a key already verified and cached (no SQL, no argon2), or undefined when it is not cached. */
  cached (key: string): Verification | undefined {
    return this.cachedByDigest(digestOf(key))
  }

  private cachedByDigest (digest: string): Verification | undefined {
    const cached = this.cache.get(digest)
    if (cached === undefined) return undefined
    // Re-inserting keeps the Map in least-recently-used order for eviction.
    this.cache.delete(digest)
    this.cache.set(digest, cached)
    return this.conclude(cached)
  }

  async verify (key: string): Promise<Verification> {
    const digest = digestOf(key)
    const cached = this.cachedByDigest(digest)
    if (cached !== undefined) return cached
    // After a restart the cache is cold and a client's first burst arrives all at
    // once: one argon2 run per key, not one per request (nor one queue place each).
    // With the cache off (for benchmarks) every request keeps its own argon2 run.
    const sharing = this.options.cacheSize > 0
    const underWay = sharing ? this.inFlight.get(digest) : undefined
    if (underWay !== undefined) {
      this.stats.sharedVerifications++
      return await underWay
    }
    // The slot covers the prefix lookup as well as argon2: a flood makes at most
    // concurrency + queue lookups at once, and past the queue it costs no SQL either.
    const verifying = this.argon2Slots.tryRun(async () => await this.verifyUncached(key, digest))
    if (verifying === undefined) {
      this.stats.argon2Refusals++
      return { outcome: 'busy' }
    }
    if (!sharing) return await verifying
    const shared: Promise<Verification> = verifying.finally(() => {
      // A revocation may already have replaced this entry with a newer verification.
      if (this.inFlight.get(digest) === shared) this.inFlight.delete(digest)
    })
    this.inFlight.set(digest, shared)
    return await shared
  }

  private async verifyUncached (key: string, digest: string): Promise<Verification> {
    const epochAtStart = this.epoch
    const candidates = await findApiKeyCandidates(this.database.db, keyPrefix(key))
    for (const candidate of candidates) {
      this.stats.argon2Verifications++
      // Counted around the call itself, not from the semaphore, so the bound is measured rather than assumed.
      this.argon2Running++
      this.stats.argon2PeakConcurrency = Math.max(this.stats.argon2PeakConcurrency, this.argon2Running)
      let matches: boolean
      try {
        matches = await this.argon2.verify(candidate.hash, key)
      } finally {
        this.argon2Running--
      }
      if (!matches) continue
      const entry: CachedKey = { orgId: candidate.orgId, keyId: candidate.id, revoked: candidate.revokedAt !== null }
      if (epochAtStart === this.epoch) this.remember(digest, entry)
      return this.conclude(entry)
    }
    return { outcome: 'invalid' }
  }

  /** argon2 verifications running and waiting now. */
  get argon2Load (): { active: number, queued: number } {
    return { active: this.argon2Slots.active, queued: this.argon2Slots.queued }
  }

  private remember (digest: string, entry: CachedKey): void {
    if (this.options.cacheSize === 0) return
    this.cache.set(digest, entry)
    if (this.cache.size > this.options.cacheSize) {
      const oldest = this.cache.keys().next().value
      if (oldest !== undefined) this.cache.delete(oldest)
    }
  }

  private conclude (entry: CachedKey): Verification {
    if (entry.revoked) return { outcome: 'revoked' }
    this.touch(entry)
    return { outcome: 'valid', orgId: entry.orgId, keyId: entry.keyId }
  }

  private touch (entry: CachedKey): void {
    const now = Date.now()
    const last = this.lastTouched.get(entry.keyId)
    if (last !== undefined && now - last < (this.options.touchIntervalMs ?? 60_000)) return
    this.lastTouched.set(entry.keyId, now)
    touchApiKey(this.database.db, entry.orgId, entry.keyId).catch((error: unknown) => this.options.onBackgroundError?.(error))
  }
}
