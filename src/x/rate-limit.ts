/**
 * When to try X again after a 429. X's `x-rate-limit-reset` can already be past (a clock skew, a window
 * that rolled over while the answer travelled): retrying "after the reset" then meant at once, and one
 * scheduled change made 12 attempts (36 requests) in 12 s. So the next attempt is never sooner than a
 * minute after the 429, doubles with each 429 in a row (1, 2, 4 … minutes, at most an hour), plus up to
 * 20% jitter so that many accounts limited together do not come back in the same second.
 */
export const RATE_LIMIT_MIN_WAIT_MS = 60_000;
export const RATE_LIMIT_MAX_WAIT_MS = 60 * 60_000;
/** X's reset is given in whole seconds; wait a little past it. */
const RESET_MARGIN_MS = 1_000;

/**
 * The instant of the next attempt after the `streak`-th 429 in a row (1 for the first), given X's reset
 * (if it sent one). `minWaitMs` is the first wait (tests shorten it), `random` a source in [0, 1).
 */
export function rateLimitRetryAt(resetAt: Date | undefined, nowMs: number, streak: number, minWaitMs = RATE_LIMIT_MIN_WAIT_MS, random: () => number = Math.random): number {
  const steps = Math.max(0, Math.min(Math.floor(streak) - 1, 16));
  const backoff = Math.min(minWaitMs * 2 ** steps, RATE_LIMIT_MAX_WAIT_MS);
  const jittered = backoff * (1 + 0.2 * Math.min(Math.max(random(), 0), 1));
  return Math.max((resetAt?.getTime() ?? 0) + RESET_MARGIN_MS, nowMs + jittered);
}

/** A write the bot's own write budget refused before sending (src/x/budget.ts): it cost X nothing, so the
 *  caller retries just after its `resetAt` without counting it as a 429 or backing off. */
export function heldBackByBot(error: unknown): boolean {
  const { kind, variant } = (error ?? {}) as { kind?: unknown; variant?: unknown };
  return kind === 'rate-limited' && (variant === 'held' || variant === 'budget');
}
