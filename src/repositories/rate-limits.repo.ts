// SQL for the per-organisation rate limit: one statement counts a request if it fits, returns both windows' counts, and drops the org's expired windows.
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { rowsOf } from '../db/rows.js'
import { inOrg } from '../db/org-scope.js'
import { rateLimitWindows } from '../db/schema.js'
import type { OrgId } from '../org-id.js'

export interface WindowCount {
  /** Start of the current fixed window, epoch milliseconds. */
  currentStart: number
  previousStart: number
  /** The share of the previous window's count that still counts. */
  previousWeight: number
  limit: number
}

export interface CountedRequest {
  accepted: boolean
  previous: number
  current: number
}

/**
 * Counts one request of the organisation in the current window if the
 * sliding-window estimate stays within the limit. The condition is checked by
 * the upsert on the locked row, so concurrent requests on any number of
 * instances never overshoot. A refused request writes nothing. Windows older
 * than the previous one are deleted here, lazily, so the table holds at most
 * two rows per organisation.
 */
export async function countRequest (db: Db, orgId: OrgId, window: WindowCount): Promise<CountedRequest> {
  const org = sql`${orgId}::uuid`
  const currentStart = sql`${window.currentStart}::bigint`
  const previousStart = sql`${window.previousStart}::bigint`
  const weight = sql`${window.previousWeight}::float8`
  const limit = sql`${window.limit}::float8`
  const previousCount = sql`coalesce((select p.count from ${rateLimitWindows} p where p.org_id = ${org} and p.window_start = ${previousStart}), 0)`
  const result = await inOrg(db, orgId, async (tx) => await tx.execute(sql`
    with previous as (
      select ${previousCount} as count
    ),
    expired as (
      delete from ${rateLimitWindows} where org_id = ${org} and window_start < ${previousStart}
    ),
    counted as (
      insert into ${rateLimitWindows} as w (org_id, window_start, count)
      select ${org}, ${currentStart}, 1 from previous where 1 + previous.count * ${weight} <= ${limit}
      on conflict (org_id, window_start) do update set count = w.count + 1
      where w.count + 1 + ${previousCount} * ${weight} <= ${limit}
      returning w.count
    )
    select (select count from counted) as accepted_count,
           (select count from previous) as previous_count,
           (select count from ${rateLimitWindows} where org_id = ${org} and window_start = ${currentStart}) as current_count`))
  const [row] = rowsOf<{ accepted_count: number | null, previous_count: number, current_count: number | null }>(result)
  if (row === undefined) throw new Error('the rate-limit statement returned no row')
  const accepted = row.accepted_count !== null
  return {
    accepted,
    previous: Number(row.previous_count),
    // A refused request sees the count as of the statement's snapshot; an accepted one its own increment.
    current: Number(accepted ? row.accepted_count : (row.current_count ?? 0))
  }
}
