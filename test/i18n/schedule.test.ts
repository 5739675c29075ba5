/**
 * /schedule, scheduled-change DMs and branding reports in the reader's language, through the real
 * discord.js client and the local Discord and X servers: a reply follows the interaction's locale, a DM
 * that is not a reply the user's last seen locale, the log channel the server's preferred locale. And the
 * registered /schedule and /branding* definitions carry names and descriptions Discord accepts.
 */
import sharp from 'sharp';
import type { APIApplicationCommandOption } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enUS } from '../../src/i18n/catalogue.js';
import { LOCALE_NAMESPACE } from '../../src/i18n/preferences.js';
import { startHarness, type Harness } from '../support/bot-harness.js';
import { eventually } from '../support/eventually.js';
import { failureWords } from '../../src/i18n/schedule-words.js';
import type { ScheduleFailure } from '../../src/schedule/failures.js';
import type { Interaction, OptionValue, TestUser } from '../support/discord-server.js';

const MANAGE_GUILD = 1n << 5n;
const clock = { offset: 0, now: () => Date.now() + clock.offset };
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock, env: { SCHEDULE_MIN_INTERVAL_MS: '0' } });
});
afterAll(async () => {
  expect(h.discord.unexpectedCalls).toEqual([]);
  await h?.close();
});

async function schedule(user: TestUser, locale: string, subcommand: string, options: Record<string, OptionValue> = {}): Promise<string> {
  const interaction = await h.discord.slash(user, { name: 'schedule', subcommand, options }, { locale });
  return (await interaction.waitForReply(undefined, 15_000)).content;
}

async function addImage(user: TestUser, name: string, colour: string): Promise<void> {
  const data = await sharp({ create: { width: 400, height: 400, channels: 3, background: colour } }).jpeg().toBuffer();
  await h.services.library.add(user.id, name, { data, format: 'jpeg' });
}

/** 'YYYY-MM-DD HH:MM' (UTC) of a whole minute a few minutes from now. */
const minuteAhead = (minutes: number): { text: string; ms: number } => {
  const ms = Math.ceil(Date.now() / 60_000) * 60_000 + minutes * 60_000;
  return { text: new Date(ms).toISOString().slice(0, 16).replace('T', ' '), ms };
};

/** English sentences of the schedule area (without placeholders) that must not reach a de or ja user. */
const englishWords = ['Time zone:', 'Next change:', 'notifications by DM', 'Scheduled avatar:', 'Changed by', 'Added:'];

const cases = [
  { locale: 'de', added: /^Hinzugefügt: Ereignis .* → party \(Zeiten in UTC\)\.\nNächste Änderung: /, list: ['Zeitzone: UTC · Benachrichtigungen per DM', 'Nächste Änderung:', 'Ereignis '], title: 'Geplanter Avatar: party', description: 'Geändert nach dem Ereignis am ' },
  { locale: 'ja', added: /^追加しました: イベント .* → party（時刻は UTC）。\n次の変更: /, list: ['タイムゾーン: UTC · 通知: DM', '次の変更:', 'イベント '], title: 'スケジュールのアバター: party', description: 'のイベント により変更しました。' },
] as const;

