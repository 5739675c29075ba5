/**
 * What one Discord user can make the bot store: nothing without a linked account (checked before any
 * attachment is downloaded), a bounded amount with one (previews, pending sign-ins, library, schedules),
 * and expired previews and pending sign-ins do not stay in the store: the bot sweeps them.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PREVIEW_TTL_MS, PREVIEWS_PER_USER } from '../../src/avatar/changes.js';
import { LIBRARY_LIMIT } from '../../src/library/store.js';
import { IMAGES_PER_ROTATION, SCHEDULES_PER_USER } from '../../src/schedule/store.js';
import type { Schedule } from '../../src/schedule/engine.js';
import type { TestUser } from '../support/discord-server.js';
import { avatarCommand, customIdOf, expectPlainEphemeral, fixture, image, requestTokenOf, SLOW_MS, useHarness } from './helpers.js';
import { pendingKey } from '../../src/accounts/links.js';

let sweeperOffsetMs = 0; // how far the sweeper's clock runs ahead of the real one
const h = useHarness({ sweeper: { intervalMs: 100, clock: { now: () => Date.now() + sweeperOffsetMs } } });

const NOT_LINKED = 'Your X account is not linked yet. Use /twitter link first.';
const photo = fixture('flowers.jpeg');

/** An attachment served by the Discord server at a URL the test watches. */
function watched(name: string) {
  const url = h.discord.serveFile(name, photo);
  const downloads = () => h.discord.downloads.filter((download) => download.path === new URL(url).pathname);
  return { attachment: { attachment: { filename: name, url, size: photo.length } }, downloads };
}

/** Which of these keys have a row in the bot's SQLite file, and how many bytes they hold. */
async function rows(keys: string[]): Promise<{ rows: number; bytes: number }> {
  const adapter = h.records.store.namespace('previews').store as { query(sql: string): Promise<Array<{ key: string; bytes: number }>> };
  const found = await adapter.query('SELECT key, length(value) AS bytes FROM keyv');
  const ours = found.filter((row) => keys.includes(row.key));
  return { rows: ours.length, bytes: ours.reduce((sum, row) => sum + row.bytes, 0) };
}

async function run(user: TestUser, name: string, subcommand: string, options: Record<string, unknown> = {}) {
  const interaction = await h.discord.slash(user, { name, subcommand, options: options as never });
  return { interaction, reply: await interaction.waitForReply(undefined, SLOW_MS) };
}

describe('without a linked account', () => {
  it('/avatar preview and /library add are refused before the attachment is downloaded, and nothing is stored', async () => {
    const user = h.discord.addMember({ username: 'unlinked-writer' });
    const preview = watched('preview.jpg');
    const { interaction, reply } = await avatarCommand(h, user, 'preview', preview.attachment);
    expectPlainEphemeral(interaction, reply, NOT_LINKED);
    expect(preview.downloads()).toEqual([]);

    const library = watched('library.jpg');
    const added = await run(user, 'library', 'add', { name: 'winter', image: library.attachment });
    expectPlainEphemeral(added.interaction, added.reply, NOT_LINKED);
    expect(library.downloads()).toEqual([]);

    expect(await h.records.store.namespace('preview-index').get(user.id)).toBeUndefined();
    expect(await h.services.library.list(user.id)).toEqual([]);
  });

  it.each([
    ['timezone', { zone: 'Europe/Berlin' }],
    ['season', { image: 'winter', from: '12-01', to: '02-28' }],
    ['default', { image: 'winter' }],
    ['rotate', { images: 'a,b', every: 'daily' }],
    ['event', { image: 'winter', at: '2030-01-01 10:00' }],
    ['notify', { where: 'off' }],
  ])('/schedule %s is refused and stores no schedule record', async (subcommand, options) => {
    const user = h.discord.addMember({ username: `unlinked-schedule-${subcommand}` });
    const { interaction, reply } = await run(user, 'schedule', subcommand, options);
    expectPlainEphemeral(interaction, reply, NOT_LINKED);
    expect(await h.records.store.namespace('schedules').get(user.id)).toBeUndefined();
  });
});

