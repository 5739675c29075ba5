/**
 * /avatar set, preview, history and revert, driven through the gateway: what Discord shows, what X
 * received, and what the bot keeps.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { normalizeAvatar } from '../../src/avatar/normalize.js';
import { componentsOf, type TestUser } from '../support/discord-server.js';
import type { FakeXUser } from '../support/x-server.js';
import type { Harness } from '../support/bot-harness.js';
import { avatarCommand, buttonsOf, customIdOf, EPHEMERAL, expectPlainEphemeral, expectValidSignatures, fixture, image, SLOW_MS, stateOf, useHarness } from './helpers.js';

/** The avatar X shows before the bot changes anything, normalised as the bot saves it. */
async function normalisedDefaultAvatar(h: Harness, xUser: FakeXUser): Promise<Buffer> {
  const original = h.x.profileImageUrl(xUser.id).replace('_normal', '');
  const response = await fetch(original);
  expect(response.status).toBe(200);
  return (await normalizeAvatar(Buffer.from(await response.arrayBuffer()), { crop: 'centre' })).data;
}

async function setAvatar(h: Harness, user: TestUser, photo: string): Promise<Buffer> {
  const { reply } = await avatarCommand(h, user, 'set', image(photo, fixture(photo)));
  expect(reply.embeds[0]?.title).toBe('Avatar updated');
  return h.x.uploads.at(-1)!.bytes;
}