describe('a de and a ja user', () => {
  for (const { locale, added, list, title, description } of cases) {
    it(`${locale}: /schedule replies in their language, and the scheduled-change DM follows their last interaction's locale`, async () => {
      clock.offset = 0;
      const user = h.discord.addMember({ username: `sched_${locale}` });
      await h.linkUser(user, `sched_${locale}_x`);
      await addImage(user, 'party', '#cc3366');
      // An English interaction first: the DM must follow the last one, not the first.
      expect(await schedule(user, 'en-US', 'timezone', { zone: 'UTC' })).toMatch(/^Your time zone is UTC/);
      // Beyond the scheduler's 10-minute arming window, so moving the clock re-arms it (as the season tests do).
      const at = minuteAhead(15);
      expect(await schedule(user, locale, 'event', { image: 'party', at: at.text })).toMatch(added);
      const listed = await schedule(user, locale, 'list');
      for (const words of list) expect(listed).toContain(words);
      for (const english of englishWords) expect(listed).not.toContain(english);
      expect(await h.records.store.namespace(LOCALE_NAMESPACE).get(`user:${user.id}`)).toBe(locale);

      // The event comes due: the scheduler's clock is moved to 2 s before it.
      clock.offset = at.ms - 2000 - Date.now();
      await h.services.scheduler.refresh(user.id);
      const dm = await h.discord.waitForDm(user.id, (message) => message.embeds.length > 0, 15_000);
      expect(dm.message.embeds[0]?.title).toBe(title);
      expect(dm.message.embeds[0]?.description).toContain(description);
      for (const english of englishWords) expect(JSON.stringify(dm.message.embeds)).not.toContain(english);
      clock.offset = 0;

      // Unlinking forgets the locale with everything else about the user.
      await h.services.links.unlink(user.id);
      expect(await h.records.store.namespace(LOCALE_NAMESPACE).get(`user:${user.id}`)).toBeUndefined();
    });
  }

  it('an English user keeps the English words', async () => {
    const user = h.discord.addMember({ username: 'sched_en' });
    await h.linkUser(user, 'sched_en_x');
    expect(await schedule(user, 'en-GB', 'list')).toBe('No schedules yet: /schedule season, rotate or event.\nTime zone: UTC · notifications by DM\nNext change: nothing planned');
  });
});

const failureCases = [
  {
    locale: 'de',
    dm: ['Nach dem Ereignis von 2020-01-01 00:00 bis 2099-01-01 00:00 wäre jetzt das Bild „gone“ dran', 'nicht mehr in deiner Bibliothek', '/zeitplan fortsetzen'],
    list: 'Letzter Lauf: fehlgeschlagen Nach dem Ereignis',
  },
  { locale: 'ja', dm: ['2020-01-01 00:00〜2099-01-01 00:00 のイベント の画像「gone」がライブラリにないため', '/スケジュール 再開'], list: '前回の実行: 失敗 2020-01-01 00:00〜2099-01-01 00:00 のイベント' },
] as const;
/** English words of a failed scheduled change that must not reach a de or ja user. */
const englishFailure = ['wants the image', 'no longer in your library', '/schedule resume'];

