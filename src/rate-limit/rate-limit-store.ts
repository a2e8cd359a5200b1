// What the rate limiter needs from a shared counter store: one atomic count-if-it-fits per request.
import type { OrgId } from '../org-id.js'
import type { WindowCounts, WindowPosition } from './sliding-window.js'

export interface CountResult extends WindowCounts {
  /** True when the request was counted; false when counting it would have gone over the limit (then nothing was counted). */
  accepted: boolean
}

export interface RateLimitStore {
  /**
   * Counts one request of the organisation in the current window unless the
   * sliding-window estimate would then exceed `limit`, atomically across every
   * instance sharing the store. The counts include this request when accepted.
   */
  count: (orgId: OrgId, position: WindowPosition, limit: number) => Promise<CountResult>
  close: () => Promise<void>
}
