/**
 * Every failure a user can meet with /avatar and /twitter: one specific ephemeral message each, and
 * nothing changed (no upload at X, history and link as they were).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AttachmentInput, Interaction, Message, TestUser } from '../support/discord-server.js';
import { X_PATHS, xFaults } from '../support/x-server.js';
import { avatarCommand, buttonsOf, expectPlainEphemeral, fixture, image, SLOW_MS, stateOf, useHarness } from './helpers.js';

const MB = 1024 * 1024;

const h = useHarness();
afterEach(() => h.x.clearFaults());

let users = 0;
async function linkedUser(): Promise<TestUser> {
  const user = h.discord.addMember({ username: `failing-${++users}` });
  await h.linkUser(user, `failing_x_${users}`);
  return user;
}

/** Run /avatar set and check that it failed with `content` and changed nothing. */
async function expectSetRefused(
  user: TestUser,
  attachment: { attachment: AttachmentInput },
  content: string,
  options: Record<string, string> = {},
): Promise<{ interaction: Interaction; reply: Message }> {
  const before = await stateOf(h, user);
  const result = await avatarCommand(h, user, 'set', attachment, options);
  expectPlainEphemeral(result.interaction, result.reply, content);
  expect(await stateOf(h, user)).toEqual(before);
  return result;
}

/** An attachment whose URL is not a file this test uploaded (so the test decides where it points and what size it claims). */
const remote = (filename: string, url: string, size: number) => ({ attachment: { filename, url, size } });
const photo = () => image('photo.jpg', fixture('flowers.jpeg'));
const downloadsOf = (url: string) => h.discord.downloads.filter((download) => download.path === new URL(url).pathname);

describe('account', () => {
  it('not linked: /avatar set says so with a link button, before downloading anything', async () => {
    const user = h.discord.addMember({ username: 'never-linked' });
    const url = h.discord.serveFile('photo.jpg', fixture('flowers.jpeg'));
    const { reply } = await expectSetRefused(user, remote('photo.jpg', url, fixture('flowers.jpeg').length), 'Your X account is not linked yet. Use /twitter link first.');
    expect(buttonsOf(reply).map((button) => [button.label, button.custom_id])).toEqual([['Link your X account', 'twitter:start:']]);
    expect(downloadsOf(url)).toEqual([]);
  });

  it.each(['status', 'unlink'])('not linked: /twitter %s says so with a link button', async (subcommand) => {
    const user = h.discord.addMember({ username: `never-linked-${subcommand}` });
    const requests = h.x.requests.length;
    const interaction = await h.discord.slash(user, { name: 'twitter', subcommand });
    const reply = await interaction.waitForReply();
    expectPlainEphemeral(interaction, reply, 'Your X account is not linked yet. Use /twitter link first.');
    expect(buttonsOf(reply).map((button) => button.label)).toEqual(['Link your X account']);
    expect(h.x.requests.length).toBe(requests);
  });

  it('link revoked at X during an upload: marked revoked, relink button; the next /avatar set does not call X', async () => {
    const user = await linkedUser();
    const before = await stateOf(h, user);
    h.x.fail(xFaults.tokenRevoked(X_PATHS.updateProfileImage));

    const { interaction, reply } = await avatarCommand(h, user, 'set', photo());
    expectPlainEphemeral(interaction, reply, 'Your X link has expired or was revoked. Link your X account again. Nothing was changed.');
    expect(buttonsOf(reply).map((button) => [button.label, button.custom_id])).toEqual([['Link again', 'twitter:start:']]);
    expect(await stateOf(h, user)).toEqual({ ...before, link: { ...before.link, status: 'revoked' } });

    const requests = h.x.requests.length;
    const downloads = h.discord.downloads.length;
    const next = await avatarCommand(h, user, 'set', photo());
    expectPlainEphemeral(next.interaction, next.reply, 'Your X link was revoked or has expired. Link your X account again with /twitter link.');
    expect(buttonsOf(next.reply).map((button) => button.label)).toEqual(['Link again']);
    expect(h.x.requests.length).toBe(requests);
    expect(h.discord.downloads.length).toBe(downloads); // refused before downloading the attachment
    expect(await stateOf(h, user)).toEqual({ ...before, link: { ...before.link, status: 'revoked' } });
  });
});

