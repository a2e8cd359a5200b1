// Rate-limit counts in the database every instance already shares (PostgreSQL or PGlite): the default store.
import type { Db } from '../db/client.js'
import type { OrgId } from '../org-id.js'
import { countRequest } from '../repositories/rate-limits.repo.js'
import type { CountResult, RateLimitStore } from './rate-limit-store.js'
import type { WindowPosition } from './sliding-window.js'

export class DatabaseRateLimitStore implements RateLimitStore {
  constructor (private readonly db: Db) {}

  async count (orgId: OrgId, position: WindowPosition, limit: number): Promise<CountResult> {
    return await countRequest(this.db, orgId, {
      currentStart: position.currentStart,
      previousStart: position.previousStart,
      previousWeight: position.previousWeight,
      limit
    })
  }

  async close (): Promise<void> {}
}
