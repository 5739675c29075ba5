/**
 * The words inside a translated sentence, through the real discord.js client: a de or ja user reads X's
 * rejection quoted and labelled as X's (X's own English words are the only English left, and inert), an
 * image format, a cron field and Discord permission names in their language, not the English the core
 * used to hand over. The English words of each class are named, so a regression shows which one leaked.
 */
import sharp from 'sharp';
import { PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { FORMAT_IDS } from '../../src/avatar/formats.js';
import { MAX_DECODE_BYTES, MAX_FRAMES } from '../../src/avatar/normalize.js';
import { UserFacingError } from '../../src/errors.js';
import { LAYOUT_IDS } from '../../src/avatar/structure.js';
import { LOCALES, type Locale } from '../../src/i18n/locale.js';
import { errorWords, X_TEXT_MAX } from '../../src/i18n/render-error.js';
import { lookup, t } from '../../src/i18n/t.js';
import { fixture, image, SLOW_MS, useHarness } from '../bot/helpers.js';
import { animatedWebp, blackPng, gif, progressiveJpeg } from '../adversarial/hostile-images.js';
import type { TestUser } from '../support/discord-server.js';
import { X_PATHS, xFaults } from '../support/x-server.js';

/** A BMP header: enough for the format to be recognised (and refused) by its magic bytes. */
const BMP = Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]);

const CASES: Array<{
  locale: Exclude<Locale, 'en-US'>;
  xLabel: string;
  quote: [string, string];
  bmp: string;
  hour: string;
  permissions: string;
  /** The layouts of three files over the memory bound, as the reader's words say them. */
  layouts: [string, string, string];
  /** MAX_FRAMES with the reader's digit grouping (Japanese groups like English). */
  maxFrames: string;
}> = [
  {
    locale: 'de',
    xLabel: 'X schrieb auf Englisch',
    quote: ['„', '“'],
    bmp: 'ein BMP-Bild',
    hour: 'Das Feld Stunde',
    permissions: 'Links einbetten und Dateien anhängen',
    layouts: ['Interlaced-PNG mit 16 Bit', 'progressives JPEG', 'animiertes WebP'],
    maxFrames: '5.000',
  },
  {
    locale: 'ja',
    xLabel: 'X からのメッセージ（英語）',
    quote: ['「', '」'],
    bmp: 'BMP 画像',
    hour: '時 フィールド',
    permissions: '埋め込みリンク、ファイルを添付',
    layouts: ['インターレース 16 ビット PNG', 'プログレッシブ JPEG', 'アニメーション WebP'],
    maxFrames: '5,000',
  },
];

/** Files whose structure is over MAX_DECODE_BYTES (see test/adversarial/images.test.ts), and the English their layout was. */
const OVER_MEMORY = [
  { file: 'big.png', english: 'interlaced 16-bit PNG', make: () => blackPng({ width: 7071, height: 7071, bitDepth: 16, interlaced: true }), size: '7071x7071' },
  { file: 'big.jpg', english: 'progressive JPEG', make: () => progressiveJpeg({ width: 7071, height: 7071, components: 3, scans: 10 }), size: '7071x7071' },
  { file: 'big.webp', english: 'animated WebP', make: () => animatedWebp(1, 7_000, 7_000), size: '7000x7000' },
];

