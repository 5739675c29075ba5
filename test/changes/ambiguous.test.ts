/**
 * An upload whose connection fails after it was sent: X may or may not have applied it. The X client does
 * not send it again by itself; the bot reads the profile once X would have processed the image and
 * compares it with the picture from before: a new picture means X applied the upload (nothing is sent
 * again), the old one means it did not (it is sent again). Through the real discord.js client, `/avatar set`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/bot-harness.js';
import { X_PATHS } from '../support/x-server.js';
import { fixture, image, SLOW_MS } from '../bot/helpers.js';

const PROCESSING_MS = 400;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ x: { processingDelayMs: PROCESSING_MS }, env: { TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_MS) } });
});
afterAll(async () => {
  await h?.close();
});

/** The connection of the account's next upload is closed unanswered at `stage`. */
function dropNextUpload(accountId: string, stage: 'received' | 'applied'): void {
  h.x.setRequestHook((request) => {
    if (request.path !== X_PATHS.updateProfileImage || request.userId !== accountId || request.stage !== stage) return;
    h.x.setRequestHook(undefined);
    return 'drop';
  });
}

describe('an upload whose connection is closed after it was sent', () => {
  it.each([
    ['after X applied it: X is not sent it again', 'applied', 1],
    ['before X applied it: it is sent again, once', 'received', 2],
  ] as const)('%s; the reply has the final URL and one upload is applied', async (_case, stage, requests) => {
    const user = h.discord.addMember({ username: `ambiguous-${stage}` });
    const account = await h.linkUser(user, `amb_${stage}`.slice(0, 15));
    dropNextUpload(account.id, stage);
    const sent = () => h.x.requests.filter((request) => request.path === X_PATHS.updateProfileImage && request.oauthParams?.oauth_token === account.accessToken.token);

    const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('photo.jpg', fixture('flowers.jpeg')) } });
    const reply = await interaction.waitForReply((message) => message.embeds.length > 0 || message.content !== '', SLOW_MS);

    expect(reply.embeds[0]?.title).toBe('Avatar updated');
    const finalUrl = h.x.profileImageUrl(account.id).replace('_normal', '_400x400');
    expect(reply.embeds[0]?.description).toContain(finalUrl);
    expect(h.x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(1);
    expect(sent()).toHaveLength(requests);
    const history = await h.services.avatars.history(user.id);
    expect(history.entries.map((entry) => entry.url400)).toEqual([finalUrl]);
  });
});

describe('after a revert to the original', () => {
  // The revert uploads the original again, so X shows it at a new URL. The next change compares the profile
  // with that URL: compared with the pre-bot URL, an upload that never reached X looked applied.
  it('an upload dropped before X applied it is sent again, once, and the new image is shown', async () => {
    const user = h.discord.addMember({ username: 'ambiguous-revert' });
    const account = await h.linkUser(user, 'amb_revert');
    const sent = () => h.x.requests.filter((request) => request.path === X_PATHS.updateProfileImage && request.oauthParams?.oauth_token === account.accessToken.token);
    const set = async (file: string) => {
      const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('photo.jpg', fixture(file)) } });
      return interaction.waitForReply((message) => message.embeds.length > 0 || message.content !== '', SLOW_MS);
    };
    expect((await set('flowers.jpeg')).embeds[0]?.title).toBe('Avatar updated');
    const revert = await h.discord.slash(user, { name: 'avatar', subcommand: 'revert' });
    expect((await revert.waitForReply((message) => message.embeds.length > 0, SLOW_MS)).embeds[0]?.title).toBe('Original avatar restored');
    const revertedUrl = h.x.profileImageUrl(account.id).replace('_normal', '_400x400');
    expect((await h.services.avatars.history(user.id)).original).toMatchObject({ saved: true, url: revertedUrl });

    dropNextUpload(account.id, 'received');
    const reply = await set('concert.jpg');
    expect(reply.embeds[0]?.title).toBe('Avatar updated');
    const finalUrl = h.x.profileImageUrl(account.id).replace('_normal', '_400x400');
    expect(finalUrl).not.toBe(revertedUrl);
    expect(reply.embeds[0]?.description).toContain(finalUrl);
    expect(sent()).toHaveLength(4); // set, revert, the dropped upload, and it again
    expect(h.x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(3);
  });
});
