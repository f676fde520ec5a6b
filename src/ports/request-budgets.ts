/**
 * Request budgets of the public edge: per client IP, per brand, for failed admin sign-ins.
 * Fixed one-minute windows per key. Two implementations, chosen in src/container.ts:
 * per process (src/adapters/memory/request-budgets.ts) and shared by every instance through
 * Redis when LEADGATE_QUEUE=bullmq (src/adapters/bullmq/request-budgets.ts).
 * Tested by test/integration/request-budgets.test.ts on both (a real redis-server for the shared one).
 */
export interface RequestBudgets {
  /**
   * Spends one request of `key`'s budget of `perMinute`. Null when it was granted, else the
   * milliseconds until the window refills (nothing was spent).
   */
  spend(key: string, perMinute: number): Promise<number | null>;
  /** Like spend, without spending: null while the budget still has room. */
  check(key: string, perMinute: number): Promise<number | null>;
  close(): Promise<void>;
}
