// A byte-bounded LRU of what queries read from immutable segments, per process: a segment never changes once written, so nothing is ever invalidated, only evicted.

interface Entry<T> {
  value: T
  bytes: number
}

export class SegmentCache {
  private readonly entries = new Map<string, Entry<unknown>>()
  private heldBytes = 0
  hits = 0
  misses = 0

  constructor (readonly limitBytes: number) {}

  get bytes (): number {
    return this.heldBytes
  }

  get<T> (key: string): T | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    // Most recently used last.
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.value as T
  }

  set<T> (key: string, value: T, bytes: number): void {
    const previous = this.entries.get(key)
    if (previous !== undefined) {
      this.entries.delete(key)
      this.heldBytes -= previous.bytes
    }
    // One entry bigger than the whole cache is used once and not kept.
    if (bytes > this.limitBytes) return
    this.entries.set(key, { value, bytes })
    this.heldBytes += bytes
    for (const [oldKey, old] of this.entries) {
      if (this.heldBytes <= this.limitBytes) break
      this.entries.delete(oldKey)
      this.heldBytes -= old.bytes
    }
  }

  clear (): void {
    this.entries.clear()
    this.heldBytes = 0
  }
}
