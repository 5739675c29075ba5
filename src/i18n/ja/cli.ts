/** ja words for the cli area: the same keys as ../en-US/cli.ts. */
import type english from '../en-US/cli.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'cli.error.text-too-long.name': '--name のテキストは {length} 文字です。X の表示名は最大 {max} 文字です。何も送信していません。',
  'cli.error.text-too-long.description': '--bio のテキストは {length} 文字です。X では最大 {max} 文字です。何も送信していません。',
  'cli.error.empty.name': "--name のテキストが空です。X には表示名が必要です（--bio '' で自己紹介を空にできます）。",
  'cli.error.nothing-to-revert.avatar': '元に戻すものはありません。Discord ユーザー {discordUserId} の X アイコンは、ボットが変更する前のものです。',
  'cli.error.nothing-to-revert.banner': '元に戻すものはありません。Discord ユーザー {discordUserId} の X ヘッダー画像は、ボットが変更する前のものです。',
  'cli.error.nothing-to-revert.name': '元に戻すものはありません。Discord ユーザー {discordUserId} の X 表示名は、ボットが変更する前のものです。',
  'cli.error.nothing-to-revert.bio': '元に戻すものはありません。Discord ユーザー {discordUserId} の X 自己紹介は、ボットが変更する前のものです。',
} satisfies AreaOf<typeof english>;
