/** ja words for the errors area: the same keys as ../en-US/errors.ts. */
import type english from '../en-US/errors.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'error.not-linked': 'X アカウントがまだ連携されていません。',
  'bot.error.not-linked': 'X アカウントがまだ連携されていません。まず /twitter link で連携してください。',
  'cli.error.not-linked': 'Discord ユーザー {discordUserId} には連携済みの X アカウントがありません。avatar-bot link --discord-user {discordUserId} で連携してください。',
  'error.damaged-link': '保存されている X の連携情報を読み取れません。',
  'bot.error.damaged-link': '保存されている X の連携情報を読み取れません。/twitter unlink で連携を解除し、/twitter link でもう一度連携してください。',
  'cli.error.damaged-link': 'Discord ユーザー {discordUserId} の保存済み X 連携情報を読み取れません。avatar-bot unlink --discord-user {discordUserId} を実行してから avatar-bot link --discord-user {discordUserId} を実行してください。',
} satisfies AreaOf<typeof english>;
