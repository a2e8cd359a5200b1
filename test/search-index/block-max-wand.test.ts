// The posting codec round-trips, and block-max WAND's top k equals exhaustive scoring of the same lists, for random lists, block sizes, segments and eligibility.
import t from 'tap'
import fc from 'fast-check'
import { contribution, termWeight } from '../../src/retrieval/bm25.js'
import { blockMaxWand, isEligible, TermCursor, type Eligibility } from '../../src/search-index/block-max-wand.js'
import { decodePostings, encodePostings, readSkipTable, type PostingArrays } from '../../src/search-index/posting-codec.js'
import { TopK } from '../../src/search-index/top-k.js'

function arrays (entries: ReadonlyArray<{ ordinal: number, tf: number, length: number }>): PostingArrays {
  return {
    ordinals: Int32Array.from(entries, (entry) => entry.ordinal),
    tfs: Uint16Array.from(entries, (entry) => entry.tf),
    lengths: Uint16Array.from(entries, (entry) => entry.length)
  }
}

/** Strictly increasing ordinals with gaps of any size, including ones past a varint byte. */
const postingList = fc.array(fc.record({ gap: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 70_000 })), tf: fc.integer({ min: 1, max: 300 }), length: fc.integer({ min: 1, max: 5000 }) }), { maxLength: 600 })
  .map((items) => {
    let ordinal = -1
    return items.map((item) => ({ ordinal: (ordinal += item.gap), tf: item.tf, length: item.length }))
  })

t.test('a posting list decodes to what was encoded, for any block size', async (t) => {
  fc.assert(fc.property(postingList, fc.integer({ min: 1, max: 200 }), (entries, blockSize) => {
    const encoded = encodePostings(arrays(entries), entries.length, blockSize)
    const skips = readSkipTable(encoded)
    const decoded = decodePostings(encoded, skips)
    return skips.df === entries.length && Array.from(decoded.ordinals).join() === entries.map((entry) => entry.ordinal).join() &&
      Array.from(decoded.tfs).join() === entries.map((entry) => entry.tf).join() && Array.from(decoded.lengths).join() === entries.map((entry) => entry.length).join()
  }), { numRuns: 300 })
  t.throws(() => encodePostings(arrays([{ ordinal: 3, tf: 1, length: 1 }, { ordinal: 3, tf: 1, length: 1 }])), RangeError, 'ordinals must increase')
  t.throws(() => readSkipTable(encodePostings(arrays([{ ordinal: 1, tf: 1, length: 1 }])).subarray(0, 4)), RangeError, 'a cut list is refused')
})

interface Term {
  entries: Array<{ ordinal: number, tf: number, length: number }>
  df: number
}

/** A small corpus: up to 5 terms over up to 400 ordinals, ordinals clustered so lists overlap. */
const corpus = fc.record({
  ordinals: fc.integer({ min: 1, max: 400 }),
  terms: fc.array(fc.record({ share: fc.double({ min: 0.01, max: 1, noNaN: true }), seed: fc.integer() }), { minLength: 1, maxLength: 5 }),
  lengths: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 400, maxLength: 400 }),
  blockSize: fc.integer({ min: 1, max: 16 }),
  /** Segments split the ordinals at these points. */
  splits: fc.array(fc.integer({ min: 1, max: 399 }), { maxLength: 4 }),
  k: fc.integer({ min: 1, max: 12 }),
  allowedShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
  deletedShare: fc.option(fc.double({ min: 0, max: 0.5, noNaN: true })),
  seed: fc.integer()
})

function pseudoRandom (seed: number): () => number {
  let state = seed | 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let value = Math.imul(state ^ (state >>> 15), 1 | state)
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

t.test('block-max WAND returns exactly the exhaustive top k', async (t) => {
  let checked = 0
  fc.assert(fc.property(corpus, (c) => {
    const random = pseudoRandom(c.seed)
    const terms: Term[] = c.terms.map((term) => {
      const entries: Term['entries'] = []
      // Small tfs mostly, so scores tie often.
      for (let ordinal = 0; ordinal < c.ordinals; ordinal++) if (random() < term.share) entries.push({ ordinal, tf: random() < 0.8 ? 1 : 1 + Math.floor(random() * 4), length: c.lengths[ordinal] as number })
      return { entries, df: entries.length }
    })
    const totalLength = c.lengths.slice(0, c.ordinals).reduce((sum, length) => sum + length, 0)
    const weights = terms.map((term) => termWeight(c.ordinals, totalLength / c.ordinals, Math.max(1, term.df), 1.2, 0.75))
    const eligibility: Eligibility = {
      allowed: c.allowedShare === null ? undefined : Uint8Array.from({ length: c.ordinals }, () => random() < (c.allowedShare as number) ? 1 : 0),
      deleted: c.deletedShare === null ? undefined : Uint8Array.from({ length: c.ordinals }, () => random() < (c.deletedShare as number) ? 1 : 0)
    }
    // Exhaustive: every chunk, its terms summed in term order.
    const expected = new TopK(c.k)
    for (let ordinal = 0; ordinal < c.ordinals; ordinal++) {
      let score = 0
      let matched = false
      for (const [index, term] of terms.entries()) {
        const entry = term.entries.find((candidate) => candidate.ordinal === ordinal)
        if (entry === undefined) continue
        matched = true
        score += contribution(weights[index] as ReturnType<typeof termWeight>, entry.tf, entry.length)
      }
      if (matched && isEligible(eligibility, ordinal)) expected.offer(score, ordinal)
    }
    // WAND, segment by segment (each segment's ordinals relative to its base).
    const bounds = [0, ...[...new Set(c.splits)].filter((split) => split < c.ordinals).sort((a, b) => a - b), c.ordinals]
    const actual = new TopK(c.k)
    for (let s = 0; s + 1 < bounds.length; s++) {
      const base = bounds[s] as number
      const end = bounds[s + 1] as number
      const cursors: TermCursor[] = []
      for (const [index, term] of terms.entries()) {
        const part = term.entries.filter((entry) => entry.ordinal >= base && entry.ordinal < end).map((entry) => ({ ...entry, ordinal: entry.ordinal - base }))
        if (part.length === 0) continue
        const bytes = encodePostings(arrays(part), part.length, c.blockSize)
        cursors.push(new TermCursor({ bytes, skips: readSkipTable(bytes) }, base, weights[index] as ReturnType<typeof termWeight>))
      }
      blockMaxWand(cursors, actual, eligibility)
    }
    checked++
    const want = expected.ranked()
    const got = actual.ranked()
    if (want.length !== got.length) return false
    // Exact equality, ties included: both keep the lower ordinal at equal score, and both sum in term order.
    return want.every((hit, index) => hit.ordinal === got[index]?.ordinal && hit.score === got[index]?.score)
  }), { numRuns: 500 })
  t.equal(checked, 500, '500 random corpora checked')
})
