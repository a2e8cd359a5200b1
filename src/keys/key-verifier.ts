// Checks presented API keys: argon2id against the stored hash once, then a memory cache keyed by the key's SHA-256.
import { createHash } from 'node:crypto'
import { verify } from '@node-rs/argon2'
import type { Database } from '../db/client.js'
import type { OrgId } from '../org-id.js'
import { findApiKeyCandidates, KEY_REVOKED_CHANNEL, touchApiKey } from '../repositories/api-keys.repo.js'
import { API_KEY_PATTERN, keyPrefix } from './api-key.js'

export type Verification =
  | { outcome: 'valid', orgId: OrgId, keyId: string }
  | { outcome: 'invalid' }
  | { outcome: 'revoked' }

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
}

const BEARER = /^Bearer ([^\s]+)$/i

/** The key from an Authorization header, or undefined unless it is exactly `Bearer jack_<48 lowercase hex>`. */
export function parseBearerKey (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const key = BEARER.exec(header)?.[1]
  return key !== undefined && API_KEY_PATTERN.test(key) ? key : undefined
}

export class KeyVerifier {
  readonly stats = { argon2Verifications: 0 }
  private readonly cache = new Map<string, CachedKey>()
  private readonly lastTouched = new Map<string, number>()
  // Bumped by every revocation and reconnect: a verification that began
  // before one must not put its (possibly stale) result into the cache.
  private epoch = 0
  private unlisten: (() => Promise<void>) | undefined

  constructor (private readonly database: Database, private readonly options: KeyVerifierOptions) {}

  /** Subscribes to revocations from every instance; the cache is flushed on each (re)connect, since notifications may have been missed. */
  async start (): Promise<void> {
    this.unlisten = await this.database.listen(KEY_REVOKED_CHANNEL, (keyId) => this.forget(keyId), () => this.flush())
  }

  async stop (): Promise<void> {
    await this.unlisten?.()
    this.unlisten = undefined
  }

  forget (keyId: string): void {
    this.epoch++
    for (const [digest, entry] of this.cache) {
      if (entry.keyId === keyId && !entry.revoked) this.cache.delete(digest)
    }
  }

  flush (): void {
    this.epoch++
    this.cache.clear()
  }

  async verify (key: string): Promise<Verification> {
    const digest = createHash('sha256').update(key).digest('base64')
    const cached = this.cache.get(digest)
    if (cached !== undefined) {
      // Re-inserting keeps the Map in least-recently-used order for eviction.
      this.cache.delete(digest)
      this.cache.set(digest, cached)
      return this.conclude(cached)
    }
    const epochAtStart = this.epoch
    const candidates = await findApiKeyCandidates(this.database.db, keyPrefix(key))
    for (const candidate of candidates) {
      this.stats.argon2Verifications++
      if (!await verify(candidate.hash, key)) continue
      const entry: CachedKey = { orgId: candidate.orgId, keyId: candidate.id, revoked: candidate.revokedAt !== null }
      if (epochAtStart === this.epoch) this.remember(digest, entry)
      return this.conclude(entry)
    }
    return { outcome: 'invalid' }
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
