// The k best (score, ordinal) pairs of a query, kept in a min-heap whose root is the worst kept.

export interface RankedOrdinal {
  ordinal: number
  score: number
}

/**
 * Best = higher score, then lower ordinal (the chunk indexed earlier), so the
 * result does not depend on the order segments are visited in.
 */
export class TopK {
  private readonly scores: Float64Array
  private readonly ordinals: Int32Array
  size = 0

  constructor (readonly k: number) {
    this.scores = new Float64Array(k)
    this.ordinals = new Int32Array(k)
  }

  /** A chunk must score above this to enter (−∞ until k are kept). */
  threshold (): number {
    return this.size < this.k ? Number.NEGATIVE_INFINITY : this.scores[0] as number
  }

  /** True when entry `index` ranks worse than (score, ordinal). */
  private entryWorse (index: number, score: number, ordinal: number): boolean {
    const other = this.scores[index] as number
    return other < score || (other === score && (this.ordinals[index] as number) > ordinal)
  }

  offer (score: number, ordinal: number): void {
    if (this.size < this.k) {
      let index = this.size++
      while (index > 0) {
        const parent = (index - 1) >> 1
        if (this.entryWorse(parent, score, ordinal)) break
        this.scores[index] = this.scores[parent] as number
        this.ordinals[index] = this.ordinals[parent] as number
        index = parent
      }
      this.scores[index] = score
      this.ordinals[index] = ordinal
      return
    }
    if (!this.entryWorse(0, score, ordinal)) return
    let index = 0
    for (;;) {
      const left = 2 * index + 1
      if (left >= this.size) break
      const right = left + 1
      const child = right < this.size && this.entryWorse(right, this.scores[left] as number, this.ordinals[left] as number) ? right : left
      if (!this.entryWorse(child, score, ordinal)) break
      this.scores[index] = this.scores[child] as number
      this.ordinals[index] = this.ordinals[child] as number
      index = child
    }
    this.scores[index] = score
    this.ordinals[index] = ordinal
  }

  /** Best first. */
  ranked (): RankedOrdinal[] {
    const ranked: RankedOrdinal[] = []
    for (let index = 0; index < this.size; index++) ranked.push({ ordinal: this.ordinals[index] as number, score: this.scores[index] as number })
    return ranked.sort((a, b) => b.score - a.score || a.ordinal - b.ordinal)
  }
}
