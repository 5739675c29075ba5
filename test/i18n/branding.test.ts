/**
 * /branding and /branding-consent in the reader's language, through the real discord.js client and the
 * local Discord and X servers: a de and a ja admin get the push prompt, its buttons, the report (with a
 * member's skip reason) and /branding status in theirs; /branding-consent join answers in ja; and the one
 * Confirm/Cancel helper says "timed out" in the user's language when nobody clicks.
 */
import { ApplicationCommandOptionType, MessageFlags } from 'discord.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { SERVER_ONLY, type SlashCommand } from '../../src/bot/command.js';
import { confirm } from '../../src/bot/confirm.js';
import { localeOf } from '../../src/i18n/locale.js';
import { startHarness, type Harness } from '../support/bot-harness.js';
import type { Interaction, TestUser } from '../support/discord-server.js';

const MANAGE_GUILD = 1n << 5n;
let h: Harness;
let photo: Buffer;

/** A command that only asks, with a short time to answer: the helper's own timeout, not a command's five minutes. */
const askCommand: SlashCommand = {
  definition: { name: 'ask', description: 'Asks and waits briefly', ...SERVER_ONLY, options: [{ type: ApplicationCommandOptionType.Subcommand, name: 'now', description: 'Ask now' }] },
  async execute(interaction) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const click = await confirm(interaction, { locale: localeOf(interaction.locale), content: 'Sure?', confirmLabel: 'Yes', ids: (choice, nonce) => `ask-${choice}:${nonce}`, timeoutMs: 300, cancelled: 'No.' });
    if (click) await click.update({ content: 'Done.', components: [] });
  },
};

beforeAll(async () => {
  commands.push(askCommand); // this test file's process only
  h = await startHarness();
  photo = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#884400' } }).jpeg().toBuffer();
});
afterAll(async () => {
  expect(h.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

interface Words {
  prompt: RegExp;
  button: string;
  cancel: string;
  summary: string;
  skippedHeading: string;
  skipReason: string;
  opted: string;
  state: string;
}

const WORDS: Record<'de' | 'ja', Words> = {
  de: {
    prompt: /^Dieses Bild geht an \*\*2\*\* Mitglieder \(zugestimmt, verknüpft, auf dem Server\)\. Übersprungen: 1 nicht verknüpft\. Jetzt verteilen\?$/,
    button: 'An 2 verteilen',
    cancel: 'Abbrechen',
    summary: '„Launch“ verteilt: 1 erfolgreich, 0 fehlgeschlagen, 1 übersprungen. Der vollständige Bericht ist angehängt.',
    skippedHeading: 'Übersprungen (1):',
    skipReason: 'Zustimmung zurückgezogen',
    opted: '2 Mitglieder haben zugestimmt.',
    state: '„Launch“ von',
  },
  ja: {
    prompt: /^この画像を \*\*2\*\* 人のメンバーに配信します（同意済み・連携済み・サーバー在籍）。 スキップ: 未連携 1 人。 配信しますか？$/,
    button: '2 人に配信',
    cancel: 'キャンセル',
    summary: '「Launch」を配信しました: 成功 1、失敗 0、スキップ 1。詳しい報告を添付しています。',
    skippedHeading: 'スキップ（1）:',
    skipReason: '同意を取り消しました',
    opted: '同意したメンバーは 2 人です。',
    state: '「Launch」実行者',
  },
};

describe.each(['de', 'ja'] as const)('a %s admin', (locale) => {
  const words = WORDS[locale];

  it('gets the push prompt, its buttons, the report with a member’s skip reason, and /branding status in their language', async () => {
    const guild = h.discord.addGuild({ name: `guild-${locale}` });
    const admin = h.discord.addMember({ username: `admin_${locale}`, guildId: guild.id, permissions: MANAGE_GUILD });
    const stays = h.discord.addMember({ username: `stays_${locale}`, guildId: guild.id });
    const withdraws = h.discord.addMember({ username: `withdraws_${locale}`, guildId: guild.id });
    const unlinked = h.discord.addMember({ username: `unlinked_${locale}`, guildId: guild.id });
    await h.linkUser(stays, `stays_${locale}_x`);
    await h.linkUser(withdraws, `withdraws_${locale}_x`);
    const slash = (user: TestUser, name: string, subcommand: string, options: Record<string, unknown> = {}) =>
      h.discord.slash(user, { name, subcommand, options: options as never }, { guildId: guild.id, locale });
    for (const member of [stays, withdraws, unlinked]) await (await slash(member, 'branding-consent', 'join')).waitForReply();

    const push: Interaction = await slash(admin, 'branding', 'push', { image: { attachment: { filename: 'brand.jpg', bytes: photo } }, label: 'Launch' });
    const preview = await push.waitForReply((message) => (message.components ?? []).length > 0, 15_000);
    expect(preview.content).toMatch(words.prompt);
    const buttons = JSON.stringify(preview.components);
    expect(buttons).toContain(`"label":"${words.button}"`);
    expect(buttons).toContain(`"label":"${words.cancel}"`);

    // Withdrawn between the prompt and the click: skipped by the push, with the reason in the admin's language.
    await h.services.branding.consent.leave(guild.id, withdraws.id);
    const click = await push.click(/"custom_id":"(branding-push-confirm:[^"]+)"/.exec(buttons)![1]!);
    const final = await click.waitForReply((message) => message.content === words.summary, 30_000);
    expect(final.content).toBe(words.summary);
    const report = click.files.find((file) => file.name.startsWith('push-'))!.bytes.toString();
    expect(report).toContain(words.skippedHeading);
    expect(report).toContain(`${withdraws.id}  ${words.skipReason}`);

    const status = await slash(admin, 'branding', 'status');
    const text = (await status.waitForReply(undefined, 15_000)).content;
    expect(text.split('\n')[0]).toBe(words.opted);
    expect(text).toContain(words.state);
  });
});

describe('/branding-consent join', () => {
  it('answers a ja member in Japanese: what admins may do, and that their X account is not linked yet', async () => {
    const guild = h.discord.addGuild({ name: 'guild-consent' });
    const member = h.discord.addMember({ username: 'consent_ja', guildId: guild.id });
    const join = await h.discord.slash(member, { name: 'branding-consent', subcommand: 'join' }, { guildId: guild.id, locale: 'ja' });
    const reply = (await join.waitForReply()).content;
    expect(reply).toContain('このサーバーの管理者（「サーバー管理」権限を持つメンバー）が /ブランディング 配信 であなたの X アバターを設定できるようになります');
    expect(reply).toMatch(/参加しました。 X アカウントがまだ連携されていません: \/twitter 連携$/);
    const leave = await h.discord.slash(member, { name: 'branding-consent', subcommand: 'leave' }, { guildId: guild.id, locale: 'ja' });
    expect((await leave.waitForReply()).content).toBe('退出しました。このサーバーの管理者はもうあなたの X アバターを設定できません。');
  });
});

describe('the confirm helper', () => {
  it('edits the prompt to say it timed out, in de, with the buttons gone, when nobody clicks', async () => {
    const user = h.discord.addMember({ username: 'asked_de' });
    const ask = await h.discord.slash(user, { name: 'ask', subcommand: 'now' }, { locale: 'de' });
    const prompt = await ask.waitForReply((message) => (message.components ?? []).length > 0);
    expect(JSON.stringify(prompt.components)).toContain('"label":"Abbrechen"');
    const timedOut = await ask.waitForReply((message) => (message.components ?? []).length === 0, 10_000);
    expect(timedOut.content).toBe('Zeit abgelaufen: Es wurde nichts geändert.');
  });
});
