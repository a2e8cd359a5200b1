// The sliding-window-counter approximation: this fixed window's count plus the previous window's, weighted by the share of it the sliding window still covers.
//
// Two counters per key instead of a timestamp per request, so a store can count
// with one small atomic step. It assumes the previous window's requests were
// spread evenly; the estimate never exceeds the true sliding count by more
// than that assumption allows, and a burst at a window boundary (which a fixed
// window would let through twice) is refused.

export interface WindowPosition {
  /** Start of the fixed window `now` falls in, in epoch milliseconds (a multiple of the window length). */
  currentStart: number
  previousStart: number
  /** How far into the current window `now` is, in milliseconds. */
  elapsedMs: number
  /** The share of the previous window the sliding window still covers: 1 at the start of the current window, near 0 at its end. */
  previousWeight: number
  windowMs: number
}

export function windowAt (now: number, windowMs: number): WindowPosition {
  const currentStart = Math.floor(now / windowMs) * windowMs
  const elapsedMs = now - currentStart
  return { currentStart, previousStart: currentStart - windowMs, elapsedMs, previousWeight: 1 - elapsedMs / windowMs, windowMs }
}

export interface WindowCounts {
  previous: number
  current: number
}

// Floating-point slack, so 3 × (1 − 2/3) + 4 is not read as a hair over 5.
const EPSILON = 1e-9

/** The sliding-window estimate of requests counted in the last window length. */
export function estimate (counts: WindowCounts, position: WindowPosition): number {
  return counts.previous * position.previousWeight + counts.current
}

/** Whether one more request fits under `limit`. */
export function fits (counts: WindowCounts, position: WindowPosition, limit: number): boolean {
  return estimate(counts, position) + 1 <= limit + EPSILON
}

/** Requests still allowed now (whole requests, never negative). */
export function remaining (counts: WindowCounts, position: WindowPosition, limit: number): number {
  return Math.max(0, Math.floor(limit - estimate(counts, position) + EPSILON))
}

/** Milliseconds until one more request fits, if no other request is counted meanwhile; 0 if it fits now. */
export function msUntilNextFits (counts: WindowCounts, position: WindowPosition, limit: number): number {
  if (fits(counts, position, limit)) return 0
  const { previous, current } = counts
  const { elapsedMs, windowMs } = position
  if (limit < 1) return Number.POSITIVE_INFINITY
  if (current + 1 <= limit + EPSILON) {
    // Within this window, as the previous window's weight falls:
    // previous × (1 − f) + current + 1 ≤ limit  ⇔  f ≥ 1 − (limit − current − 1) / previous.
    const share = 1 - (limit - current - 1) / previous
    return Math.max(0, share * windowMs - elapsedMs)
  }
  // Not before the next window, where this window's count is the one that fades:
  // current × (1 − f) + 1 ≤ limit  ⇔  f ≥ 1 − (limit − 1) / current.
  const share = Math.max(0, 1 - (limit - 1) / current)
  return windowMs - elapsedMs + share * windowMs
}

/** Milliseconds until every request counted now has left the sliding window, so the whole limit is available again. */
export function msUntilReset (counts: WindowCounts, position: WindowPosition): number {
  const { elapsedMs, windowMs } = position
  // This window's requests fade out over the next one; the previous window's by the end of this one.
  if (counts.current > 0) return 2 * windowMs - elapsedMs
  if (counts.previous > 0) return windowMs - elapsedMs
  return 0
}

/** Whole seconds, rounded up, for headers: a client that waits this long is never early. */
export function toSeconds (ms: number): number {
  return Math.ceil(ms / 1000 - EPSILON)
}
