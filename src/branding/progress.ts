/** A push's progress as its listeners receive it, and its words ("37/120 · 2 failed · about 40 s left"). */
import type { Locale } from '../i18n/locale.js';
import { t } from '../i18n/t.js';
import type { MemberResult, Phase, PushJob } from './jobs.js';

export const PROGRESS_EVERY_MS = 2_000;

/** What a progress listener receives: "37/120 · 2 failed · about 40 s left" with describeProgress. */
export interface PushProgress {
  phase: Phase;
  done: number;
  failed: number;
  skipped: number;
  total: number;
  /** Undefined until the first member of this run is finished. */
  etaSeconds: number | undefined;
  /** With X_DAILY_WRITE_BUDGET: when the members left are done under the budget (ms since the epoch), if the
   *  budget holds them back. */
  budgetFinishAt?: number;
}

export type ProgressListener = (progress: PushProgress) => void;

/** How many of the phase's members are in each state. */
export function counts(job: PushJob, phase: Phase): Omit<PushProgress, 'etaSeconds' | 'phase'> & { pending: number } {
  const results = Object.values(phase === 'push' ? job.results : (job.reverts ?? {}));
  const count = (status: MemberResult['status']) => results.filter((result) => result.status === status).length;
  return { done: count('done'), failed: count('failed'), skipped: count('skipped'), pending: count('pending'), total: results.length };
}

/** "37/120 · 2 failed · 1 skipped · about 40 s left" (the first number counts every finished member). */
export function describeProgress(progress: PushProgress, locale: Locale = 'en-US'): string {
  const finished = progress.done + progress.failed + progress.skipped;
  const parts = [`${finished}/${progress.total}`];
  if (progress.failed) parts.push(t(locale, 'branding.progress.failed', { count: progress.failed }));
  if (progress.skipped) parts.push(t(locale, 'branding.progress.skipped', { count: progress.skipped }));
  if (progress.etaSeconds !== undefined && finished < progress.total && progress.budgetFinishAt === undefined) {
    const seconds = progress.etaSeconds;
    parts.push(
      seconds < 60
        ? t(locale, 'branding.progress.seconds-left', { seconds: Math.max(5, Math.ceil(seconds / 5) * 5) })
        : t(locale, 'branding.progress.minutes-left', { minutes: Math.ceil(seconds / 60) }),
    );
  }
  if (progress.budgetFinishAt !== undefined && finished < progress.total) {
    parts.push(t(locale, 'branding.progress.budget-finish', { finishAt: finishWords(progress.budgetFinishAt, locale) }));
  }
  return parts.join(' · ');
}

const finishFormats = new Map<Locale, Intl.DateTimeFormat>();
/** "Dec 2, 14:15 UTC" in the reader's locale: a push under a daily budget can take days. */
function finishWords(ms: number, locale: Locale): string {
  let format = finishFormats.get(locale);
  if (!format) finishFormats.set(locale, (format = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' })));
  return `${format.format(ms)} UTC`;
}
