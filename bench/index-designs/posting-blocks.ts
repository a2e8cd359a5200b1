// bench/index-designs: design A's posting-list codec (blocks of delta-coded ordinals, tf and chunk length as LEB128 varints, behind a skip table of per-block maxima) and exact block-max WAND over it.
import { contribution, eligible, type Eligibility, type TermWeight, type TopK } from './oracle.js'

/** Past every ordinal. */
const END = 0x7fffffff
/** Block upper bounds are raised by this share so that floating-point rounding can never prune a chunk that ties or beats the threshold. */
const BOUND_SLACK = 1 + 1e-9

// ---------------------------------------------------------------------------------------------
// Varints

class Writer {
  private bytes = new Uint8Array(1024)
  length = 0

  varint (value: number): void {
    if (this.length + 5 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2)
      grown.set(this.bytes)
      this.bytes = grown
    }
    let rest = value
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest & 0x7f) | 0x80
      rest >>>= 7
    }
    this.bytes[this.length++] = rest
  }

  append (other: Writer): void {
    if (this.length + other.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + other.length))
      grown.set(this.bytes.subarray(0, this.length))
      this.bytes = grown
    }
    this.bytes.set(other.bytes.subarray(0, other.length), this.length)
    this.length += other.length
  }

  result (): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

// ---------------------------------------------------------------------------------------------
// One (segment, lexeme) row: header, skip table, blocks

/**
 * Layout: varint df, block size, block count; then per block (the skip table)
 * varint last-ordinal delta, byte length, max tf, min chunk length; then the
 * blocks, each its ordinal deltas (gap − 1 from the previous posting, across
 * blocks), its tfs and its chunk lengths. Ordinals are relative to the
 * segment's first. The skip table lets a query bound a block's BM25
 * contribution — weight · maxTf / (maxTf + k1 (1 − b + b · minLength / avgdl))
 * with the statistics of the moment — without decoding it.
 */
export function encodePostings (ordinals: ArrayLike<number>, tfs: ArrayLike<number>, lengths: ArrayLike<number>, blockSize: number): Uint8Array {
  const df = ordinals.length
  const blockCount = Math.ceil(df / blockSize)
  const header = new Writer()
  const body = new Writer()
  header.varint(df)
  header.varint(blockSize)
  header.varint(blockCount)
  let previous = -1
  for (let block = 0; block < blockCount; block++) {
    const start = block * blockSize
    const end = Math.min(df, start + blockSize)
    const blockStart = body.length
    const firstPrevious = previous
    let maxTf = 0
    let minLength = 0xffff
    for (let i = start; i < end; i++) {
      const ordinal = ordinals[i] as number
      body.varint(ordinal - previous - 1)
      previous = ordinal
      maxTf = Math.max(maxTf, tfs[i] as number)
      minLength = Math.min(minLength, lengths[i] as number)
    }
    for (let i = start; i < end; i++) body.varint(tfs[i] as number)
    for (let i = start; i < end; i++) body.varint(lengths[i] as number)
    header.varint(previous - firstPrevious)
    header.varint(body.length - blockStart)
    header.varint(maxTf)
    header.varint(minLength)
  }
  header.append(body)
  return header.result()
}

/** The skip table of one encoded row, decoded: enough to bound and locate every block. */
export interface SkipTable {
  df: number
  blockSize: number
  blockCount: number
  /** Last relative ordinal of each block. */
  last: Int32Array
  /** Byte offset of each block in the row. */
  offset: Int32Array
  maxTf: Uint16Array
  minLength: Uint16Array
}

function readVarint (bytes: Uint8Array, state: { at: number }): number {
  let value = 0
  let shift = 0
  for (;;) {
    const byte = bytes[state.at++] as number
    value += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) return value
    shift += 7
  }
}

