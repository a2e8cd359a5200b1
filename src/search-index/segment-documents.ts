// The documents of one segment — where each one's chunks start, how many, and its metadata — and metadata filters evaluated over them in the application.
//
// Why here and not in SQL: under row-level security PostgreSQL cannot use the
// GIN index on documents.metadata (jsonb @> is not LEAKPROOF), so computing a
// filter's allow-list in SQL reads every document of the organisation:
// bench/index-designs.ts measured p95 104–114 ms for a 10 % year filter at
// 1,000,005 chunks on PostgreSQL, against 43 ms unfiltered. A segment is
// immutable (a metadata change re-indexes its document into a new segment), so
// its documents are read once per process, kept by value per key, and a
// filter costs a few passes over typed arrays.
import type { Condition, Conjunction, Filter } from '../retrieval/filters.js'

export interface StoredDocuments {
  /** First ordinal of each document, relative to the segment's base, increasing. */
  f: number[]
  /** Chunk count of each document. */
  n: number[]
  /** Metadata of each document. */
  m: Array<Record<string, string>>
}

export function encodeDocuments (documents: StoredDocuments): Uint8Array {
  return Buffer.from(JSON.stringify(documents), 'utf8')
}

export function decodeDocuments (bytes: Uint8Array): StoredDocuments {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as StoredDocuments
}

/** Code-point (UTF-8 byte) order, as PostgreSQL's "C" collation compares filter operands. */
export function compareCodePoints (a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) as number
    const y = b.codePointAt(i) as number
    if (x !== y) return x - y
    if (x > 0xffff) i++
  }
  return a.length - b.length
}

function comparison (condition: Condition & { value: string }, value: string): boolean {
  const order = compareCodePoints(value, condition.value)
  switch (condition.op) {
    case 'gt': return order > 0
    case 'gte': return order >= 0
    case 'lt': return order < 0
    case 'lte': return order <= 0
    default: return false
  }
}

export class SegmentDocuments {
  readonly count: number
  readonly firsts: Int32Array
  readonly chunkCounts: Int32Array
  /** Per metadata key, per value, the documents (indexes) holding it. */
  private readonly byKey = new Map<string, Map<string, number[]>>()
  readonly bytes: number

  constructor (stored: StoredDocuments, storedBytes: number) {
    this.count = stored.f.length
    this.firsts = Int32Array.from(stored.f)
    this.chunkCounts = Int32Array.from(stored.n)
    for (const [index, metadata] of stored.m.entries()) {
      for (const [key, value] of Object.entries(metadata)) {
        let values = this.byKey.get(key)
        if (values === undefined) this.byKey.set(key, values = new Map())
        const holders = values.get(value)
        if (holders === undefined) values.set(value, [index])
        else holders.push(index)
      }
    }
    // Typed arrays, holder lists and the strings once: a rough count for the cache's budget.
    this.bytes = 8 * this.count + 2 * storedBytes
  }

  static decode (bytes: Uint8Array): SegmentDocuments {
    return new SegmentDocuments(decodeDocuments(bytes), bytes.byteLength)
  }

  /** 1 for each document the filter selects. The same meaning as filterToSql (src/retrieval/filters.ts). */
  select (filter: Filter): Uint8Array {
    const selected = this.conjunction(filter.all)
    if (filter.anyOf.length > 0) {
      const any = new Uint8Array(this.count)
      for (const alternative of filter.anyOf) {
        const mask = this.conjunction(alternative)
        for (let i = 0; i < this.count; i++) any[i] = (any[i] as number) | (mask[i] as number)
      }
      for (let i = 0; i < this.count; i++) selected[i] = (selected[i] as number) & (any[i] as number)
    }
    return selected
  }

  private conjunction (conditions: Conjunction): Uint8Array {
    const mask = new Uint8Array(this.count).fill(1)
    for (const condition of conditions) {
      const holders = this.holders(condition)
      const negated = condition.op === 'ne' || condition.op === 'nin' || (condition.op === 'exists' && !condition.exists)
      const hit = new Uint8Array(this.count)
      for (const list of holders) for (const index of list) hit[index] = 1
      for (let i = 0; i < this.count; i++) if ((hit[i] === 1) === negated) mask[i] = 0
    }
    return mask
  }

  /** The holder lists whose union the condition selects (or, for ne/nin/exists false, excludes). */
  private holders (condition: Condition): number[][] {
    const values = this.byKey.get(condition.key)
    if (values === undefined) return []
    switch (condition.op) {
      case 'eq':
      case 'ne': {
        const list = values.get(condition.value)
        return list === undefined ? [] : [list]
      }
      case 'in':
      case 'nin':
        return condition.values.map((value) => values.get(value)).filter((list): list is number[] => list !== undefined)
      case 'exists':
        return [...values.values()]
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        return [...values].filter(([value]) => comparison(condition, value)).map(([, list]) => list)
    }
  }
}
