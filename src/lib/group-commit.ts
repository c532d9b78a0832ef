// Group commit: callers submit items and wait; items that arrive while earlier batches are being written
// are written together in one transaction, so throughput grows with load without acknowledging anything
// before it is committed. An idle queue writes a lone item at once: no added latency at low load.
import os from 'node:os'
import { AppError } from './errors.js'
import { isConnectionError } from './pg-errors.js'

/**
 * Batches to write at once on this machine: one per two cores, at most four. Fewer, larger batches cost
 * the database less: two at once lock the same rows of links and products, and add to the same index
 * pages, against each other. On 2 cores (50 connections), one at a time served 6,600-6,800 visits a second
 * on PostgreSQL 15 where two served 5,800-5,900, and 5,550-5,600 on the embedded PostgreSQL where two
 * served 5,000-5,150; four did less than two. More cores are assumed to serve another batch per two.
 */
export function batchesAtOnce(): number {
  return Math.min(4, Math.max(1, Math.floor(os.availableParallelism() / 2)))
}

export interface GroupCommitOptions {
  /** Items written in one batch at most. */
  maxBatch: number
  /** Writes at once at most, retries included. */
  maxInFlight: number
  /**
   * Items waiting to be written at most. Past it, submit refuses at once: when the database falls behind,
   * a quick "come back shortly" beats a wait that grows until every caller times out.
   */
  maxQueue: number
  /** What a refusal asks the caller to wait before trying again (1 second). */
  retryAfterSeconds?: number
  /** Whether a failed write lost its connection rather than met a bad item (node-postgres' errors). */
  isConnectionError?: (error: unknown) => boolean
}

/** The queue is full: the item was not taken, and nothing of it was written. */
export class QueueFullError extends AppError {
  constructor(retryAfterSeconds: number) {
    super('service_unavailable', 'the server is busy; try again in a moment', {
      retry_after_seconds: retryAfterSeconds,
    })
    this.name = 'QueueFullError'
    this.retryAfterSeconds = retryAfterSeconds
  }
}

interface Waiting<T> {
  item: T
  resolve: () => void
  reject: (error: unknown) => void
  /** Its batch failed: it is written again on its own, so that only a bad item fails. */
  alone: boolean
}

export class GroupCommitter<T> {
  /** Items of failed batches first (each to be written alone), then new items in order of arrival. */
  private readonly queue: Waiting<T>[] = []
  private inFlight = 0
  private readonly isConnectionError: (error: unknown) => boolean

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    private readonly options: GroupCommitOptions,
  ) {
    this.isConnectionError = options.isConnectionError ?? isConnectionError
  }

  /** Resolves once the item is committed; rejects if it could not be, or at once with QueueFullError. */
  submit(item: T): Promise<void> {
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(new QueueFullError(this.options.retryAfterSeconds ?? 1))
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject, alone: false })
      this.drain()
    })
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue[0]?.alone
        ? this.queue.splice(0, 1)
        : this.queue.splice(0, this.options.maxBatch)
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
      // A lost connection failed every item alike: writing them one by one would only fail again, slowly.
      if (batch.length === 1 || this.isConnectionError(error)) {
        for (const w of batch) w.reject(error)
        return
      }
      // One bad item must not fail its neighbours: each is written again alone, ahead of newer items and
      // within the same limit of writes at once.
      this.queue.unshift(...batch.map((w) => ({ ...w, alone: true })))
    }
  }
}