export function readSkipTable (bytes: Uint8Array): SkipTable {
  const state = { at: 0 }
  const df = readVarint(bytes, state)
  const blockSize = readVarint(bytes, state)
  const blockCount = readVarint(bytes, state)
  const last = new Int32Array(blockCount)
  const lengths = new Int32Array(blockCount)
  const maxTf = new Uint16Array(blockCount)
  const minLength = new Uint16Array(blockCount)
  let previous = -1
  for (let block = 0; block < blockCount; block++) {
    previous += readVarint(bytes, state)
    last[block] = previous
    lengths[block] = readVarint(bytes, state)
    maxTf[block] = readVarint(bytes, state)
    minLength[block] = readVarint(bytes, state)
  }
  const offset = new Int32Array(blockCount)
  let at = state.at
  for (let block = 0; block < blockCount; block++) {
    offset[block] = at
    at += lengths[block] as number
  }
  return { df, blockSize, blockCount, last, offset, maxTf, minLength }
}

/** Decodes block `block` into the three arrays (from index 0); returns its posting count. */
function decodeBlock (bytes: Uint8Array, skips: SkipTable, block: number, ordinals: Int32Array, tfs: Uint16Array, lengths: Uint16Array): number {
  const count = block === skips.blockCount - 1 ? skips.df - block * skips.blockSize : skips.blockSize
  let at = skips.offset[block] as number
  let previous = block === 0 ? -1 : skips.last[block - 1] as number
  // Inlined varint reads: this loop is where a query spends its decoding time.
  for (let i = 0; i < count; i++) {
    let byte = bytes[at++] as number
    let value = byte & 0x7f
    let shift = 7
    while (byte >= 0x80) {
      byte = bytes[at++] as number
      value |= (byte & 0x7f) << shift
      shift += 7
    }
    previous += value + 1
    ordinals[i] = previous
  }
  for (let i = 0; i < count; i++) {
    let byte = bytes[at++] as number
    let value = byte & 0x7f
    let shift = 7
    while (byte >= 0x80) {
      byte = bytes[at++] as number
      value |= (byte & 0x7f) << shift
      shift += 7
    }
    tfs[i] = value
  }
  for (let i = 0; i < count; i++) {
    let byte = bytes[at++] as number
    let value = byte & 0x7f
    let shift = 7
    while (byte >= 0x80) {
      byte = bytes[at++] as number
      value |= (byte & 0x7f) << shift
      shift += 7
    }
    lengths[i] = value
  }
  return count
}

/** A row either as stored (decoded block by block during a query) or decoded in full once (for the decoded cache). */
export type PostingSource =
  | { kind: 'encoded', bytes: Uint8Array, skips: SkipTable }
  | { kind: 'decoded', skips: SkipTable, ordinals: Int32Array, tfs: Uint16Array, lengths: Uint16Array }

export function decodeAll (bytes: Uint8Array, skips: SkipTable): PostingSource {
  const ordinals = new Int32Array(skips.df)
  const tfs = new Uint16Array(skips.df)
  const lengths = new Uint16Array(skips.df)
  const scratch = { ordinals: new Int32Array(skips.blockSize), tfs: new Uint16Array(skips.blockSize), lengths: new Uint16Array(skips.blockSize) }
  for (let block = 0; block < skips.blockCount; block++) {
    const count = decodeBlock(bytes, skips, block, scratch.ordinals, scratch.tfs, scratch.lengths)
    const at = block * skips.blockSize
    ordinals.set(scratch.ordinals.subarray(0, count), at)
    tfs.set(scratch.tfs.subarray(0, count), at)
    lengths.set(scratch.lengths.subarray(0, count), at)
  }
  return { kind: 'decoded', skips, ordinals, tfs, lengths }
}

export function sourceBytes (source: PostingSource): number {
  const skips = source.skips.blockCount * 12
  return source.kind === 'encoded' ? source.bytes.length + skips : skips + source.ordinals.byteLength + source.tfs.byteLength + source.lengths.byteLength
}

// ---------------------------------------------------------------------------------------------
// Cursors and block-max WAND

export interface Counters {
  blocksDecoded: number
  postingsDecoded: number
  chunksScored: number
}