describe('a failed scheduled change', () => {
  for (const { locale, dm, list } of failureCases) {
    it(`${locale}: an image removed from the library is told by DM in their last seen locale, and /schedule list shows it in the reader's`, async () => {
      clock.offset = 0;
      const user = h.discord.addMember({ username: `fail_${locale}` });
      await h.linkUser(user, `fail_${locale}_x`);
      await addImage(user, 'gone', '#336699');
      expect(await schedule(user, locale, 'timezone', { zone: 'UTC' })).toBeTruthy(); // their locale is seen
      await h.records.schedules.update(user.id, (draft) => {
        draft.schedules.push({ id: 'gone01', kind: 'event', image: 'gone', at: '2020-01-01 00:00', until: '2099-01-01 00:00', createdAt: new Date().toISOString() });
      });
      await h.services.library.remove(user.id, 'gone');
      await h.services.scheduler.refresh(user.id);
      const told = await h.discord.waitForDm(user.id, (message) => message.content.includes('gone'), 15_000);
      for (const words of dm) expect(told.message.content).toContain(words);
      for (const english of englishFailure) expect(told.message.content).not.toContain(english);
      // Stored as data, worded when shown: the reader's language, and English for an English reader.
      expect((await h.services.schedules.get(user.id)).lastRun?.detail).toMatchObject({ kind: 'image-missing', image: 'gone' });
      const listed = await schedule(user, locale, 'list');
      expect(listed).toContain(list);
      for (const english of englishFailure) expect(listed).not.toContain(english);
      expect(await schedule(user, 'en-US', 'list')).toContain(
        'Last run: failed The event from 2020-01-01 00:00 until 2099-01-01 00:00 wants the image "gone", which is no longer in your library, so that schedule is paused.',
      );
    });
  }

  it("a failure that could not be DMed is shown at the next command in that interaction's language; an old record's English sentence as it is", async () => {
    clock.offset = 0;
    const user = h.discord.addMember({ username: 'fail_pending' });
    await h.linkUser(user, 'fail_pending_x');
    await addImage(user, 'gone', '#993366');
    h.discord.setDmsClosed(user.id);
    await h.records.schedules.update(user.id, (draft) => {
      draft.schedules.push({ id: 'gone02', kind: 'event', image: 'gone', at: '2020-01-01 00:00', until: '2099-01-01 00:00', createdAt: new Date().toISOString() });
    });
    await h.services.library.remove(user.id, 'gone');
    await h.services.scheduler.refresh(user.id);
    await eventually(async () => expect((await h.services.schedules.get(user.id)).pendingNotice).toMatchObject({ kind: 'image-missing' }), 15_000, 100);
    const next = await h.discord.slash(user, { name: 'schedule', subcommand: 'list', options: {} }, { locale: 'ja' });
    await next.waitForReply(undefined, 15_000);
    const pending = await next.waitForFollowUp(undefined, 15_000);
    expect(pending.content).toContain('の画像「gone」がライブラリにないため');

    // Written by the old code: an English sentence, shown as it is.
    const sentence = 'A scheduled avatar change (your default image: old) failed: an internal error';
    await h.records.schedules.update(user.id, (draft) => void (draft.pendingNotice = sentence));
    const later = await h.discord.slash(user, { name: 'schedule', subcommand: 'list', options: {} }, { locale: 'de' });
    await later.waitForReply(undefined, 15_000);
    expect((await later.waitForFollowUp(undefined, 15_000)).content).toBe(sentence);
    h.discord.setDmsClosed(user.id, false);
  });
});

describe('every kind of scheduled-change failure', () => {
  const rule = { kind: 'season', from: '12-01', to: '02-28', priority: 0 } as const;
  const failures: ScheduleFailure[] = [
    { kind: 'image-missing', rule, image: 'winter' },
    { kind: 'team-image-missing', rule: { kind: 'team-season', from: '01-01', to: '01-31' }, image: 'brand' },
    { kind: 'link-revoked' },
    { kind: 'rate-limited', error: { kind: 'rate-limited', params: { count: 3, resetAt: Date.UTC(2026, 0, 1, 12, 7) } } },
    { kind: 'change-failed', rule, image: 'winter', error: { kind: 'transient', variant: 'unreachable', params: {} } },
    { kind: 'change-failed', rule, image: 'winter' },
  ];
  it('is worded in every locale, each in its own words, with every placeholder filled and commands as that locale names them', () => {
    for (const failure of failures) {
      const english = failureWords('en-US', failure);
      for (const locale of ['en-US', 'de', 'ja'] as const) {
        const words = failureWords(locale, failure);
        expect(words, `${failure.kind} in ${locale}`).not.toMatch(/\{\w+\}/);
        if (locale !== 'en-US') expect(words, `${failure.kind} in ${locale}`).not.toBe(english);
      }
    }
    expect(failureWords('de', { kind: 'link-revoked' })).toContain('/twitter verknüpfen');
    expect(failureWords('ja', failures[3]!)).toContain('12:07 UTC');
  });
});

