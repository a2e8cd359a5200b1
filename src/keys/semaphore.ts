// Bounds how many of a costly task run at once, with a bounded queue behind them: past the queue, callers are refused at once instead of waiting.

export class Semaphore {
  private running = 0
  private peakRunning = 0
  private readonly waiting: Array<() => void> = []

  constructor (readonly concurrency: number, readonly queueLimit: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a whole number ≥ 1, got ${concurrency}`)
    if (!Number.isInteger(queueLimit) || queueLimit < 0) throw new RangeError(`queueLimit must be a whole number ≥ 0, got ${queueLimit}`)
  }

  /** Tasks running now. */
  get active (): number {
    return this.running
  }

  /** The most tasks ever running at once. */
  get peak (): number {
    return this.peakRunning
  }

  get queued (): number {
    return this.waiting.length
  }

  /**
   * Runs `task` when a slot is free, queued behind the running ones. When every
   * slot is taken and the queue is full it returns undefined at once, without
   * starting the task: a refusal costs no promise and no exception.
   */
  tryRun<T> (task: () => Promise<T>): Promise<T> | undefined {
    if (this.running >= this.concurrency && this.waiting.length >= this.queueLimit) return undefined
    return this.runAdmitted(task)
  }

  /** Takes a slot, or a place in the queue, synchronously (before its first await), so concurrent callers are counted in order. */
  private async runAdmitted<T> (task: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++
    } else {
      // The finishing task hands its slot straight over, so `running` stays counted.
      await new Promise<void>((resolve) => { this.waiting.push(resolve) })
    }
    this.peakRunning = Math.max(this.peakRunning, this.running)
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next === undefined) this.running--
      else next()
    }
  }
}
