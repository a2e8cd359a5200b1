// Exact top-k BM25 over one segment's posting lists by block-max WAND: a chunk is scored only when an upper bound of its score could beat the k-th score already held.
import { contribution, type TermWeight } from '../retrieval/bm25.js'
import { decodeBlock, type PostingArrays, type SkipTable } from './posting-codec.js'
import type { TopK } from './top-k.js'

/** Past every ordinal. */
const END = 0x7fffffff
/** Bounds are raised by this share so that floating-point rounding can never prune a chunk that ties or beats the threshold. */
const BOUND_SLACK = 1 + 1e-9

/** Which ordinals may be returned, as byte maps indexed by ordinal (undefined: every one). */
export interface Eligibility {
  /** 1 where a filter allows the ordinal. */
  allowed: Uint8Array | undefined
  /** 1 where the ordinal's document was deleted (or re-indexed) since its segment was written. */
  deleted: Uint8Array | undefined
}

export function isEligible (eligibility: Eligibility, ordinal: number): boolean {
  return (eligibility.allowed === undefined || eligibility.allowed[ordinal] === 1) && (eligibility.deleted === undefined || eligibility.deleted[ordinal] !== 1)
}

/**
 * The first ordinal in [from, limit) that may be returned, or END. `limit` is
 * one past the segment's last posting: without it, a selective filter whose
 * last allowed chunk lies early made every segment scan the organisation's
 * whole allow-list to its end.
 */
function nextEligible (eligibility: Eligibility, from: number, limit: number): number {
  const { allowed, deleted } = eligibility
  for (let ordinal = from; ordinal < limit; ordinal++) {
    if ((allowed === undefined || allowed[ordinal] === 1) && (deleted === undefined || deleted[ordinal] !== 1)) return ordinal
  }
  return END
}

/** An encoded list and its skip table, as the cache keeps them. */
export interface PostingList {
  bytes: Uint8Array
  skips: SkipTable
  /**
   * The blocks' (max tf, min length) pairs that can hold the list's highest
   * score under any BM25 weights: those no other block beats on both. Usually
   * a handful, so a query bounds a list from them instead of from every block.
   */
  frontier?: { maxTf: Uint16Array, minLength: Uint16Array }
}

/** The Pareto frontier of a list's block maxima (see PostingList.frontier). */
function frontierOf (skips: SkipTable): { maxTf: Uint16Array, minLength: Uint16Array } {
  const order = Array.from({ length: skips.blockCount }, (_, block) => block)
    .sort((a, b) => (skips.maxTf[b] as number) - (skips.maxTf[a] as number) || (skips.minLength[a] as number) - (skips.minLength[b] as number))
  const tfs: number[] = []
  const lengths: number[] = []
  let shortest = Number.POSITIVE_INFINITY
  // By tf descending: a block is on the frontier when it is shorter than every block with a higher tf.
  for (const block of order) {
    const length = skips.minLength[block] as number
    if (length < shortest) {
      tfs.push(skips.maxTf[block] as number)
      lengths.push(length)
      shortest = length
    }
  }
  return { maxTf: Uint16Array.from(tfs), minLength: Uint16Array.from(lengths) }
}

/** One query term's postings in one segment, positioned on a posting (or END). */
export class TermCursor {
  doc = END
  readonly maxScore: number
  private readonly blockBound: Float64Array
  private block = -1
  private shallowBlock = 0
  private position = 0
  private end = 0
  private readonly decoded: PostingArrays

  constructor (private readonly list: PostingList, private readonly base: number, private readonly weight: TermWeight) {
    const { skips } = list
    // Block bounds are computed when first needed (a query touches few of a long list's blocks); the list's
    // bound from its frontier, which the cache keeps with the list.
    this.blockBound = new Float64Array(skips.blockCount).fill(-1)
    list.frontier ??= frontierOf(skips)
    let max = 0
    const { maxTf, minLength } = list.frontier
    for (let i = 0; i < maxTf.length; i++) {
      const bound = contribution(weight, maxTf[i] as number, minLength[i] as number) * BOUND_SLACK
      if (bound > max) max = bound
    }
    this.maxScore = max
    this.decoded = { ordinals: new Int32Array(skips.blockSize), tfs: new Uint16Array(skips.blockSize), lengths: new Uint16Array(skips.blockSize) }
    if (skips.blockCount > 0) this.load(0)
  }

  private load (block: number): void {
    this.block = block
    if (this.shallowBlock < block) this.shallowBlock = block
    this.end = decodeBlock(this.list.bytes, this.list.skips, block, this.decoded)
    this.position = 0
    this.doc = this.base + (this.decoded.ordinals[0] as number)
  }

  /** The current posting's share of its chunk's score. */
  score (): number {
    return contribution(this.weight, this.decoded.tfs[this.position] as number, this.decoded.lengths[this.position] as number)
  }

  next (): void {
    this.position++
    if (this.position < this.end) {
      this.doc = this.base + (this.decoded.ordinals[this.position] as number)
      return
    }
    if (this.block + 1 < this.list.skips.blockCount) this.load(this.block + 1)
    else this.doc = END
  }