describe('X refuses or fails', () => {
  it('rate-limited: says when to try again', async () => {
    const user = await linkedUser();
    const resetAt = Math.floor(Date.now() / 1000) + 10 * 60;
    h.x.fail(xFaults.rateLimited(X_PATHS.updateProfileImage, resetAt));
    const after = new Date(resetAt * 1000).toISOString().slice(11, 16);
    await expectSetRefused(user, photo(), `X is rate-limiting this account. Try again in 10 minutes (after ${after} UTC). Nothing was changed.`);
    expect(h.x.requests.filter((request) => request.path === X_PATHS.updateProfileImage).at(-1)?.status).toBe(429);
  });

  it('image rejected by X (422)', async () => {
    const user = await linkedUser();
    h.x.fail(xFaults.imageRejected(X_PATHS.updateProfileImage));
    await expectSetRefused(user, photo(), 'X rejected the image (X said: “media type unrecognized”). Nothing was changed.');
  });

  it('X down (503 on every try): "not responding… tried several times"', async () => {
    const user = await linkedUser();
    const requests = h.x.requests.length;
    h.x.fail(xFaults.serviceUnavailable(X_PATHS.updateProfileImage, { times: 4 }));
    await expectSetRefused(user, photo(), 'X is not responding properly right now (tried several times). Nothing was changed; try again in a few minutes.');
    const attempts = h.x.requests.slice(requests).filter((request) => request.path === X_PATHS.updateProfileImage);
    expect(attempts.map((request) => request.status)).toEqual([503, 503, 503, 503]);
  });
});

describe('the attachment', () => {
  const notFromDiscord = 'I can only download images that were uploaded to Discord.';

  it('refuses an attachment URL on a host that is not Discord (the X server)', async () => {
    const user = await linkedUser();
    const requests = h.x.requests.length;
    await expectSetRefused(user, remote('photo.jpg', `${h.x.url}/profile_images/1/1.png`, 1000), notFromDiscord);
    expect(h.x.requests.length).toBe(requests);
  });

  it('refuses an attachment URL on an unknown host', async () => {
    const user = await linkedUser();
    await expectSetRefused(user, remote('photo.jpg', 'http://example.invalid/photo.jpg', 1000), notFromDiscord);
  });

  it('refuses a 30 MB attachment by its declared size, without downloading it', async () => {
    const user = await linkedUser();
    const url = h.discord.serveFile('huge.png', Buffer.alloc(30 * MB));
    await expectSetRefused(user, remote('huge.png', url, 30 * MB), 'That file is bigger than 25 MB; send a smaller image.');
    expect(downloadsOf(url)).toEqual([]);
  });

  it('refuses a 30 MB attachment that claims to be small, while streaming it', async () => {
    const user = await linkedUser();
    const url = h.discord.serveFile('liar.png', Buffer.alloc(30 * MB), { contentLength: false });
    await expectSetRefused(user, remote('liar.png', url, 200 * 1024), 'That file is bigger than 25 MB; send a smaller image.');
    // It was fetched (the declared size and the missing Content-Length let it through) and cut off.
    expect(downloadsOf(url)).toHaveLength(1);
  });

  it('refuses a corrupt (truncated) image', async () => {
    const user = await linkedUser();
    await expectSetRefused(user, image('truncated.jpg', fixture('truncated.jpg')), "That image is damaged or incomplete, so it can't be read; try saving it again.");
  });

  it('refuses HEIC, naming it', async () => {
    const user = await linkedUser();
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic'), Buffer.alloc(64)]);
    await expectSetRefused(user, image('IMG_0001.HEIC', heic, { contentType: 'image/heic' }), "iPhone HEIC photos can't be read here: send a JPG or PNG instead.");
  });

  it('refuses TIFF, naming it', async () => {
    const user = await linkedUser();
    await expectSetRefused(user, image('scan.tif', fixture('G31D.TIF'), { contentType: 'image/tiff' }), 'That file is a TIFF image; send a JPG, PNG, GIF or WebP.');
  });

  it('refuses a background colour that is not a hex colour', async () => {
    const user = await linkedUser();
    await expectSetRefused(user, photo(), 'The background colour must be a hex code like #1da1f2.', { crop: 'contain', background: '#12345g' });
  });
});

describe('components that outlive their message', () => {
  it('Apply on a preview that was already cancelled says it expired and uploads nothing', async () => {
    const user = await linkedUser();
    const before = await stateOf(h, user);
    const { reply } = await avatarCommand(h, user, 'preview', photo());
    const previewId = String(buttonsOf(reply).find((button) => button.label === 'Apply')?.custom_id).split(':')[2]!;
    await h.services.avatars.discardPreview(user.id, previewId);

    const apply = await h.discord.click(reply, `avatar:apply:${previewId}`, { user });
    const answer = await apply.waitForReply((message) => !message.content.startsWith('Applying'), SLOW_MS);
    expect(answer.content).toBe('That preview has expired (previews last 15 minutes). Run /avatar preview again.');
    expect(await stateOf(h, user)).toEqual(before);
  });
});
