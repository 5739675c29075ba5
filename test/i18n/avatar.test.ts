/**
 * /avatar, /twitter and /library in German and Japanese, through the real discord.js client: a user whose
 * Discord client is set to `de` or `ja` gets every reply, embed, button, select and modal in that language
 * and no English sentence; and the registered definitions carry valid de and ja names and descriptions.
 */
import { describe, expect, it } from 'vitest';
import { enUS } from '../../src/i18n/catalogue.js';
import type { Locale } from '../../src/i18n/locale.js';
import { t } from '../../src/i18n/t.js';
import type { Message } from '../support/discord-server.js';
import { buttonsOf, customIdOf, fixture, image, SLOW_MS, useHarness } from '../bot/helpers.js';

/** Every string a user reads in a message or modal: content, embed texts, button labels, select placeholders and options. */
function wordsOf(value: unknown, skip = new Set(['url', 'custom_id', 'proxy_url', 'id', 'value'])): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap((item) => wordsOf(item, skip));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => (skip.has(key) ? [] : wordsOf(item, skip)));
  return [];
}
const shown = (message: Message) => wordsOf({ content: message.content, embeds: message.embeds, components: message.components }).join('\n');

/**
 * The English sentences of the en-US catalogue, as the pieces between placeholders that are long enough
 * to be a sentence (10+ characters with a space), so "@name" or "400x400" cannot match by accident.
 */
const englishSentences = [...new Set(Object.values(enUS).flatMap((text) => text.split(/\{\w+\}/).map((piece) => piece.trim())))].filter(
  (piece) => piece.length >= 10 && piece.includes(' '),
);
function expectNoEnglish(text: string): void {
  expect(englishSentences.filter((sentence) => text.includes(sentence))).toEqual([]);
}

const LOCALES: Array<{ locale: Exclude<Locale, 'en-US'>; distinctive: RegExp }> = [
  { locale: 'de', distinctive: /Avatar aktualisiert|Aktuell|Bibliothek|Verknüpf/ },
  { locale: 'ja', distinctive: /[\u3040-\u30ff]/ },
];

describe.each(LOCALES)('a $locale user', ({ locale, distinctive }) => {
  const h = useHarness();

  it('gets /avatar set, /avatar history, /twitter status and /library list in their language', async () => {
    const user = h.discord.addMember({ username: `words-${locale}` });
    await h.linkUser(user, `words_${locale}`);

    const set = await h.discord.slash(user, { name: 'avatar', subcommand: 'set', options: { image: image('me.jpg', fixture('Landscape_5.jpg')) } }, { locale });
    const applied = await set.waitForReply(undefined, SLOW_MS);
    expect(applied.embeds[0]?.title).toBe(t(locale, 'avatar.applied.updated'));
    expect(applied.embeds[0]?.description).toContain(t(locale, 'avatar.applied.description', { screenName: `words_${locale}`, url: '' }).split('\n')[0]);
    expectNoEnglish(shown(applied));

    const history = await h.discord.slash(user, { name: 'avatar', subcommand: 'history' }, { locale });
    const listed = await history.waitForReply(undefined, SLOW_MS);
    expect(listed.embeds[0]?.title).toBe(t(locale, 'avatar.history.current'));
    expect(listed.content).toBe(t(locale, 'avatar.history.original-saved'));
    expect(shown(listed)).toContain(t(locale, 'avatar.history.select'));
    expect(shown(listed)).toMatch(distinctive);
    expectNoEnglish(shown(listed));

    const status = await h.discord.slash(user, { name: 'twitter', subcommand: 'status' }, { locale });
    const health = await status.waitForReply(undefined, SLOW_MS);
    expect(health.embeds[0]?.fields?.map((field) => field.name)).toEqual([t(locale, 'twitter.status.linked'), t(locale, 'twitter.status.health'), t(locale, 'twitter.status.applied')]);
    expect(health.embeds[0]?.fields?.[1]?.value).toBe(t(locale, 'twitter.status.working'));
    expectNoEnglish(shown(health));

    const empty = await (await h.discord.slash(user, { name: 'library', subcommand: 'list' }, { locale })).waitForReply();
    expect(empty.content).toBe(t(locale, 'library.empty'));
    const add = await h.discord.slash(user, { name: 'library', subcommand: 'add', options: { name: 'winter', image: image('w.jpg', fixture('flowers.jpeg')) } }, { locale });
    const saved = await add.waitForReply(undefined, SLOW_MS);
    expect(saved.content).toBe(t(locale, 'library.saved', { name: 'winter' }));
    const list = await (await h.discord.slash(user, { name: 'library', subcommand: 'list' }, { locale })).waitForReply();
    expect(list.content).toBe(t(locale, 'library.count', { count: 1 }));
    expect(list.embeds[0]?.description).toMatch(new RegExp(t(locale, 'library.added', { date: '<t:\\d+:d>' })));
    for (const message of [empty, saved, list]) expectNoEnglish(shown(message));
  });

  it('gets the /twitter link buttons, the PIN modal and the confirmation in their language', async () => {
    const user = h.discord.addMember({ username: `link-${locale}` });
    const xUser = h.x.addUser({ screenName: `link_${locale}` });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' }, { locale });
    const prompt = await link.waitForReply();
    expect(prompt.content).toBe(t(locale, 'twitter.link.pin-steps'));
    expect(buttonsOf(prompt).map((button) => button.label)).toEqual([t(locale, 'twitter.link.authorise'), t(locale, 'twitter.link.enter-pin')]);
    expectNoEnglish(shown(prompt));

    const authorize = buttonsOf(prompt).find((button) => button.url !== undefined)!;
    const { verifier } = h.x.approve(new URL(authorize.url!).searchParams.get('oauth_token')!, xUser.id);
    const click = await link.click(customIdOf(prompt, 'twitter:pin:'));
    const modal = await click.waitForModal();
    expect(modal.title).toBe(t(locale, 'twitter.link.modal-title'));
    expect(wordsOf(modal.components)).toContain(t(locale, 'twitter.link.pin-label'));
    expectNoEnglish(wordsOf(modal).join('\n'));

    const linked = await (await click.submitModal({ pin: verifier })).waitForReply();
    expect(linked.content).toBe(t(locale, 'twitter.link.linked', { screenName: `link_${locale}` }));
    expectNoEnglish(linked.content);
  });
});

