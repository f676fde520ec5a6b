import type { Job, JobHandler, JobQueue } from '../../src/ports/job-queue.js';

/**
 * A JobQueue that only records what was enqueued. `failEnqueue` makes enqueue throw, `down`
 * makes ping throw; `waitForJobs(n)` resolves once n jobs have arrived (tests wait on it
 * instead of sleeping).
 */
export class FakeQueue implements JobQueue {
  readonly jobs: Job[] = [];
  failEnqueue = false;
  down = false;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  async migrate(): Promise<void> {}

  async enqueue(jobs: Job[]): Promise<void> {
    if (this.failEnqueue || this.down) throw new Error('fake queue refused the jobs');
    this.jobs.push(...jobs);
    this.waiters = this.waiters.filter((w) => {
      if (this.jobs.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  consume(_handler: JobHandler, _options: { concurrency: number }): void {}

  async stop(): Promise<void> {}

  async ping(): Promise<void> {
    if (this.down) throw new Error('fake queue is down');
  }

  async depth(): Promise<number> {
    if (this.down) throw new Error('fake queue is down');
    return this.jobs.length;
  }

  async close(): Promise<void> {}

  waitForJobs(count: number): Promise<void> {
    if (this.jobs.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}