describe('with X images downloadable', () => {
  const h = useHarness();

  it('/avatar set defers at once, uploads a valid 400x400 image, replies with it, and records history and the original', async () => {
    const user = h.discord.addMember({ username: 'set-ann' });
    const xUser = await h.linkUser(user, 'ann_x');
    const originalUrl400 = h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400');
    const expectedOriginal = await normalisedDefaultAvatar(h, xUser);
    const firstRequest = h.x.requests.length;

    const { interaction, reply } = await avatarCommand(h, user, 'set', image('me.jpg', fixture('Landscape_5.jpg')));

    expect(interaction.callbacks[0]).toMatchObject({ type: 5, status: 204, data: { flags: EPHEMERAL } });
    expect(interaction.ackMs).toBeLessThan(3000); // Discord's limit for the first answer
    expect(interaction.ephemeral).toBe(true);

    const upload = h.x.uploads.at(-1)!;
    expect(upload).toMatchObject({ userId: xUser.id, format: 'jpeg', width: 400, height: 400 });
    const { info } = await sharp(upload.bytes, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true }); // decodes every pixel
    expect([info.width, info.height]).toEqual([400, 400]);
    expectValidSignatures(h.x, firstRequest);

    const newUrl400 = h.x.profileImageUrl(xUser.id).replace('_normal', '_400x400');
    expect(newUrl400).not.toBe(originalUrl400);
    expect(reply.content).toBe('');
    expect(reply.embeds).toHaveLength(1);
    expect(reply.embeds[0]).toMatchObject({
      title: 'Avatar updated',
      description: `@ann_x's X avatar is now this image.\n400x400: ${newUrl400}`,
      image: { url: 'attachment://avatar.jpg' },
      url: newUrl400,
    });
    expect(interaction.files).toHaveLength(1);
    expect(interaction.files[0]!.name).toBe('avatar.jpg');
    expect(interaction.files[0]!.bytes.equals(upload.bytes)).toBe(true);

    const history = await h.services.avatars.history(user.id);
    expect(history.entries).toMatchObject([{ source: 'upload', label: 'attachment me.jpg', format: 'jpeg', url400: newUrl400 }]);
    expect((await h.services.avatars.historyImage(user.id, history.entries[0]!.hash))?.data.equals(upload.bytes)).toBe(true);
    expect(history.original).toMatchObject({ saved: true, url: originalUrl400, format: 'jpeg' });
    const original = history.original?.saved ? await h.services.avatars.historyImage(user.id, history.original.hash) : undefined;
    expect(original?.data.equals(expectedOriginal)).toBe(true);
  });

  it('preview shows the square and the circle; Apply uploads exactly the previewed bytes without downloading again', async () => {
    const user = h.discord.addMember({ username: 'preview-ben' });
    const xUser = await h.linkUser(user, 'ben_x');
    const before = await stateOf(h, user);

    const { interaction: preview, reply } = await avatarCommand(h, user, 'preview', image('flowers.jpeg', fixture('flowers.jpeg')));
    expect(preview.ephemeral).toBe(true);
    expect(reply.content).toBe('This is what X will show (square, and as the circle X crops it to). Apply it?');
    expect(buttonsOf(reply).map((button) => button.label)).toEqual(['Apply', 'Cancel']);
    expect(h.x.uploads.length).toBe(before.uploads);

    const [square, circle] = preview.files;
    expect(preview.files.map((file) => file.name)).toEqual(['preview.jpg', 'preview-circle.png']);
    expect(await sharp(square!.bytes).metadata()).toMatchObject({ format: 'jpeg', width: 400, height: 400 });
    expect(await sharp(circle!.bytes).metadata()).toMatchObject({ format: 'png', width: 400, height: 400, channels: 4 });
    const pixels = await sharp(circle!.bytes).raw().toBuffer();
    const alphaAt = (x: number, y: number) => pixels[(y * 400 + x) * 4 + 3];
    expect([alphaAt(0, 0), alphaAt(399, 0), alphaAt(0, 399), alphaAt(399, 399)]).toEqual([0, 0, 0, 0]);
    expect(alphaAt(200, 200)).toBe(255);

    const attachmentPath = new URL(Object.values((preview.payload.data as { resolved: { attachments: Record<string, { url: string }> } }).resolved.attachments)[0]!.url).pathname;
    const apply = await preview.click(customIdOf(reply, 'avatar:apply:'));
    const applied = await preview.waitForReply((message) => message.embeds[0]?.title === 'Avatar updated', SLOW_MS);
    expect(apply.callbacks[0]?.type).toBe(7); // the preview message itself becomes the result

    const upload = h.x.uploads.at(-1)!;
    expect(h.x.uploads.length).toBe(before.uploads + 1);
    expect(upload.userId).toBe(xUser.id);
    expect(upload.bytes.equals(square!.bytes)).toBe(true);
    expect(h.discord.downloads.filter((download) => download.path === attachmentPath)).toHaveLength(1);
    expect(applied.components).toEqual([]);
    expect(preview.files.map((file) => file.name)).toEqual(['avatar.jpg']);
    expect(preview.files[0]!.bytes.equals(upload.bytes)).toBe(true);
    expect((await h.services.avatars.history(user.id)).entries).toMatchObject([{ source: 'preview', label: 'attachment flowers.jpeg' }]);
  });

  it('Apply clicked twice: one upload, one history entry, and the message keeps the result', async () => {
    const user = h.discord.addMember({ username: 'preview-bea' });
    await h.linkUser(user, 'bea_x');
    const uploads = h.x.uploads.length;
    const { interaction: preview, reply } = await avatarCommand(h, user, 'preview', image('flowers.jpeg', fixture('flowers.jpeg')));
    const apply = customIdOf(reply, 'avatar:apply:');

    const clicks = await Promise.all([preview.click(apply), preview.click(apply)]);
    await h.discord.waitFor(() => clicks.every((click) => click.acknowledged) && h.bot.inFlight === 0, SLOW_MS, 'both clicks handled');
    expect(h.x.uploads.length).toBe(uploads + 1);
    expect((await h.services.avatars.history(user.id)).entries).toHaveLength(1);
    expect(preview.original?.embeds[0]?.title).toBe('Avatar updated');
    expect(preview.files[0]!.bytes.equals(h.x.uploads.at(-1)!.bytes)).toBe(true);
  });

  it('preview then Cancel: nothing uploaded, nothing recorded, the preview is gone', async () => {
    const user = h.discord.addMember({ username: 'preview-cat' });
    await h.linkUser(user, 'cat_x');
    const before = await stateOf(h, user);

    const { interaction: preview, reply } = await avatarCommand(h, user, 'preview', image('flowers.jpeg', fixture('flowers.jpeg')));
    const previewId = customIdOf(reply, 'avatar:cancel:').split(':')[2]!;
    await preview.click(`avatar:cancel:${previewId}`);
    const cancelled = await preview.waitForReply((message) => message.content.startsWith('Cancelled'));
    expect(cancelled.content).toBe('Cancelled: nothing was changed.');
    expect(cancelled.components).toEqual([]);
    expect(preview.files).toEqual([]);
    expect(await stateOf(h, user)).toEqual(before);
    await expect(h.services.avatars.applyPreview(user.id, previewId)).rejects.toMatchObject({ kind: 'preview-expired' });
  });

  it('history lists the avatars with thumbnails; picking one re-applies exactly that image', async () => {
    const user = h.discord.addMember({ username: 'history-dee' });
    await h.linkUser(user, 'dee_x');
    const first = await setAvatar(h, user, 'flowers.jpeg');
    const second = await setAvatar(h, user, 'concert.jpg');
    expect(first.equals(second)).toBe(false);
    const [entryA, entryB] = (await h.services.avatars.history(user.id)).entries;

    const history = await h.discord.slash(user, { name: 'avatar', subcommand: 'history' });
    const listed = await history.waitForReply();
    expect(history.ephemeral).toBe(true);
    expect(listed.content).toBe('Your avatar from before the bot is saved: /avatar revert goes back step by step.');
    expect(listed.embeds.map((embed) => [embed.title, embed.thumbnail?.url])).toEqual([
      ['Current', 'attachment://history-0.jpg'],
      ['1 change ago', 'attachment://history-1.jpg'],
    ]);
    expect(listed.embeds[1]!.description).toMatch(/^<t:\d+:f> · upload · attachment flowers\.jpeg$/);
    expect(history.files.map((file) => file.name)).toEqual(['history-0.jpg', 'history-1.jpg']);
    expect(history.files[0]!.bytes.equals(second)).toBe(true);
    expect(history.files[1]!.bytes.equals(first)).toBe(true);
    const select = customIdOf(listed, 'avatar:reapply:');
    const menu = componentsOf(listed).find((component) => component.custom_id === select) as { options: Array<{ label: string; value: string }> };
    expect(menu.options.map((option) => [option.label, option.value])).toEqual([
      ['Current: attachment concert.jpg', entryB!.id],
      ['1 ago: attachment flowers.jpeg', entryA!.id],
    ]);

    await history.select(select, [entryA!.id]);
    const reapplied = await history.waitForReply((message) => message.embeds[0]?.title === 'Avatar applied again', SLOW_MS);
    expect(reapplied.components).toEqual([]);
    expect(h.x.uploads.at(-1)!.bytes.equals(first)).toBe(true);
    expect(history.files.map((file) => file.name)).toEqual(['avatar.jpg']);
    expect(history.files[0]!.bytes.equals(first)).toBe(true);
    const after = await h.services.avatars.history(user.id);
    expect(after.entries.map((entry) => [entry.source, entry.hash])).toEqual([
      ['upload', entryA!.hash],
      ['upload', entryB!.hash],
      ['history', entryA!.hash],
    ]);
  });

  it('choosing the same history entry twice at once, or again right after, uploads it once', async () => {
    const user = h.discord.addMember({ username: 'history-twice' });
    const account = await h.linkUser(user, 'twice_x');
    await setAvatar(h, user, 'flowers.jpeg');
    await setAvatar(h, user, 'concert.jpg');
    const [entryA] = (await h.services.avatars.history(user.id)).entries;
    const uploadsOf = () => h.x.uploads.filter((upload) => upload.userId === account.id).length;
    const before = uploadsOf();

    const history = await h.discord.slash(user, { name: 'avatar', subcommand: 'history' });
    const select = customIdOf(await history.waitForReply(), 'avatar:reapply:');
    await Promise.all([history.select(select, [entryA!.id]), history.select(select, [entryA!.id])]);
    const already = 'That avatar is already your current one, so nothing was uploaded.';
    await history.waitForReply((message) => message.content === already, SLOW_MS);
    expect(uploadsOf()).toBe(before + 1);
    expect((await h.services.avatars.history(user.id)).entries.map((entry) => entry.source)).toEqual(['upload', 'upload', 'history']);

    const again = await h.discord.slash(user, { name: 'avatar', subcommand: 'history' });
    await again.select(customIdOf(await again.waitForReply(), 'avatar:reapply:'), [entryA!.id]);
    expect((await again.waitForReply((message) => message.content === already, SLOW_MS)).content).toBe(already);
    expect(uploadsOf()).toBe(before + 1);
  });

  it('Cancel on a preview the store cannot read says something went wrong, not "Cancelled"', async () => {
    const user = h.discord.addMember({ username: 'preview-broken' });
    await h.linkUser(user, 'broken_x');
    const { interaction: preview, reply } = await avatarCommand(h, user, 'preview', image('flowers.jpeg', fixture('flowers.jpeg')));
    const previewId = customIdOf(reply, 'avatar:cancel:').split(':')[2]!;
    // A damaged record: what the store holds for this preview is not JSON any more.
    const previews = h.records.store.namespace('previews');
    await previews.store.set(`previews:${previewId}`, 'not json{');
    await preview.click(`avatar:cancel:${previewId}`);
    const answer = await preview.waitForReply((message) => message.content !== reply.content);
    expect(answer.content).toBe('Something went wrong on our side and it has been logged. Nothing was changed; try again later.');
  });

  it('revert steps back: the previous image, then the saved original, then "nothing to revert"', async () => {
    const user = h.discord.addMember({ username: 'revert-eve' });
    const xUser = await h.linkUser(user, 'eve_x');
    const original = await normalisedDefaultAvatar(h, xUser);
    const first = await setAvatar(h, user, 'flowers.jpeg');
    await setAvatar(h, user, 'concert.jpg');

    const revert = async () => {
      const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'revert' });
      return { interaction, reply: await interaction.waitForReply(undefined, SLOW_MS) };
    };

    const back1 = await revert();
    expect(back1.reply.embeds[0]?.title).toBe('Previous avatar restored');
    expect(h.x.uploads.at(-1)!.bytes.equals(first)).toBe(true);
    expect(back1.interaction.files[0]!.bytes.equals(first)).toBe(true);
    expect((await h.services.avatars.history(user.id)).entries).toHaveLength(1);

    const back2 = await revert();
    expect(back2.reply.embeds[0]?.title).toBe('Original avatar restored');
    expect(h.x.uploads.at(-1)!.bytes.equals(original)).toBe(true);
    expect(back2.interaction.files[0]!.bytes.equals(original)).toBe(true);
    expect((await h.services.avatars.history(user.id)).entries).toEqual([]);

    const uploads = h.x.uploads.length;
    const back3 = await revert();
    expectPlainEphemeral(back3.interaction, back3.reply, 'There is nothing to revert: your X avatar is the one you had before using the bot.');
    expect(h.x.uploads.length).toBe(uploads);
  });
});