describe('the registered /avatar, /twitter and /library', () => {
  const h = useHarness();

  interface Node {
    name: string;
    description?: string;
    name_localizations?: Record<string, string> | null;
    description_localizations?: Record<string, string> | null;
    options?: Node[];
    choices?: Array<{ name: string; name_localizations?: Record<string, string> | null }>;
  }

  /** Discord's rules for a chat-input command or option name. */
  const validName = (name: string) => name.length >= 1 && name.length <= 32 && name === name.toLocaleLowerCase() && /^[-_\p{L}\p{N}]+$/u.test(name);

  function check(node: Node, path: string, problems: string[]): void {
    for (const locale of ['de', 'ja']) {
      const name = node.name_localizations?.[locale];
      const description = node.description_localizations?.[locale];
      if (name === undefined || !validName(name)) problems.push(`${path}: ${locale} name ${String(name)}`);
      if (description === undefined || description.length < 1 || description.length > 100) problems.push(`${path}: ${locale} description ${String(description)}`);
      for (const choice of node.choices ?? []) {
        const choiceName = choice.name_localizations?.[locale];
        if (choiceName === undefined || choiceName.length < 1 || choiceName.length > 100) problems.push(`${path} choice ${choice.name}: ${locale} ${String(choiceName)}`);
      }
      const siblings = (node.options ?? []).map((option) => option.name_localizations?.[locale] ?? option.name);
      if (new Set(siblings).size !== siblings.length) problems.push(`${path}: ${locale} options ${siblings.join(', ')} are not unique`);
    }
    if (!node.description || node.description.length > 100) problems.push(`${path}: English description ${String(node.description)}`);
    for (const option of node.options ?? []) check(option, `${path} ${option.name}`, problems);
  }

  it('carry de and ja names (lower case, 1–32, letters/digits/-/_, unique among siblings) and descriptions of 1–100 characters', () => {
    const registered = h.discord.commands.filter((command) => ['avatar', 'banner', 'profile', 'twitter', 'library'].includes(command.name));
    expect(registered.map((command) => command.name).sort()).toEqual(['avatar', 'banner', 'library', 'profile', 'twitter']);
    const problems: string[] = [];
    for (const command of registered) check(command as unknown as Node, command.name, problems);
    expect(problems).toEqual([]);
    const avatar = registered.find((command) => command.name === 'avatar') as unknown as Node;
    expect(avatar.name_localizations).toEqual({ de: 'avatar', ja: 'アバター' });
    expect(avatar.description_localizations?.de).toBe(t('de', 'command.avatar.description'));
    expect(avatar.options?.find((option) => option.name === 'set')?.name_localizations).toEqual({ de: 'setzen', ja: '設定' });
  });
});

describe("the bot's web pages", () => {
  const h = useHarness();

  it("speak the browser's language (Accept-Language), English when it asks for none we speak", async () => {
    const pageFor = async (acceptLanguage: string) => (await fetch(`${h.httpUrl()}/nothing-here`, { headers: { 'accept-language': acceptLanguage } })).text();
    expect(await pageFor('de-AT,de;q=0.9,en;q=0.8')).toContain(t('de', 'common.page.not-found.text'));
    expect(await pageFor('fr-FR, ja;q=0.7, en;q=0.5')).toContain(t('ja', 'common.page.not-found.text'));
    expect(await pageFor('en;q=0.4, ja;q=0.8')).toContain(t('ja', 'common.page.not-found.text'));
    expect(await pageFor('fr-FR')).toContain(t('en-US', 'common.page.not-found.text'));
    expect(await pageFor('ja;q=0, de;q=0.1')).toContain(t('de', 'common.page.not-found.text'));
  });
});