export function newCounters (): Counters {
  return { blocksDecoded: 0, postingsDecoded: 0, chunksScored: 0 }
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
  private ordinals: Int32Array
  private tfs: Uint16Array
  private lengths: Uint16Array

  constructor (private readonly source: PostingSource, private readonly base: number, private readonly weight: TermWeight, private readonly counters: Counters) {
    const { skips } = source
    this.blockBound = new Float64Array(skips.blockCount)
    let max = 0
    for (let block = 0; block < skips.blockCount; block++) {
      const bound = contribution(weight, skips.maxTf[block] as number, skips.minLength[block] as number) * BOUND_SLACK
      this.blockBound[block] = bound
      if (bound > max) max = bound
    }
    this.maxScore = max
    if (source.kind === 'encoded') {
      this.ordinals = new Int32Array(skips.blockSize)
      this.tfs = new Uint16Array(skips.blockSize)
      this.lengths = new Uint16Array(skips.blockSize)
    } else {
      this.ordinals = source.ordinals
      this.tfs = source.tfs
      this.lengths = source.lengths
    }
    if (skips.blockCount > 0) this.load(0)
  }

  private load (block: number): void {
    const { source, counters } = this
    const { skips } = source
    this.block = block
    if (this.shallowBlock < block) this.shallowBlock = block
    if (source.kind === 'encoded') {
      this.end = decodeBlock(source.bytes, skips, block, this.ordinals, this.tfs, this.lengths)
      this.position = 0
    } else {
      this.position = block * skips.blockSize
      this.end = Math.min(skips.df, this.position + skips.blockSize)
    }
    counters.blocksDecoded++
    counters.postingsDecoded += this.end - (source.kind === 'encoded' ? 0 : this.position)
    this.doc = this.base + (this.ordinals[this.position] as number)
  }

  /** The score of the current posting. */
  score (): number {
    return contribution(this.weight, this.tfs[this.position] as number, this.lengths[this.position] as number)
  }

  next (): void {
    this.position++
    if (this.position < this.end) {
      this.doc = this.base + (this.ordinals[this.position] as number)
      return
    }
    if (this.block + 1 < this.source.skips.blockCount) this.load(this.block + 1)
    else this.doc = END
  }

  /** Moves to the first posting at or after `target`. */
  advance (target: number): void {
    if (this.doc >= target) return
    const { skips } = this.source
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
    while ((this.ordinals[this.position] as number) < relative) this.position++
    this.doc = this.base + (this.ordinals[this.position] as number)
  }

  /** The bound of the block that holds `target` or the first posting after it (0 past the last block), without decoding it. */
  shallowBound (target: number): number {
    const { skips } = this.source
    const relative = target - this.base
    let block = Math.max(this.shallowBlock, this.block)
    while (block < skips.blockCount && (skips.last[block] as number) < relative) block++
    this.shallowBlock = block
    return block < skips.blockCount ? this.blockBound[block] as number : 0
  }

  /** The last ordinal of the block shallowBound found (END past the last block). */
  shallowLast (): number {
    const { skips } = this.source
    return this.shallowBlock < skips.blockCount ? this.base + (skips.last[this.shallowBlock] as number) : END
  }
}

/**
 * Block-max WAND (Ding & Suel, 2011) over one segment's cursors, into `top`,
 * which may already hold hits of earlier segments (segments are visited in
 * ordinal order, so at equal score the kept hit is always the older). Exact:
 * a chunk is skipped only when an upper bound of its score does not beat the
 * k-th score already held. Scores are summed in the cursors' given order
 * (lexeme order), so equal chunks score bit-for-bit equal.
 */
export function blockMaxWand (cursors: readonly TermCursor[], top: TopK, eligibility: Eligibility, counters: Counters): void {
  const live = cursors.filter((cursor) => cursor.doc !== END)
  for (;;) {
    // Insertion sort by current ordinal: the list is short and nearly sorted.
    for (let i = 1; i < live.length; i++) {
      const cursor = live[i] as TermCursor
      let j = i - 1
      while (j >= 0 && (live[j] as TermCursor).doc > cursor.doc) {
        live[j + 1] = live[j] as TermCursor
        j--
      }
      live[j + 1] = cursor
    }
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
        if (eligible(eligibility, pivotDoc)) {
          let score = 0
          for (const cursor of cursors) if (cursor.doc === pivotDoc) score += cursor.score()
          counters.chunksScored++
          top.offer(score, pivotDoc)
        }
        for (let i = 0; i <= pivot; i++) (live[i] as TermCursor).next()
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
