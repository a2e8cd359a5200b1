// The per-organisation request limit: asks the shared store to count a request and turns the counts into the decision and header values.
import type { OrgId } from '../org-id.js'
import type { RateLimitStore } from './rate-limit-store.js'
import { msUntilNextFits, msUntilReset, remaining, toSeconds, windowAt } from './sliding-window.js'

export interface RateLimitDecision {
  allowed: boolean
  limit: number
  /** Requests still allowed after this one. */
  remaining: number
  /** Whole seconds until the whole limit is available again (RateLimit-Reset). */
  resetSeconds: number
  /** Whole seconds until a request would be accepted (Retry-After); 0 when allowed. */
  retryAfterSeconds: number
}

export interface RateLimiterOptions {
  /** Requests per window per organisation. */
  limit: number
  windowMs: number
  /** The clock, in epoch milliseconds; tests move it by hand. */
  now?: () => number
}

export class RateLimiter {
  private readonly now: () => number

  constructor (readonly store: RateLimitStore, private readonly options: RateLimiterOptions) {
    this.now = options.now ?? Date.now
  }

  /** Counts one request of the organisation, unless it is over the limit. Store failures propagate: the caller decides whether to fail open. */
  async check (orgId: OrgId): Promise<RateLimitDecision> {
    const { limit, windowMs } = this.options
    const position = windowAt(this.now(), windowMs)
    const counts = await this.store.count(orgId, position, limit)
    return {
      allowed: counts.accepted,
      limit,
      remaining: counts.accepted ? remaining(counts, position, limit) : 0,
      resetSeconds: toSeconds(msUntilReset(counts, position)),
      retryAfterSeconds: counts.accepted ? 0 : Math.max(1, toSeconds(msUntilNextFits(counts, position, limit)))
    }
  }
}
