/**
 * Every error kind (the core's and the bot edge's own) has words in every locale for both edges (the bot's and the CLI's),
 * with no placeholder left unfilled; the CLI's words never name a slash command; errors are built from a
 * kind and parameters, not sentences; and a PIN X refuses is answered, through the real discord.js client,
 * with "try the PIN again" and a button that opens the PIN form again, not "Link again".
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_ERROR_KINDS } from '../../src/accounts/errors.js';
import { IMAGE_ERROR_KINDS } from '../../src/avatar/normalize.js';
import { BRANDING_ERROR_KINDS } from '../../src/branding/push.js';
import { DISCORD_SIGN_IN_ERROR_KINDS } from '../../src/bot/discord-oauth.js';
import { NOTICE_CHANNEL_ERROR_KINDS } from '../../src/bot/notify.js';
import { INPUT_ERROR_KINDS } from '../../src/bot/options.js';
import { CONFIG_ERROR_KINDS } from '../../src/config.js';
import { DOWNLOAD_ERROR_KINDS } from '../../src/download.js';
import { UserFacingError } from '../../src/errors.js';
import { enUS } from '../../src/i18n/catalogue.js';
import { LOCALES } from '../../src/i18n/locale.js';
import { errorWords, type Edge } from '../../src/i18n/render-error.js';
import { PLURAL_SUFFIX, placeholdersIn } from '../../src/i18n/t.js';
import { SCHEDULE_ERROR_KINDS } from '../../src/schedule/errors.js';
import { STORE_ERROR_KINDS } from '../../src/store/backend.js';
import { SECRET_ERROR_KINDS } from '../../src/store/cipher.js';
import { LIBRARY_ERROR_KINDS } from '../../src/library/store.js';
import { VAULT_ERROR_KINDS } from '../../src/accounts/vault.js';
import { X_ERROR_KINDS } from '../../src/x/errors.js';
import { PROFILE_TEXT_ERROR_KINDS } from '../../src/profile/text.js';
import { buttonsOf, EPHEMERAL, requestTokenOf, useHarness } from '../bot/helpers.js';
import { BRANDING_COMMAND_ERROR_KINDS } from '../../commands/branding/common.js';
import { PROFILE_COMMAND_ERROR_KINDS } from '../../commands/profile/shared.js';

/** The CLI's own kinds: UsageError (src/cli/args.ts) and rotate-key's skipped records. */
const CLI_KINDS = ['usage', 'records-skipped'] as const;

const KIND_LISTS: Record<string, readonly string[]> = {
  AccountError: ACCOUNT_ERROR_KINDS,
  ImageError: IMAGE_ERROR_KINDS,
  BrandingError: BRANDING_ERROR_KINDS,
  ConfigError: CONFIG_ERROR_KINDS,
  DownloadError: DOWNLOAD_ERROR_KINDS,
  ScheduleError: SCHEDULE_ERROR_KINDS,
  StoreError: STORE_ERROR_KINDS,
  SecretError: SECRET_ERROR_KINDS,
  LibraryError: LIBRARY_ERROR_KINDS,
  VaultError: VAULT_ERROR_KINDS,
  XApiError: X_ERROR_KINDS,
  ProfileTextError: PROFILE_TEXT_ERROR_KINDS,
  InputError: INPUT_ERROR_KINDS,
  NoticeChannelError: NOTICE_CHANNEL_ERROR_KINDS,
  DiscordSignInError: DISCORD_SIGN_IN_ERROR_KINDS,
  branding: BRANDING_COMMAND_ERROR_KINDS,
  profile: PROFILE_COMMAND_ERROR_KINDS,
  cli: CLI_KINDS,
};
const ALL_KINDS = Object.values(KIND_LISTS).flat();
const english = enUS as Record<string, string>;
const baseKey = (key: string) => key.replace(PLURAL_SUFFIX, '');

/** The variants the catalogue has for a kind (`error.<kind>.<variant>`, `bot.error.<kind>.<variant>`, …). */
function variantsOf(kind: string): (string | undefined)[] {
  const variants = new Set<string>();
  for (const key of Object.keys(english).map(baseKey)) {
    const match = /^(?:bot\.|cli\.)?error\.(.+)$/.exec(key);
    if (match && match[1]!.startsWith(`${kind}.`)) variants.add(match[1]!.slice(kind.length + 1));
  }
  return [undefined, ...variants];
}

/** A value for every placeholder any text of this kind names (numbers where a count or instant is meant). */
function sampleParams(kind: string, variant: string | undefined): Record<string, string | number> {
  const suffix = variant === undefined ? kind : `${kind}.${variant}`;
  const texts = Object.entries(english)
    .filter(([key]) => [`error.${kind}`, `error.${suffix}`, `bot.error.${kind}`, `bot.error.${suffix}`, `cli.error.${kind}`, `cli.error.${suffix}`].includes(baseKey(key)))
    .map(([, text]) => text);
  const params: Record<string, string | number> = {};
  for (const name of texts.flatMap(placeholdersIn)) params[name] = name === 'count' ? 2 : name.endsWith('At') ? Date.UTC(2026, 11, 24, 18, 5) : `sample-${name}`;
  return params;
}

