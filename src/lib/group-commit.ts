// Group commit: callers submit items and wait; items that arrive while earlier batches are being written
// are written together in one transaction, so throughput grows with load without acknowledging anything
// before it is committed. An idle queue writes a lone item at once: no added latency at low load.

export interface GroupCommitOptions {
  /** Items written in one batch at most. */
  maxBatch: number
  /** Batches being written at once at most (one for an embedded database with a single connection). */
  maxInFlight: number
}

interface Waiting<T> {
  item: T
  resolve: () => void
  reject: (error: unknown) => void
}

export class GroupCommitter<T> {
  private readonly queue: Waiting<T>[] = []
  private inFlight = 0

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Resolves once the item is committed; rejects if it could not be. */
  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.drain()
    })
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch)
      this.inFlight++
      this.writeBatch(batch).finally(() => {
        this.inFlight--
        this.drain()
      })
    }
  }

  private async writeBatch(batch: Waiting<T>[]): Promise<void> {
    try {
      await this.write(batch.map((w) => w.item))
      for (const w of batch) w.resolve()
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error)
        return
      }
      // One bad item must not fail its neighbours: write each alone, so only it fails.
      await Promise.all(
        batch.map((w) =>
          this.write([w.item]).then(
            () => w.resolve(),
            (err) => w.reject(err),
          ),
        ),
      )
    }
  }
}