describe('caps per user', () => {
  it(`keeps ${PREVIEWS_PER_USER} previews: a new one replaces the oldest, whose Apply then says so`, async () => {
    const user = h.discord.addMember({ username: 'many-previews' });
    await h.linkUser(user, 'many_previews_x');
    const ids: string[] = [];
    const messages = [];
    for (let n = 0; n <= PREVIEWS_PER_USER; n++) {
      const { interaction, reply } = await avatarCommand(h, user, 'preview', image(`p${n}.jpg`, photo));
      ids.push(customIdOf(reply, 'avatar:apply:').slice('avatar:apply:'.length));
      messages.push({ interaction, reply });
    }
    const withImage = await Promise.all(ids.map(async (id) => ((await h.records.store.namespace<{ data: string }>('previews').get(id))?.data.length ?? 0) > 0));
    expect(withImage).toEqual([false, true, true, true]);

    const oldest = messages[0]!;
    const uploads = h.x.uploads.length;
    await oldest.interaction.click(customIdOf(oldest.reply, 'avatar:apply:'));
    const refused = await oldest.interaction.waitForReply((message) => message.content.startsWith('That preview was replaced'), SLOW_MS);
    expect(refused.content).toBe(`That preview was replaced by newer ones (you can keep ${PREVIEWS_PER_USER} at a time). Run /avatar preview again.`);
    expect(h.x.uploads.length).toBe(uploads);
  });

  it('keeps one pending sign-in: a new /twitter link replaces the previous one', async () => {
    const user = h.discord.addMember({ username: 'many-links' });
    const prompts = [];
    for (let n = 0; n < 3; n++) prompts.push((await run(user, 'twitter', 'link')).reply);
    const tokens = prompts.map((prompt) => requestTokenOf(prompt));
    expect((await rows(tokens.map((token) => `pending-links:${pendingKey(token)}`))).rows).toBe(1);
    await expect(h.services.links.completeWithPin(user.id, tokens[0]!, '1234567')).rejects.toMatchObject({ kind: 'link-expired' });
  });

  it(`refuses a library image beyond ${LIBRARY_LIMIT} before downloading it`, async () => {
    const user = h.discord.addMember({ username: 'full-library' });
    await h.linkUser(user, 'full_library_x');
    const small = { data: Buffer.from('not an image, never decoded'), format: 'jpeg' as const };
    for (let n = 0; n < LIBRARY_LIMIT; n++) await h.services.library.add(user.id, `img${n}`, { ...small, data: Buffer.concat([small.data, Buffer.from([n])]) });
    const attachment = watched('one-more.jpg');
    const { interaction, reply } = await run(user, 'library', 'add', { name: 'one-more', image: attachment.attachment });
    expectPlainEphemeral(interaction, reply, `Your library is full (${LIBRARY_LIMIT} images). Remove one first.`);
    expect(attachment.downloads()).toEqual([]);
  });

  it(`refuses a schedule beyond ${SCHEDULES_PER_USER} and a rotation of more than ${IMAGES_PER_ROTATION} images`, async () => {
    const user = h.discord.addMember({ username: 'many-schedules' });
    await h.linkUser(user, 'many_schedules_x');
    await h.services.library.add(user.id, 'winter', { data: photo, format: 'jpeg' });
    const events: Schedule[] = Array.from({ length: SCHEDULES_PER_USER }, (_, n) => ({ id: `e${n}`, createdAt: new Date().toISOString(), kind: 'event', image: 'winter', at: `2031-01-${String(n + 1).padStart(2, '0')} 10:00` }));
    await h.records.schedules.update(user.id, (record) => void record.schedules.push(...events));

    const one = await run(user, 'schedule', 'event', { image: 'winter', at: '2032-01-01 10:00' });
    expectPlainEphemeral(one.interaction, one.reply, `You have ${SCHEDULES_PER_USER} schedules, the most you can keep. Remove one with /schedule remove first.`);
    await h.records.schedules.update(user.id, (record) => void (record.schedules = []));

    const names = Array.from({ length: IMAGES_PER_ROTATION + 1 }, () => 'winter').join(',');
    const rotation = await run(user, 'schedule', 'rotate', { images: names, every: 'daily' });
    expectPlainEphemeral(rotation.interaction, rotation.reply, `A rotation can cycle through at most ${IMAGES_PER_ROTATION} images; this one names ${IMAGES_PER_ROTATION + 1}.`);
    expect((await h.services.schedules.get(user.id)).schedules).toEqual([]);
  });
});

describe('the sweeper the bot runs', () => {
  it('deletes expired previews and pending sign-ins from the SQLite file', async () => {
    const user = h.discord.addMember({ username: 'walks-away' });
    await h.linkUser(user, 'walks_away_x');
    const keys: string[] = [`preview-index:${user.id}`, `pending-link-index:${user.id}`];
    for (let n = 0; n < PREVIEWS_PER_USER; n++) {
      const { reply } = await avatarCommand(h, user, 'preview', image(`walk${n}.jpg`, photo));
      keys.push(`previews:${customIdOf(reply, 'avatar:apply:').slice('avatar:apply:'.length)}`);
    }
    keys.push(`pending-links:${pendingKey(requestTokenOf((await run(user, 'twitter', 'link')).reply))}`);
    const before = await rows(keys);
    expect(before.rows).toBe(keys.length);
    expect(before.bytes).toBeGreaterThan(PREVIEWS_PER_USER * 5_000); // each holds the normalised image

    sweeperOffsetMs = PREVIEW_TTL_MS + 60_000; // the previews and the sign-in are 16 minutes old for the sweeper
    try {
      for (let polls = 0; polls < 100 && (await rows(keys)).rows > 0; polls++) await delay(100); // the bot sweeps every 100 ms here
    } finally {
      sweeperOffsetMs = 0;
    }
    expect(await rows(keys)).toEqual({ rows: 0, bytes: 0 });
    expect(await h.records.vault.get(user.id)).toBeDefined(); // what does not expire stays
  });
});
