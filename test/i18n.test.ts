/**
 * The catalogues: every locale has every English key (tsc checks that each area `satisfies` its English
 * one; this checks it at run time too), with the same placeholders; plural keys have their `_other` form;
 * no key is defined by two areas (the later would silently win); an error's words exist for both edges.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogues, enUS } from '../src/i18n/catalogue.js';
import { LOCALES } from '../src/i18n/locale.js';
import { placeholdersIn, PLURAL_SUFFIX, t } from '../src/i18n/t.js';

const englishKeys = Object.keys(enUS).sort();

describe('the catalogues', () => {
  for (const locale of LOCALES) {
    it(`${locale} has exactly the English keys, with the same placeholders`, () => {
      const catalogue = catalogues[locale] as Record<string, string>;
      expect(Object.keys(catalogue).sort()).toEqual(englishKeys);
      const mismatched = englishKeys.filter((key) => placeholdersIn(catalogue[key]!).join() !== placeholdersIn((enUS as Record<string, string>)[key]!).join());
      expect(mismatched).toEqual([]);
      const empty = englishKeys.filter((key) => catalogue[key]!.trim() === '');
      expect(empty).toEqual([]);
    });
  }

  it('defines each key in one area only', async () => {
    const dir = join(import.meta.dirname, '../src/i18n/en-US');
    let total = 0;
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const area = (await import(join(dir, file))) as { default: Record<string, string> };
      total += Object.keys(area.default).length;
    }
    expect(total).toBe(englishKeys.length);
  });

  it('gives every plural key its other form', () => {
    const bases = new Set(englishKeys.filter((key) => PLURAL_SUFFIX.test(key)).map((key) => key.replace(PLURAL_SUFFIX, '')));
    expect([...bases].filter((base) => !(`${base}_other` in enUS))).toEqual([]);
  });

  it('fills placeholders and keeps the English words where a locale is asked for one it has', () => {
    expect(t('de', 'cli.error.not-linked', { discordUserId: '42' })).toContain('avatar-bot link --discord-user 42');
    expect(t('ja', 'bot.error.not-linked')).toContain('/twitter 連携');
  });
});

describe('commands named in texts', () => {
  it('are commands of that locale, as its users see them', async () => {
    const { commands } = await import('../commands/index.js');
    const { commandName } = await import('../src/i18n/commands.js');
    // After the start, a space, a quote or a bracket: `*/n` (cron) and URLs are not commands.
    const reference = /(?<![^\s"'(「（`])\/([-_\p{L}\p{N}]+)(?: ([-_\p{L}\p{N}]+))?/gu;
    const wrong: string[] = [];
    for (const locale of LOCALES) {
      const known = new Map<string, Set<string>>();
      for (const { definition } of commands) {
        const subs = (definition.options ?? []).filter((option) => option.type === 1 || option.type === 2).map((option) => commandName(locale, `${definition.name} ${option.name}`));
        known.set(commandName(locale, definition.name), new Set(subs));
      }
      for (const [key, text] of Object.entries(catalogues[locale] as Record<string, string>)) {
        for (const [, command, sub] of text.matchAll(reference)) {
          const subs = known.get(command!);
          if (!subs) wrong.push(`${locale} ${key}: /${command}`);
          else if (subs.size > 0 && (sub === undefined || !subs.has(sub))) wrong.push(`${locale} ${key}: /${command} ${sub ?? ''}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
