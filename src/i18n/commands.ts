/**
 * Slash commands in every locale. Discord shows a user the command, subcommand and option names of their
 * own language (`name_localizations`), so the catalogues name commands as the user sees them: a German
 * reply says "/twitter verknüpfen", a Japanese one "/twitter 連携" (test/i18n.test.ts checks that every
 * command a text names exists under that name in its locale).
 *
 * Names are here, decided once for every area; descriptions and choice names are catalogue keys:
 * `command.<path>.description` (path: `avatar`, `avatar.set`, `avatar.set.image`) and
 * `command.<path>.choice.<value>`.
 */
import type { APIApplicationCommandOption, RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { catalogues, enUS } from './catalogue.js';
import { LOCALES, type Locale } from './locale.js';

/** English path (`avatar set image`) → the name in each other locale; a path not listed keeps its English name. */
export const COMMAND_NAMES: Record<Exclude<Locale, 'en-US'>, Readonly<Record<string, string>>> = {
  de: {
    'twitter link': 'verknüpfen',
    'twitter unlink': 'trennen',
    'avatar set': 'setzen',
    'avatar preview': 'vorschau',
    'avatar history': 'verlauf',
    'avatar revert': 'zurücksetzen',
    library: 'bibliothek',
    'library add': 'hinzufügen',
    'library list': 'liste',
    'library remove': 'entfernen',
    'library kit': 'kit',
    'library kit avatar': 'avatar',
    'library kit banner': 'titelbild',
    'name-template': 'namensvorlage',
    'bio-template': 'bio-vorlage',
    schedule: 'zeitplan',
    'schedule timezone': 'zeitzone',
    'schedule season': 'saison',
    'schedule default': 'standard',
    'schedule rotate': 'rotation',
    'schedule event': 'ereignis',
    'schedule list': 'liste',
    'schedule preview': 'vorschau',
    'schedule pause': 'pausieren',
    'schedule resume': 'fortsetzen',
    'schedule remove': 'entfernen',
    'schedule notify': 'benachrichtigen',
    'schedule overwrite': 'überschreiben', // issue 12: hand changes
    'schedule overwrite mode': 'modus',
    'branding push': 'verteilen',
    'branding revert': 'zurücksetzen',
    'branding season': 'saison',
    'branding settings': 'einstellungen',
    'branding-consent': 'branding-zustimmung',
    'branding-consent join': 'beitreten',
    'branding-consent leave': 'verlassen',
    // /banner and /profile (commands/banner.ts, commands/profile/): X's German pages call the banner "Titelbild"
    banner: 'titelbild',
    'banner set': 'setzen',
    'banner preview': 'vorschau',
    'banner history': 'verlauf',
    'banner revert': 'zurücksetzen',
    profile: 'profil',
    'profile name': 'name',
    'profile bio': 'bio',
    'profile revert': 'zurücksetzen',
    'profile history': 'verlauf',
    'profile apply': 'anwenden',
    'profile kit': 'kit',
    'profile name text': 'text',
    'profile bio text': 'text',
    'profile bio clear': 'leeren',
    'profile revert part': 'teil',
    'profile history part': 'teil',
    'profile apply avatar': 'avatar',
    'profile apply banner': 'titelbild',
    'profile apply name': 'name',
    'profile apply bio': 'bio',
    // options
    image: 'bild',
    crop: 'zuschnitt',
    background: 'hintergrund',
    zone: 'zone',
    from: 'von',
    to: 'bis',
    priority: 'priorität',
    images: 'bilder',
    every: 'intervall',
    order: 'reihenfolge',
    at: 'beginn',
    until: 'ende',
    date: 'datum',
    'schedule pause schedule': 'zeitplan',
    'schedule resume schedule': 'zeitplan',
    'schedule remove schedule': 'zeitplan',
    where: 'ziel',
    channel: 'kanal',
    role: 'rolle',
    label: 'bezeichnung',
    'log-channel': 'log-kanal',
  },
  ja: {
    'twitter link': '連携',
    'twitter status': '状態',
    'twitter unlink': '連携解除',
    avatar: 'アバター',
    'avatar set': '設定',
    'avatar preview': 'プレビュー',
    'avatar history': '履歴',
    'avatar revert': '元に戻す',
    library: 'ライブラリ',
    'library add': '追加',
    'library list': '一覧',
    'library remove': '削除',
    'library kit': 'キット',
    'library kit avatar': 'アバター',
    'library kit banner': 'ヘッダー',
    'name-template': '名前テンプレート',
    'bio-template': '自己紹介テンプレート',
    schedule: 'スケジュール',
    'schedule timezone': 'タイムゾーン',
    'schedule season': 'シーズン',
    'schedule default': '既定',
    'schedule rotate': 'ローテーション',
    'schedule event': 'イベント',
    'schedule list': '一覧',
    'schedule preview': 'プレビュー',
    'schedule pause': '一時停止',
    'schedule resume': '再開',
    'schedule remove': '削除',
    'schedule notify': '通知',
    'schedule overwrite': '上書き', // issue 12: hand changes
    'schedule overwrite mode': 'モード',
    branding: 'ブランディング',
    'branding push': '配信',
    'branding revert': '元に戻す',
    'branding season': 'シーズン',
    'branding status': '状態',
    'branding settings': '設定',
    'branding-consent': 'ブランディング同意',
    'branding-consent join': '参加',
    'branding-consent leave': '退出',
    // /banner and /profile (commands/banner.ts, commands/profile/): X's Japanese pages call the banner ヘッダー
    banner: 'ヘッダー',
    'banner set': '設定',
    'banner preview': 'プレビュー',
    'banner history': '履歴',
    'banner revert': '元に戻す',
    profile: 'プロフィール',
    'profile name': '名前',
    'profile bio': '自己紹介',
    'profile revert': '元に戻す',
    'profile history': '履歴',
    'profile apply': '適用',
    'profile kit': 'キット',
    'profile name text': 'テキスト',
    'profile bio text': 'テキスト',
    'profile bio clear': '消去',
    'profile revert part': '項目',
    'profile history part': '項目',
    'profile apply avatar': 'アバター',
    'profile apply banner': 'ヘッダー',
    'profile apply name': '名前',
    'profile apply bio': '自己紹介',
    // options
    image: '画像',
    crop: '切り抜き',
    background: '背景',
    name: '名前',
    zone: 'ゾーン',
    from: '開始',
    to: '終了',
    priority: '優先度',
    images: '画像一覧',
    every: '間隔',
    order: '順序',
    at: '日時',
    until: '終了日時',
    date: '日付',
    where: '通知先',
    channel: 'チャンネル',
    role: 'ロール',
    label: 'ラベル',
    'log-channel': 'ログチャンネル',
  },
};

/** A command, subcommand or option name in `locale`: by its full path first, then by its own English name. */
export function commandName(locale: Locale, path: string): string {
  const english = path.split(' ').at(-1)!;
  if (locale === 'en-US') return english;
  const names = COMMAND_NAMES[locale];
  return names[path] ?? names[english] ?? english;
}

/** `/twitter link` as a user of `locale` sees and types it. */
export function commandMention(locale: Locale, path: string): string {
  const parts = path.split(' ');
  return `/${parts.map((_, index) => commandName(locale, parts.slice(0, index + 1).join(' '))).join(' ')}`;
}

const text = (locale: Locale, key: string): string | undefined => (catalogues[locale] as Record<string, string>)[key];

type Described = { name: string; description?: string; options?: readonly APIApplicationCommandOption[]; choices?: readonly { name: string; value: string | number }[] };

function localize<T extends Described>(node: T, path: string[]): T {
  const key = `command.${path.join('.')}`;
  const english = text('en-US', `${key}.description`);
  if (english === undefined) throw new Error(`the catalogue has no ${key}.description`);
  const others = LOCALES.filter((locale): locale is Exclude<Locale, 'en-US'> => locale !== 'en-US');
  const localized: Described & Record<string, unknown> = {
    ...node,
    description: english,
    name_localizations: Object.fromEntries(others.map((locale) => [locale, commandName(locale, path.join(' '))])),
    description_localizations: Object.fromEntries(others.map((locale) => [locale, text(locale, `${key}.description`) ?? english])),
  };
  if (node.choices) {
    localized.choices = node.choices.map((choice) => {
      const choiceKey = `${key}.choice.${String(choice.value)}`;
      return { ...choice, name: text('en-US', choiceKey) ?? choice.name, name_localizations: Object.fromEntries(others.map((locale) => [locale, text(locale, choiceKey) ?? choice.name])) };
    });
  }
  if (node.options) localized.options = node.options.map((option) => localize(option as Described, [...path, option.name]) as unknown as APIApplicationCommandOption);
  return localized as T;
}

/**
 * A command's definition with its descriptions from the catalogue and its names and descriptions in every
 * locale. Throws when a description is missing from the English catalogue (the definition's own
 * `description` is only a placeholder for readers).
 */
export function localizedDefinition(definition: RESTPostAPIChatInputApplicationCommandsJSONBody): RESTPostAPIChatInputApplicationCommandsJSONBody {
  return localize(definition as Described, [definition.name]) as unknown as RESTPostAPIChatInputApplicationCommandsJSONBody;
}

export { enUS };