describe('when the current X avatar cannot be downloaded', () => {
  // The X-compatible server's host is not an allowed X image host, so the original cannot be fetched.
  const h = useHarness({ env: { X_IMAGE_HOSTS: 'pbs.twimg.com' } });

  it('still changes the avatar, and the reply, history and revert say the original could not be saved', async () => {
    const user = h.discord.addMember({ username: 'nosave-fred' });
    const xUser = await h.linkUser(user, 'fred_x');
    const reason = 'I can only download images that were uploaded to X';

    const { interaction, reply } = await avatarCommand(h, user, 'set', image('me.jpg', fixture('flowers.jpeg')));
    expect(reply.embeds[0]?.title).toBe('Avatar updated');
    expect(reply.content).toBe(`Note: your previous X avatar could not be saved (${reason}), so /avatar revert cannot bring it back.`);
    expect(h.x.uploads.at(-1)?.userId).toBe(xUser.id);
    expect(interaction.files[0]!.bytes.equals(h.x.uploads.at(-1)!.bytes)).toBe(true);
    // Nothing was requested from the X server's image host.
    expect(h.x.requests.filter((request) => request.path.startsWith('/profile_images/'))).toEqual([]);
    const history = await h.services.avatars.history(user.id);
    // Kept as a record and worded when shown, in the reader's language.
    expect(history.original).toMatchObject({ saved: false, reason: { kind: 'host-not-allowed', variant: 'source', params: { source: 'X' } } });
    expect(history.entries).toHaveLength(1);

    const listed = await (await h.discord.slash(user, { name: 'avatar', subcommand: 'history' })).waitForReply();
    expect(listed.content).toBe(`Your avatar from before the bot could not be saved (${reason}).`);

    const uploads = h.x.uploads.length;
    const revert = await h.discord.slash(user, { name: 'avatar', subcommand: 'revert' });
    expectPlainEphemeral(revert, await revert.waitForReply(), `Your avatar from before the first change could not be saved (${reason}), so there is nothing to go back to.`);
    expect(h.x.uploads.length).toBe(uploads);
  });
});
