// The role jack serves as, so row-level security binds every query it runs (drizzle/0007_row_level_security.sql).
import { createHmac } from 'node:crypto'

/** Owns nothing, bypasses nothing; created by migration 0007. */
export const SERVING_ROLE = 'jack_app'

export class ServingRoleError extends Error {
  override name = 'ServingRoleError'
}

/**
 * The password of the serving role when jack derives its credentials from
 * DATABASE_URL's (no DATABASE_MIGRATION_URL). Whoever knows the owner's
 * password can compute it, and gains nothing they did not already have;
 * whoever knows only this one cannot go back to the owner's.
 */
export function derivedServingPassword (ownerPassword: string): string {
  return createHmac('sha256', ownerPassword).update(`jack serving role ${SERVING_ROLE}`).digest('hex')
}

/** The password a postgres:// URL carries, or PGPASSWORD's as postgres.js would use it. */
export function passwordOf (url: string): string {
  const password = decodeURIComponent(new URL(url).password)
  return password !== '' ? password : process.env.PGPASSWORD ?? ''
}

export interface ServingRoleFacts {
  user: string
  superuser: boolean
  bypassesRls: boolean
  ownsTables: number
  member: boolean
}

/** Refuses a serving connection that row-level security would not bind. */
export function checkServingRole (facts: ServingRoleFacts): void {
  const problem = ([
    [facts.superuser, 'is a superuser'],
    [facts.bypassesRls, 'has BYPASSRLS'],
    [facts.ownsTables > 0, `owns ${facts.ownsTables} of jack's tables`],
    [!facts.member, `is not a member of ${SERVING_ROLE}`]
  ] as const).find(([applies]) => applies)?.[1]
  if (problem !== undefined) {
    throw new ServingRoleError(`DATABASE_URL logs in as "${facts.user}", which ${problem}: jack serves as a role that row-level security binds. ` +
      `Set DATABASE_MIGRATION_URL to the owner's URL and DATABASE_URL to a login that is a member of ${SERVING_ROLE} (GRANT ${SERVING_ROLE} TO <login>), ` +
      'or leave DATABASE_MIGRATION_URL unset to have jack derive its serving login from DATABASE_URL.')
  }
}