describe('a push', () => {
  it("reports in the log channel in the server's preferred locale, and tells each member in theirs", async () => {
    const guild = h.discord.addGuild({ name: 'Gilde', preferredLocale: 'de' });
    const admin = h.discord.addMember({ username: 'gilde_admin', guildId: guild.id, permissions: MANAGE_GUILD });
    const member = h.discord.addMember({ username: 'gilde_member', guildId: guild.id });
    await h.linkUser(member, 'gilde_member_x');
    const slash = (user: TestUser, locale: string, name: string, subcommand: string, options: Record<string, unknown> = {}) =>
      h.discord.slash(user, { name, subcommand, options: options as never }, { guildId: guild.id, locale });
    await (await slash(member, 'ja', 'branding-consent', 'join')).waitForReply();
    const log = h.discord.addChannel({ guildId: guild.id, name: 'log' });
    await (await slash(admin, 'en-US', 'branding', 'settings', { 'log-channel': { channel: log.id } })).waitForReply();

    const photo = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#2266aa' } }).jpeg().toBuffer();
    const push: Interaction = await slash(admin, 'en-US', 'branding', 'push', { image: { attachment: { filename: 'brand.jpg', bytes: photo } }, label: 'Launch' });
    const preview = await push.waitForReply((message) => message.content.includes('Push it?'), 15_000);
    const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(preview.components))![1]!;
    const click = await push.click(confirm);
    // The admin ran it in English: their reply is English.
    expect((await click.waitForReply((message) => message.content.startsWith('Pushed'), 30_000)).content).toBe('Pushed "Launch": 1 succeeded, 0 failed, 0 skipped. The full report is attached.');
    const posted = await h.discord.waitForMessage((message) => message.channelId === log.id, 15_000);
    expect(posted.message.content).toBe(`<@${admin.id}> „Launch“ verteilt: 1 erfolgreich, 0 fehlgeschlagen, 0 übersprungen. Der vollständige Bericht ist angehängt.`);
    expect(posted.files[0]?.bytes.toString()).toContain('Erfolgreich (1):');
    const dm = await h.discord.waitForDm(member.id, (message) => message.content.includes('Gilde'), 15_000);
    expect(dm.message.content).toContain('Gilde の管理者があなたの X アバターを変更しました');
    expect(dm.message.content).toContain('/アバター 元に戻す');
  });
});

describe('the registered definitions', () => {
  const valid = /^[-_\p{L}\p{N}]+$/u;
  type Node = { name: string; description: string; name_localizations?: Record<string, string> | null; description_localizations?: Record<string, string> | null; options?: APIApplicationCommandOption[] };
  function check(node: Node, path: string, problems: string[]): void {
    for (const locale of ['de', 'ja']) {
      const name = node.name_localizations?.[locale];
      const described = node.description_localizations?.[locale];
      if (!name || name !== name.toLowerCase() || [...name].length > 32 || !valid.test(name)) problems.push(`${path}: ${locale} name ${String(name)}`);
      if (!described || described.length > 100) problems.push(`${path}: ${locale} description ${String(described)}`);
    }
    if (!node.description || node.description.length > 100) problems.push(`${path}: description`);
    const children = (node.options ?? []) as Node[];
    for (const locale of ['de', 'ja']) {
      const names = children.map((child) => child.name_localizations?.[locale]);
      if (new Set(names).size !== names.length) problems.push(`${path}: ${locale} names of options repeat: ${names.join(', ')}`);
    }
    for (const child of children) check(child, `${path} ${child.name}`, problems);
  }

  it('/schedule, /branding and /branding-consent carry valid de and ja names and descriptions', () => {
    const problems: string[] = [];
    for (const name of ['schedule', 'branding', 'branding-consent']) {
      const registered = h.discord.commands.find((command) => command.name === name);
      expect(registered, name).toBeDefined();
      check(registered as unknown as Node, name, problems);
    }
    expect(problems).toEqual([]);
    const schedule = h.discord.commands.find((command) => command.name === 'schedule')!;
    expect(schedule.name_localizations).toEqual({ de: 'zeitplan', ja: 'スケジュール' });
    expect(schedule.description).toBe(enUS['command.schedule.description']);
  });
});
