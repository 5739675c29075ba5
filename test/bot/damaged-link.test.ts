/**
 * A stored X link that does not open (sealed with a key the bot no longer has, or altered) is that
 * user's problem alone: they get a sentence telling them what to do, the operator's explanation (which
 * key) goes to the log only, they can still unlink, and a branding push goes on for everyone else.
 */
import { memberReason } from '../../src/bot/branding-report.js';
import sharp from 'sharp';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox, keyId } from '../../src/store/cipher.js';
import { createTokenVault } from '../../src/accounts/vault.js';
import { t } from '../../src/i18n/t.js';
import type { Interaction, TestUser } from '../support/discord-server.js';
import { avatarCommand, customIdOf, expectPlainEphemeral, fixture, requestTokenOf, SLOW_MS, useHarness } from './helpers.js';
import { pendingKey } from '../../src/accounts/links.js';

const MANAGE_GUILD = 1n << 5n;
const h = useHarness();
const lostKey = randomBytes(32); // the key those records were sealed with, which the bot no longer has

/** A member whose stored link was sealed with a key the bot does not have. */
async function damagedUser(username: string): Promise<TestUser> {
  const user = h.discord.addMember({ username });
  const account = h.x.addUser({ screenName: `${username}_x` });
  await createTokenVault(h.records.store, createSecretBox(lostKey)).save(user.id, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
  return user;
}

/** The operator's explanation is in the log, and in no reply. */
function expectOperatorDetailLoggedOnly(reply: { content: string }): void {
  expect(reply.content).not.toMatch(/TOKEN_ENCRYPTION_KEY|rotate-key|[0-9a-f]{12}/);
  expect(h.logs.some((line) => line.includes(`encrypted with key ${keyId(lostKey)}`))).toBe(true);
}

describe('a damaged link', () => {
  it('/avatar set tells the user to unlink and link again, before downloading anything', async () => {
    const user = await damagedUser('damaged-set');
    const url = h.discord.serveFile('photo.jpg', fixture('flowers.jpeg'));
    const { interaction, reply } = await avatarCommand(h, user, 'set', { attachment: { filename: 'photo.jpg', url, size: fixture('flowers.jpeg').length } });
    expectPlainEphemeral(interaction, reply, t('en-US', 'bot.error.damaged-link'));
    expectOperatorDetailLoggedOnly(reply);
    expect(h.discord.downloads.filter((download) => download.path === new URL(url).pathname)).toEqual([]);
  });

  it('/twitter unlink deletes it here and says X could not be told', async () => {
    const user = await damagedUser('damaged-unlink');
    const requests = h.x.requests.length;
    const unlink = await h.discord.slash(user, { name: 'twitter', subcommand: 'unlink' });
    const question = await unlink.waitForReply();
    expect(question.content).toBe(
      'Your stored X link cannot be read, so X cannot be told. Unlink anyway? The bot deletes your stored link and avatar history; you can also remove avatar-bot at x.com > Settings > Security > Connected apps.',
    );
    const confirm = await unlink.click(customIdOf(question, 'twitter:unlink-confirm:'));
    const done = await confirm.waitForReply((message) => message.content.startsWith('Unlinked'));
    expect(done.content).toBe(
      'Unlinked your X account here: tokens and history deleted. X did not confirm the revocation (the stored link could not be read, so X could not be told); you can also remove avatar-bot at x.com > Settings > Security > Connected apps.',
    );
    expect(await h.records.store.namespace('tokens').get(user.id)).toBeUndefined();
    expect(h.x.requests.length).toBe(requests);

    // Linking again works as for anyone.
    const account = await h.linkUser(user, 'relinked_x');
    expect((await h.records.vault.get(user.id))?.xUserId).toBe(account.id);
  });

  it('a sign-in that no longer opens tells the user to start again, without the key id', async () => {
    const user = h.discord.addMember({ username: 'stale-sign-in' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const prompt = await link.waitForReply();
    const requestToken = requestTokenOf(prompt);
    // As if the sign-in was sealed with a key removed before rotate-key ran.
    const pending = h.records.store.namespace<{ secret: string }>('pending-links');
    const key = pendingKey(requestToken);
    const stored = (await pending.get(key))!;
    await pending.set(key, { ...stored, secret: createSecretBox(lostKey).seal('request-secret', `pending-links:${key}`) }, 60_000);
    const { verifier } = h.x.approve(requestToken, h.x.addUser({ screenName: 'stale_x' }).id);
    const submitted = await (await link.click(customIdOf(prompt, 'twitter:pin:'))).submitModal({ pin: verifier });
    const reply = await submitted.waitForReply();
    expect(reply.content).toBe('That sign-in link can no longer be read. Run /twitter link again.');
    expectOperatorDetailLoggedOnly(reply);
  });
});

describe('/branding push with a member whose link is damaged', () => {
  let admin: TestUser;
  const members: TestUser[] = [];
  let photo: Buffer;

  beforeAll(async () => {
    admin = h.discord.addMember({ username: 'brand-admin', permissions: MANAGE_GUILD });
    photo = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    for (const name of ['brand-a', 'brand-b', 'brand-c']) {
      const user = h.discord.addMember({ username: name });
      await h.linkUser(user, `${name}_x`);
      members.push(user);
    }
    members.push(await damagedUser('brand-damaged'));
    for (const user of members) await (await h.discord.slash(user, { name: 'branding-consent', subcommand: 'join' })).waitForReply();
  });

  async function pushPreview(label: string): Promise<{ push: Interaction; content: string }> {
    const push = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: { image: { attachment: { filename: 'brand.jpg', bytes: photo } }, label } as never });
    const preview = await push.waitForReply((message) => message.content.includes('Push it?') || message.content.startsWith('Nobody'), SLOW_MS);
    return { push, content: preview.content };
  }

  async function confirm(push: Interaction): Promise<string> {
    const id = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(push.original?.components))![1]!;
    const click = await push.click(id);
    return (await click.waitForReply((message) => message.content.startsWith('Pushed'), 30_000)).content;
  }

  it('skips that member alone, with the reason, and pushes to the others', async () => {
    const { push, content } = await pushPreview('Launch');
    expect(content).toBe('This image goes to **3** members (opted in, linked, in the server). Skipped: 1 X link cannot be read. Push it?');
    const before = h.x.uploads.length;
    expect(await confirm(push)).toBe('Pushed "Launch": 3 succeeded, 0 failed, 0 skipped. The full report is attached.');
    expect(h.x.uploads.length).toBe(before + 3);
  });

  it('a link damaged after the preview fails that member with a reason; the others are uploaded', async () => {
    const { push } = await pushPreview('Second');
    const victim = members[1]!;
    const account = (await h.records.vault.get(victim.id))!;
    await createTokenVault(h.records.store, createSecretBox(lostKey)).save(victim.id, account);
    expect(await confirm(push)).toBe('Pushed "Second": 2 succeeded, 1 failed (stored X link cannot be read (must link again)), 0 skipped. The full report is attached.');
    const [job] = await h.services.branding.pushes.status(h.discord.guild.id);
    expect(job?.results[victim.id]).toMatchObject({ status: 'failed', kind: 'damaged-link' });
    expect(memberReason(job!.results[victim.id]!, 'en-US')).toBe('stored X link cannot be read (must link again)');
  });
});
