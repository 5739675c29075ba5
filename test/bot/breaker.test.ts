/**
 * Issue 12 item 2 through the real discord.js client: X refusing the app (not the user) answers every user
 * "the bot cannot reach X right now; nothing was changed" with no relink button, /healthz is 503 with the
 * reason, the operator's channel (OPERATOR_LOG_CHANNEL) is told once when it opens and once when it closes,
 * and nothing more reaches X until a probe (a real waiting write, at the next probe time) succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorWords } from '../../src/i18n/render-error.js';
import { t } from '../../src/i18n/t.js';
import { XApiError } from '../../src/x/errors.js';
import { startHarness, type Harness } from '../support/bot-harness.js';
import { X_WRITE_PATHS, type AppBlockKind } from '../support/x-server.js';
import { avatarCommand, buttonsOf, fixture, image } from './helpers.js';

const clock = { offset: 0, now: () => Date.now() + clock.offset };
let h: Harness;

beforeAll(async () => {
  // v1.1 as set: in auto a 453 first moves the app to v2 (X_PROFILE_API), and only v2's refusal opens the breaker.
  h = await startHarness({ clock, env: { TWITTER_PROCESSING_DELAY_MS: '0', X_PROFILE_API: 'v1.1' } });
  // The operator's channel is the default guild's channel, known once the Discord server runs: set, then restart.
  h.config.operatorLogChannel = h.discord.guild.channelId;
  await h.restart();
}, 60_000);

afterAll(async () => {
  expect(h?.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

const KINDS: Array<[AppBlockKind, string, string]> = [
  [453, 'access-level', 'code 453'],
  [261, 'write-permission', 'code 261/220'],
  [416, 'app-suspended', 'code 416'],
  ['credits', 'credits', 'HTTP 402'],
  ['usage-cap', 'usage-cap', 'HTTP 429'],
];

const operatorPosts = () => h.discord.messages.filter((posted) => posted.channelId === h.discord.guild.channelId && /X (refuses|accepts) the bot's app/.test(posted.message.content));
const writes = () => h.x.requests.filter((request) => X_WRITE_PATHS.includes(request.path)).length;
const healthz = async () => {
  const response = await fetch(`${h.httpUrl()}/healthz`);
  return { status: response.status, body: (await response.json()) as Record<string, string> };
};
const photo = () => image('photo.jpg', fixture('Landscape_1.jpg'));

describe('X refuses the app', () => {
  it.each(KINDS)('%s: every user is told the app-level words without a relink button, /healthz is 503, the operator is told once each way', async (kind, reason, operatorWords) => {
    const first = h.discord.addMember({ username: `first${reason}` });
    const second = h.discord.addMember({ username: `second${reason}` });
    const firstAccount = await h.linkUser(first);
    await h.linkUser(second);
    const postsBefore = operatorPosts().length;
    h.x.blockApp(kind);
    const writesBefore = writes();

    const expected = t('en-US', `error.app-blocked.${reason}` as 'error.app-blocked');
    const { interaction, reply } = await avatarCommand(h, first, 'set', photo());
    expect(reply.content).toBe(expected);
    expect(interaction.ephemeral).toBe(true);
    expect(buttonsOf(reply)).toEqual([]); // no "Link again": the link is fine
    expect(writes()).toBe(writesBefore + 1);

    const health = await healthz();
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unhealthy', x: 'app-blocked', reason });
    expect(JSON.stringify(health.body)).not.toContain(h.x.consumer.secret);
    expect(JSON.stringify(health.body)).not.toContain(h.x.consumer.key);

    await h.discord.waitFor(() => operatorPosts().length === postsBefore + 1, 10_000, 'the operator message');
    expect(operatorPosts().at(-1)!.message.content).toContain(operatorWords);

    // Another user, in German: refused before sending, nothing reaches X, no second operator message.
    const german = await h.discord.slash(second, { name: 'avatar', subcommand: 'set', options: { image: photo() } }, { locale: 'de' });
    const germanReply = await german.waitForReply(undefined, 15_000);
    expect(germanReply.content).toBe(t('de', `error.app-blocked.${reason}` as 'error.app-blocked'));
    expect(buttonsOf(germanReply)).toEqual([]);
    expect(writes()).toBe(writesBefore + 1);
    expect(h.logs.filter((line) => line.includes('"level":50') && line.includes('X refuses the app'))).toHaveLength(KINDS.findIndex(([k]) => k === kind) + 1);

    // X accepts the app again: at the next probe time the next write goes through and closes the breaker.
    h.x.recoverApp();
    const state = (await h.services.breaker.status())!;
    clock.offset += state.nextProbeAt - clock.now() + 1_000;
    const after = await avatarCommand(h, first, 'set', photo());
    expect(after.reply.content).not.toBe(expected);
    expect(h.x.uploads.filter((upload) => upload.userId === firstAccount.id)).toHaveLength(1);
    expect((await healthz()).status).toBe(200);
    await h.discord.waitFor(() => operatorPosts().length === postsBefore + 2, 10_000, 'the operator message on closing');
    expect(operatorPosts().at(-1)!.message.content).toBe(t('en-US', 'operator.breaker.closed'));
    expect(operatorPosts()).toHaveLength(postsBefore + 2);
  }, 60_000);

  it('the CLI words, in every locale, say nothing was changed', () => {
    const error = new XApiError('app-blocked', {}, { variant: 'credits' });
    expect(errorWords(error, 'en-US', 'cli')).toBe(t('en-US', 'error.app-blocked.credits'));
    expect(errorWords(error, 'ja', 'bot')).toBe(t('ja', 'error.app-blocked.credits'));
    for (const locale of ['en-US', 'de', 'ja'] as const) expect(errorWords(new XApiError('app-blocked'), locale, 'bot')).toBe(t(locale, 'error.app-blocked'));
  });
});
