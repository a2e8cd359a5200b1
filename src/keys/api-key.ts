// Minting API keys: 192 random bits, shown once, stored only as an argon2id hash plus the prefix used to find it.
import { randomBytes } from 'node:crypto'
import { hash } from '@node-rs/argon2'
import type { Db } from '../db/client.js'
import type { OrgId } from '../org-id.js'
import { insertApiKey, type ApiKeyRecord } from '../repositories/api-keys.repo.js'

export const API_KEY_PATTERN = /^jack_[0-9a-f]{48}$/
export const KEY_PREFIX_LENGTH = 16

export function generateApiKey (): string {
  return `jack_${randomBytes(24).toString('hex')}`
}

export function keyPrefix (key: string): string {
  return key.slice(0, KEY_PREFIX_LENGTH)
}

/** argon2id with the library's defaults, which are OWASP's minimum (m=19 MiB, t=2, p=1). */
export async function hashApiKey (key: string): Promise<string> {
  return await hash(key)
}

/** Stores `key` (or a newly minted one) for the org; the plaintext is returned to the caller and kept nowhere. */
export async function createApiKey (db: Db, orgId: OrgId, label: string, key = generateApiKey()): Promise<{ record: ApiKeyRecord, key: string }> {
  if (!API_KEY_PATTERN.test(key)) throw new Error('API key does not have the jack_<48 hex> form')
  const record = await insertApiKey(db, orgId, { prefix: keyPrefix(key), hash: await hashApiKey(key), label })
  return { record, key }
}