/** A slash command: "/" then a letter, at the start or after a space or an opening quote or bracket (not "*\/n", not "https://"). */
const SLASH_COMMAND = /(^|[\s("'“„「（])\/\p{L}/u;

describe('error kinds', () => {
  it('are unique across the error classes (they share error.<kind>)', () => {
    expect(ALL_KINDS.filter((kind, index) => ALL_KINDS.indexOf(kind) !== index)).toEqual([]);
  });

  it('each have edge-neutral words', () => {
    expect(ALL_KINDS.filter((kind) => !(`error.${kind}` in english) && !(`error.${kind}_other` in english))).toEqual([]);
  });

  it('have no words in the catalogue for a kind that does not exist (bot-only kinds aside)', () => {
    const named = new Set(
      Object.keys(english)
        .map(baseKey)
        .filter((key) => /^(?:cli\.)?error\./.test(key))
        .map((key) => key.replace(/^(?:cli\.)?error\./, '')),
    );
    const orphans = [...named].filter((suffix) => !ALL_KINDS.some((kind) => suffix === kind || suffix.startsWith(`${kind}.`)));
    expect(orphans).toEqual([]);
  });

  for (const locale of LOCALES) {
    for (const edge of ['bot', 'cli'] as Edge[]) {
      it(`render in ${locale} for the ${edge}, every variant, with every placeholder filled`, () => {
        const bad: string[] = [];
        for (const kind of ALL_KINDS) {
          for (const variant of variantsOf(kind)) {
            const error = new UserFacingError(kind, sampleParams(kind, variant), { variant });
            const words = errorWords(error, locale, edge, { discordUserId: '123456789012345678' });
            if (words.trim() === '' || /\{\w+\}/.test(words) || words === kind) bad.push(`${kind}${variant ? `.${variant}` : ''}: ${words}`);
            if (edge === 'cli' && SLASH_COMMAND.test(words)) bad.push(`${kind}${variant ? `.${variant}` : ''} names a slash command: ${words}`);
          }
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('put an instant into words as a time of day in the reader’s locale, and a count into its plural', () => {
    const error = new UserFacingError('rate-limited', { count: 1, resetAt: Date.UTC(2026, 10, 27, 12, 7) });
    expect(error.userMessage).toBe('X is rate-limiting this account. Try again in 1 minute (after 12:07 UTC).');
    expect(errorWords(error, 'de', 'bot')).toBe('X begrenzt gerade die Anfragen für dieses Konto. Versuch es in 1 Minute erneut (nach 12:07 UTC).');
  });
});

describe('errors in src/ outside the edges', () => {
  const root = join(import.meta.dirname, '../../src');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
    });
  const core = files(root).filter((path) => !/^(bot|cli|i18n)\//.test(relative(root, path)) && relative(root, path) !== 'cli.ts');

  it('are built from a kind and parameters, never an English sentence', () => {
    const sentences = core.flatMap((path) =>
      [...readFileSync(path, 'utf8').matchAll(/new \w*Error\(\s*'[a-z-]+',\s*[`'"]/g)].map((match) => `${relative(root, path)}: ${match[0]}`),
    );
    expect(sentences).toEqual([]);
  });

  it('name only variants the catalogue has words for', () => {
    const variants = new Set(
      core.flatMap((path) => [...readFileSync(path, 'utf8').matchAll(/(?:variant: |invalid\(|httpError\(statusCode, )'([a-z-]+)'/g)].map((match) => match[1]!)),
    );
    expect(variants.size).toBeGreaterThan(20);
    const keys = Object.keys(english).map(baseKey);
    expect([...variants].filter((variant) => !keys.some((key) => key.startsWith('error.') && key.endsWith(`.${variant}`)))).toEqual([]);
  });
});

describe('a wrong PIN, through the real discord.js client', () => {
  const h = useHarness();

  it('is answered with "try the PIN again" and a button that opens the PIN form of the same sign-in, not "Link again"', async () => {
    const user = h.discord.addMember({ username: 'pin-wrong' });
    const xUser = h.x.addUser({ screenName: 'wrong_pin_x' });
    const link = await h.discord.slash(user, { name: 'twitter', subcommand: 'link' });
    const requestToken = requestTokenOf(await link.waitForReply());
    const { verifier } = h.x.approve(requestToken, xUser.id);
    const wrong = String((Number(verifier) + 1) % 10_000_000).padStart(7, '0');

    const first = await link.click(`twitter:pin:${requestToken}`);
    const submitted = await first.submitModal({ pin: wrong });
    const refused = await submitted.waitForReply();
    expect(refused.flags! & EPHEMERAL).toBe(EPHEMERAL);
    expect(refused.content).toContain('try the PIN again');
    expect(refused.content).not.toMatch(/link again/i);
    const buttons = buttonsOf(refused);
    expect(buttons.map((button) => button.label)).toEqual(['Enter the PIN again']);
    expect(buttons[0]!.custom_id).toBe(`twitter:pin:${requestToken}`);
    expect(await h.records.vault.get(user.id)).toBeUndefined();

    // The button works: the PIN form of the same sign-in, and the right PIN links.
    const again = await submitted.click(`twitter:pin:${requestToken}`);
    expect((await again.waitForModal()).custom_id).toBe(`twitter:pin-modal:${requestToken}`);
    const linked = await (await again.submitModal({ pin: verifier })).waitForReply();
    expect(linked.content).toBe('Linked @wrong_pin_x. Use /avatar set to change your X avatar.');
    expect(await h.records.vault.get(user.id)).toMatchObject({ xUserId: xUser.id, status: 'active' });
  });
});