  /** Moves to the first posting at or after `target`. */
  advance (target: number): void {
    if (this.doc >= target) return
    const { skips } = this.list
    const relative = target - this.base
    if (relative > (skips.last[this.block] as number)) {
      let block = Math.max(this.block + 1, this.shallowBlock)
      while (block < skips.blockCount && (skips.last[block] as number) < relative) block++
      if (block >= skips.blockCount) {
        this.doc = END
        return
      }
      this.load(block)
    }
    while ((this.decoded.ordinals[this.position] as number) < relative) this.position++
    this.doc = this.base + (this.decoded.ordinals[this.position] as number)
  }

  /** The bound of the block holding `target` or the first posting after it (0 past the last block), without decoding it. */
  shallowBound (target: number): number {
    const { skips } = this.list
    const relative = target - this.base
    let block = Math.max(this.shallowBlock, this.block)
    while (block < skips.blockCount && (skips.last[block] as number) < relative) block++
    this.shallowBlock = block
    if (block >= skips.blockCount) return 0
    let bound = this.blockBound[block] as number
    if (bound < 0) {
      bound = contribution(this.weight, skips.maxTf[block] as number, skips.minLength[block] as number) * BOUND_SLACK
      this.blockBound[block] = bound
    }
    return bound
  }

  /** The list's last ordinal (−1 for an empty list). */
  lastOrdinal (): number {
    const { skips } = this.list
    return skips.blockCount === 0 ? -1 : this.base + (skips.last[skips.blockCount - 1] as number)
  }

  /** The last ordinal of the block shallowBound found (END past the last block). */
  shallowLast (): number {
    const { skips } = this.list
    return this.shallowBlock < skips.blockCount ? this.base + (skips.last[this.shallowBlock] as number) : END
  }
}

function sortByDoc (live: TermCursor[]): void {
  // Insertion sort: the list is short and nearly sorted.
  for (let i = 1; i < live.length; i++) {
    const cursor = live[i] as TermCursor
    let j = i - 1
    while (j >= 0 && (live[j] as TermCursor).doc > cursor.doc) {
      live[j + 1] = live[j] as TermCursor
      j--
    }
    live[j + 1] = cursor
  }
}

/**
 * Block-max WAND (Ding & Suel, 2011) over one segment's cursors into `top`,
 * which may already hold other segments' hits. Exact: a chunk is skipped only
 * when an upper bound of its score does not beat the k-th score held. A
 * chunk's score is summed over `cursors` in their given order (the caller's
 * lexeme order), so equal chunks score bit-for-bit equal in any segment.
 */
export function blockMaxWand (cursors: readonly TermCursor[], top: TopK, eligibility: Eligibility): void {
  const live = cursors.filter((cursor) => cursor.doc !== END)
  const limit = cursors.reduce((end, cursor) => Math.max(end, cursor.lastOrdinal() + 1), 0)
  for (;;) {
    sortByDoc(live)
    while (live.length > 0 && (live[live.length - 1] as TermCursor).doc === END) live.pop()
    if (live.length === 0) return
    const threshold = top.threshold()
    let bound = 0
    let pivot = -1
    for (let i = 0; i < live.length; i++) {
      bound += (live[i] as TermCursor).maxScore
      if (bound > threshold) {
        pivot = i
        break
      }
    }
    if (pivot < 0) return
    const pivotDoc = (live[pivot] as TermCursor).doc
    while (pivot + 1 < live.length && (live[pivot + 1] as TermCursor).doc === pivotDoc) pivot++
    let blockBound = 0
    for (let i = 0; i <= pivot; i++) blockBound += (live[i] as TermCursor).shallowBound(pivotDoc)
    if (blockBound > threshold) {
      if ((live[0] as TermCursor).doc === pivotDoc) {
        if (isEligible(eligibility, pivotDoc)) {
          let score = 0
          for (const cursor of cursors) if (cursor.doc === pivotDoc) score += cursor.score()
          top.offer(score, pivotDoc)
          for (let i = 0; i <= pivot; i++) (live[i] as TermCursor).next()
        } else {
          // Straight to the next chunk the filter allows: a selective filter skips blocks instead of walking them.
          const target = nextEligible(eligibility, pivotDoc + 1, limit)
          for (let i = 0; i <= pivot; i++) (live[i] as TermCursor).advance(target)
        }
      } else {
        for (let i = 0; i <= pivot && (live[i] as TermCursor).doc < pivotDoc; i++) (live[i] as TermCursor).advance(pivotDoc)
      }
    } else {
      // No chunk before the end of the nearest block (or the next term's posting) can beat the threshold.
      let next = pivot + 1 < live.length ? (live[pivot + 1] as TermCursor).doc : END
      for (let i = 0; i <= pivot; i++) next = Math.min(next, (live[i] as TermCursor).shallowLast() + 1)
      for (let i = 0; i <= pivot; i++) (live[i] as TermCursor).advance(next)
    }
  }
}
