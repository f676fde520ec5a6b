import type { BotProtection } from './config.js';
import type { BotFields, SpamReason } from './lead.js';

/**
 * The bot traps a page sets (CONTRACT.md, second round): a honeypot field humans never see, and
 * a form sent faster than a person can fill it. A bot caught here still gets the normal 202 —
 * it learns nothing — and the lead is kept as spam, never forwarded.
 *
 * The honeypot is checked for every brand (no person fills an invisible field). The time trap
 * needs `min_fill_seconds` and a `form_shown_at` (server-to-server callers send none); it only
 * flags fill times between 0 and the minimum, so a page whose clock runs behind or far ahead
 * is never taken for a bot.
 */
export function spamReason(protection: BotProtection | null, bot: BotFields | undefined, receivedAt: number): SpamReason | null {
  if (bot === undefined) return null;
  if (bot.honeypot !== undefined && bot.honeypot.trim() !== '') return 'honeypot';
  const minFillMs = protection?.minFillMs ?? null;
  if (minFillMs !== null && bot.form_shown_at !== undefined) {
    const shownAt = Date.parse(bot.form_shown_at);
    const fillMs = receivedAt - shownAt;
    if (!Number.isNaN(shownAt) && fillMs >= 0 && fillMs < minFillMs) return 'too_fast';
  }
  return null;
}
