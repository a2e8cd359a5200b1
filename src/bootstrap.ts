// First start on an empty database: create the "default" organisation and its first key.
import { sql } from 'drizzle-orm'
import type { Db } from './db/client.js'
import { createApiKey } from './keys/api-key.js'
import { anyOrgExists, createOrg, type Org } from './repositories/orgs.repo.js'

const BOOTSTRAP_LOCK_ID = 7_271_000_002

export type BootstrapResult =
  | { created: false }
  | { created: true, org: Org, key: string, keyFromEnvironment: boolean }

/**
 * Creates the default org when there is no org at all. Instances starting
 * together against one PostgreSQL serialise on an advisory lock, so exactly one
 * creates it. `bootstrapKey` (JACK_BOOTSTRAP_KEY) becomes its first key if given.
 */
export async function ensureDefaultOrg (db: Db, bootstrapKey: string | undefined): Promise<BootstrapResult> {
  return await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_ID})`)
    if (await anyOrgExists(tx)) return { created: false }
    const org = await createOrg(tx, 'default')
    const { key } = await createApiKey(tx, org.id, 'bootstrap', bootstrapKey)
    return { created: true, org, key, keyFromEnvironment: bootstrapKey !== undefined }
  })
}

/** The one message that ever shows a key on the console, framed so an operator cannot miss it. */
export function formatBootstrapMessage (result: BootstrapResult): string | undefined {
  if (!result.created) return undefined
  const rule = '='.repeat(72)
  if (result.keyFromEnvironment) {
    return `${rule}\njack: created organisation "default" (${result.org.id}); its first key is JACK_BOOTSTRAP_KEY.\n${rule}\n`
  }
  return [
    rule,
    `jack: created organisation "default" (${result.org.id}).`,
    'Its first API key is shown this once and never again. Store it now:',
    '',
    `    ${result.key}`,
    '',
    'Use it as:  Authorization: Bearer <key>   (create more with POST /v1/keys)',
    rule,
    ''
  ].join('\n')
}
