/**
 * Who a push reaches: opted in, linked with a working link, still in the server, holding the role when
 * one is asked for. The same rules are asked twice: for the prompt (every member, counted before the
 * admin confirms) and in the prepare stage of each member, a few members before their upload (consent and
 * membership may have changed since). Skip reasons are kinds, worded where they are shown.
 */
import { AccountError } from '../accounts/errors.js';
import { UserFacingError } from '../errors.js';
import type { Logger } from '../log.js';
import { StoreError } from '../store/backend.js';
import { VaultError } from '../accounts/vault.js';
import type { LinkState } from '../accounts/link-state.js';
import { XApiError } from '../x/errors.js';
import type { ConsentStore } from './consent.js';
import type { MemberResult } from './jobs.js';
import type { ProfilePart } from '../profile/parts.js';

/** Why the prompt leaves a member out (`branding.skip.<kind>`). */
export type SkipKind = 'link-unreadable' | 'not-linked' | 'link-revoked' | 'left-server' | 'without-role' | 'parts-not-allowed';

/** Membership checks are REST calls: this many at once keeps a 500-member prompt quick without a burst. */
const MEMBER_CHECKS_AT_ONCE = 8;

export interface Targets {
  reach: string[];
  /** Per skip kind, the members it leaves out, in opt-in order. */
  skipped: Partial<Record<SkipKind, string[]>>;
  opted: number;
}

export interface TargetRules {
  /** The links use case's answer (accounts/link-state.ts), as every command gets it. */
  linkState(userId: string): Promise<LinkState>;
  consent: ConsentStore;
  logger: Logger;
  /** The member's roles, or undefined when they left the server (asked of Discord). */
  member(userId: string): Promise<{ hasRole(roleId: string): boolean } | undefined>;
}

/** Who a push of `parts` would reach, counted exactly as the push will; and who is skipped and why (a member
 *  who allowed none of the parts is; one who allowed some gets those). */
export async function targetsOf(guildId: string, rules: TargetRules, roleId: string | undefined, parts: readonly ProfilePart[] = ['avatar']): Promise<Targets> {
  const opted = await rules.consent.members(guildId);
  const reasons = new Array<SkipKind | undefined>(opted.length);
  const skipReason = async (userId: string): Promise<SkipKind | undefined> => {
    const allowed = await rules.consent.parts(guildId, userId);
    if (allowed && !parts.some((part) => allowed.includes(part))) return 'parts-not-allowed';
    const link = await rules.linkState(userId);
    if (link.state === 'damaged') {
      rules.logger.warn({ err: link.error, user: userId }, 'a stored X link cannot be opened'); // that member alone is skipped
      return 'link-unreadable';
    }
    if (link.state === 'not-linked') return 'not-linked';
    if (link.state === 'revoked') return 'link-revoked';
    const member = await rules.member(userId);
    if (!member) return 'left-server';
    if (roleId && !member.hasRole(roleId)) return 'without-role';
    return undefined;
  };
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < opted.length; index = next++) reasons[index] = await skipReason(opted[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(MEMBER_CHECKS_AT_ONCE, opted.length) }, worker));
  const reach: string[] = [];
  const skipped: Targets['skipped'] = {};
  opted.forEach((userId, index) => {
    const reason = reasons[index];
    if (reason) (skipped[reason] ??= []).push(userId);
    else reach.push(userId);
  });
  return { reach, skipped, opted: opted.length };
}

/** The prepare stage's check of one member, just before their upload: still opted in (and to which parts), still in the server. */
export async function stillReached(
  consent: ConsentStore,
  isMember: (guildId: string, userId: string) => Promise<boolean>,
  guildId: string,
  userId: string,
): Promise<{ skip: 'not-opted-in' | 'left-server' } | { allowed: ProfilePart[] }> {
  const [allowed, member] = await Promise.all([consent.parts(guildId, userId), isMember(guildId, userId)]);
  if (!allowed) return { skip: 'not-opted-in' };
  if (!member) return { skip: 'left-server' };
  return { allowed };
}

/** A member's outcome; a pending one is tried again at `retryAt`. */
export type Attempt = { result: MemberResult; retryAt?: number };

/** What a failed upload or revert means for the member: a kind (and parameters) worded where it is shown. */
export type Failure = Pick<MemberResult, 'kind' | 'params' | 'variant'> & { kind: string; retry?: 'rate-limited' | 'transient' | 'app-blocked'; resetAt?: number };

export function classify(error: unknown): Failure {
  if (error instanceof VaultError) return { kind: error.kind === 'damaged-link' ? error.kind : 'not-linked' };
  if (error instanceof AccountError) {
    if (error.kind === 'link-revoked' || error.kind === 'nothing-to-revert' || error.kind === 'history-entry-gone') return { kind: error.kind };
  }
  if (error instanceof XApiError) {
    switch (error.kind) {
      case 'token-revoked':
        return { kind: 'token-revoked' };
      case 'rate-limited':
        return { kind: error.kind, retry: 'rate-limited', ...(error.variant ? { variant: error.variant } : {}), ...(error.resetAt ? { resetAt: error.resetAt.getTime() } : {}) };
      case 'transient':
        return { kind: error.kind, retry: 'transient' };
      case 'app-blocked': // X refuses the app (issue 12): the member waits for the breaker's next probe
        return { kind: error.kind, retry: 'app-blocked', ...(error.variant ? { variant: error.variant } : {}), ...(error.resetAt ? { resetAt: error.resetAt.getTime() } : {}) };
    }
  }
  const words = (known: UserFacingError): Failure => ({
    kind: known.kind,
    ...(Object.keys(known.params).length ? { params: { ...known.params } } : {}),
    ...(known.variant !== undefined ? { variant: known.variant } : {}),
  });
  // A record of the member stayed locked: a change of theirs in flight, or a lease of a process that died
  // (it expires within 15 s). Waiting is enough.
  if (error instanceof StoreError && error.kind === 'busy') return { ...words(error), retry: 'transient' };
  if (error instanceof UserFacingError) return words(error);
  return { kind: 'internal' };
}
