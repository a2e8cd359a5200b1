// Which of an organisation's segments to merge next: ten of one level (an LSM tree's tiers), or one that is mostly deleted documents.
import type { SegmentSummary } from '../repositories/search-index.repo.js'

/** Segments of one level merged at once. With ten, an organisation holds at most nine a level: ~50 at 1,000,000 chunks, most of them small. */
export const MERGE_FACTOR = 10
/** Segments merged at most at once. */
export const MAX_MERGE_SEGMENTS = 4 * MERGE_FACTOR
/** A segment at least this share deleted is rewritten alone, so deleted postings do not linger in a segment too big to be merged again soon. */
export const DELETED_SHARE = 0.2

/**
 * The segments (IDs, oldest first) to merge now, or undefined when none need
 * it. `checked` holds segments found not worn enough at the deletion estimate
 * given (the estimate counts deletions by ordinal range, and ranges of merged
 * segments can interleave): they are not rewritten again until it grows.
 */
export function chooseMerge (segments: readonly SegmentSummary[], checked: ReadonlyMap<number, number> = new Map()): number[] | undefined {
  const byLevel = new Map<number, SegmentSummary[]>()
  for (const segment of segments) {
    const level = byLevel.get(segment.level)
    if (level === undefined) byLevel.set(segment.level, [segment])
    else level.push(segment)
  }
  for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
    const members = byLevel.get(level) as SegmentSummary[]
    // All of a level at once (up to a bound) when a bulk ingest has piled them up: one merge, not one per ten.
    if (members.length >= MERGE_FACTOR) return members.sort((a, b) => a.id - b.id).slice(0, MAX_MERGE_SEGMENTS).map((segment) => segment.id)
  }
  const worn = segments.find((segment) => segment.deletedChunks > 0 && segment.deletedChunks >= DELETED_SHARE * segment.chunkCount &&
    (checked.get(segment.id) ?? -1) < segment.deletedChunks)
  return worn === undefined ? undefined : [worn.id]
}