describe.each(CASES)('a $locale user', ({ locale, xLabel, quote, bmp, hour, permissions, layouts, maxFrames }) => {
  const h = useHarness({ env: { SCHEDULE_MIN_INTERVAL_MS: '0' } });

  async function linked(name: string): Promise<TestUser> {
    const user = h.discord.addMember({ username: `${name}-${locale}` });
    await h.linkUser(user, `${name}_${locale}`);
    return user;
  }
  const setAvatar = async (user: TestUser, bytes: Buffer, filename = 'me.jpg') => {
    const interaction = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image(filename, bytes) } }, { locale });
    return (await interaction.waitForReply(undefined, SLOW_MS)).content;
  };

  it('reads why their avatar from before could not be saved in their language (kept as a kind, worded when shown)', async () => {
    const user = await linked('unsaved');
    // X serves their current picture as something no decoder takes: the change is made, the original is not saved.
    h.x.fail({ path: /^\/profile_images\//, status: 200, body: BMP.toString('latin1'), headers: { 'content-type': 'image/jpeg' }, times: 1 });
    const reply = await setAvatar(user, fixture('flowers.jpeg'));
    const reason = t(locale, 'error.unsupported-format.detected', { format: t(locale, 'format.bmp') }).replace(/[.。]$/, '');
    expect(reply).toBe(t(locale, 'avatar.applied.original-not-saved', { reason }));
    expect(reply).toContain(bmp);
    const history = await h.discord.slash(user, { name: 'avatar', subcommand: 'history' }, { locale });
    expect((await history.waitForReply(undefined, SLOW_MS)).content).toBe(t(locale, 'avatar.history.original-not-saved', { reason }));
    const revert = await h.discord.slash(user, { name: 'avatar', subcommand: 'revert' }, { locale });
    expect((await revert.waitForReply(undefined, SLOW_MS)).content).toContain(reason);
  });

  it("reads X's rejection quoted and labelled as X's words, in a sentence of their language", async () => {
    const user = await linked('rejected');
    h.x.fail(xFaults.imageRejected(X_PATHS.updateProfileImage, 'media type unrecognized.'));
    const reply = await setAvatar(user, fixture('flowers.jpeg'));
    expect(reply).toBe(t(locale, 'bot.error.frame.nothing-changed', { words: t(locale, 'error.image-rejected', { xSaid: 'media type unrecognized' }) }));
    expect(reply).toContain(xLabel);
    expect(reply).toContain(`${quote[0]}media type unrecognized${quote[1]}`);
    expect(reply).not.toContain('X rejected the image');
  });

  it("reads hostile X text as inert, bounded text: no markdown, no mention, no control character, cut at X_TEXT_MAX", async () => {
    const user = await linked('hostile');
    const hostile = `**bold** @everyone <@${user.id}> [x](https://evil.example) \`code\` \u001b[31m\u202e\n# heading ${'y'.repeat(5000)}`;
    h.x.fail(xFaults.imageRejected(X_PATHS.updateProfileImage, hostile));
    const reply = await setAvatar(user, fixture('flowers.jpeg'));
    const quoted = reply.slice(reply.indexOf(quote[0]) + 1, reply.lastIndexOf(quote[1]));
    expect(quoted.startsWith('\\*\\*bold\\*\\* @\u200beveryone \\<@\u200b')).toBe(true);
    expect(quoted).toContain('\\[x\\]\\(https://evil.example\\) \\`code\\`');
    expect(quoted.replace(/\u200b/g, '')).not.toMatch(/[\p{Cc}\p{Cf}]/u); // U+200B: ours, breaking the mentions
    expect(quoted).toContain('\\# heading yyy');
    expect(quoted.endsWith('y…')).toBe(true);
    // The bound is on X's text before escaping; every escape adds a character.
    expect(quoted.replace(/\\(?=.)/g, '').replace(/\u200b/g, '').length).toBeLessThanOrEqual(X_TEXT_MAX);
    expect(reply.length).toBeLessThan(600);
  });

  it('reads the format of a file it cannot use in their language', async () => {
    const user = await linked('bitmap');
    const reply = await setAvatar(user, BMP, 'me.bmp');
    expect(reply).toBe(t(locale, 'error.unsupported-format.detected', { format: bmp }));
    expect(reply).not.toContain('a BMP image');
  });

  it.each(OVER_MEMORY.map((file, i) => ({ ...file, words: layouts[i]! })))('reads the layout of a file too costly to read in their words: $english', async ({ file, english, make, size, words }) => {
    const user = await linked(`layout-${file.replace('.', '-')}`);
    const reply = await setAvatar(user, make(), file);
    // The estimate (megabytes) is structure.ts's business; everything else in the sentence is fixed.
    const [width, height] = size.split('x') as [string, string];
    const [before, after] = t(locale, 'error.too-complex.memory', { width, height, layout: words, megabytes: '\u0000', max: MAX_DECODE_BYTES / 2 ** 20 }).split('\u0000') as [string, string];
    expect(reply.startsWith(before) && reply.endsWith(after), reply).toBe(true);
    expect(reply.slice(before.length, reply.length - after.length)).toMatch(/^\d+$/);
    expect(reply).toContain(words);
    expect(reply).not.toContain(english);
  });

  it('reads a limit over 999 with their digit grouping: an animation over the frame limit', async () => {
    const user = await linked('frames');
    const reply = await setAvatar(user, animatedWebp(MAX_FRAMES * 2), 'party.webp');
    expect(reply).toBe(t(locale, 'error.too-many-frames', { max: maxFrames }));
    expect(reply).toContain(maxFrames);
  });

  it('reads a pixel size as it is and a count over 999 with their digit grouping: a 60001x60001 GIF canvas', async () => {
    const user = await linked('pixels');
    const reply = await setAvatar(user, gif(10, 10, [{ left: 60_000, top: 60_000, width: 1, height: 1 }]), 'huge.gif');
    const megapixels = new Intl.NumberFormat(locale).format(3600);
    expect(reply).toBe(t(locale, 'error.too-many-pixels', { width: '60001', height: '60001', megapixels, max: 50 }));
  });

  it('reads the cron field a rotation got wrong in their language', async () => {
    const user = await linked('cron');
    const data = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#cc0000' } }).jpeg().toBuffer();
    await h.services.library.add(user.id, 'red', { data, format: 'jpeg' });
    const rotate = await h.discord.slash(user, { name: 'schedule', subcommand: 'rotate', options: { images: 'red', every: '0 25 * * *' } }, { locale });
    const reply = (await rotate.waitForReply(undefined, SLOW_MS)).content;
    expect(reply).toContain(hour);
    expect(reply).toBe(t(locale, 'error.invalid-cron.range', { cronField: t(locale, 'cron.field.hour'), text: '25', min: 0, max: 23 }));
    expect(reply).not.toMatch(/\bhour\b/);
  });

  it('reads the Discord permissions the bot lacks as their Discord client names them', async () => {
    const user = await linked('perms');
    const channel = h.discord.addChannel({ name: `no-files-${locale}` });
    h.discord.setChannelOverwrites(channel.id, [{ id: h.discord.botUser.id, type: 1, deny: PermissionFlagsBits.AttachFiles | PermissionFlagsBits.EmbedLinks }]);
    const notify = await h.discord.slash(user, { name: 'schedule', subcommand: 'notify', options: { where: 'channel', channel: { channel: channel.id } } }, { locale });
    const reply = (await notify.waitForReply(undefined, SLOW_MS)).content;
    expect(reply).toBe(t(locale, 'bot.error.notice-channel-bot-cannot-post', { channel: channel.id, permissions }));
    expect(reply).not.toMatch(/Embed Links|Attach Files/);
  });
});

describe('the words for parameters', () => {
  it('name every detected image format, every image layout and every cron field in every locale', () => {
    const keys = [...FORMAT_IDS.map((id) => `format.${id}`), ...LAYOUT_IDS.map((id) => `layout.${id}`), ...['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'].flatMap((id) => [`cron.field.${id}`, `cron.example.${id}`])];
    for (const locale of LOCALES) for (const key of keys) expect(lookup(locale, key), `${locale} ${key}`).toBeTruthy();
  });

  it('format a plural count in the reader\'s digit grouping and still pick its plural form', () => {
    const skipped = (count: number) => new UserFacingError('records-skipped', { count, users: '1' });
    expect(errorWords(skipped(1234), 'de', 'cli')).toBe(t('de', 'error.records-skipped', { count: 2, users: '1' }).replace('2', '1.234'));
    expect(errorWords(skipped(1), 'de', 'cli')).toBe(t('de', 'error.records-skipped', { count: 1, users: '1' }));
    expect(errorWords(skipped(1234), 'en-US', 'cli')).toMatch(/^1,234 records did not open/);
    expect(errorWords(skipped(1), 'en-US', 'cli')).toMatch(/^1 record did not open/);
  });
});
