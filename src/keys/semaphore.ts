// Bounds how many of a costly task run at once, with a bounded queue behind them: past the queue, callers are refused at once instead of waiting.

export class QueueFullError extends Error {
  override name = 'QueueFullError'
}

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

  /** True when `run` would refuse now: every slot taken and the queue full. */
  get full (): boolean {
    return this.running >= this.concurrency && this.waiting.length >= this.queueLimit
  }

  /** Runs `task` when a slot is free; throws QueueFullError at once when every slot is taken and the queue is full. */
  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++
    } else {
      if (this.waiting.length >= this.queueLimit) throw new QueueFullError('every slot is taken and the queue is full')
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
