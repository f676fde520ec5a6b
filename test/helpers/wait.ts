/**
 * The one polling wait of the tests, for state that announces itself by no event we can hear
 * (another process's work, a server coming up). Where an event or a promise exists, await that
 * instead. Resolves once `check` returns true, re-checking every `intervalMs`; rejects naming
 * `what` after `timeoutMs`; an error thrown by `check` rejects at once.
 */
export interface WaitOptions {
  /** Longest wait; default 30 s. */
  timeoutMs?: number;
  /** What is waited for, for the error message. */
  what?: string;
  /** Pause between checks; default 20 ms. */
  intervalMs?: number;
}

export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 30_000, what = 'a condition', intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
