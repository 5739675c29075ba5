/** ja words for the common area: the same keys as ../en-US/common.ts. */
import type english from '../en-US/common.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'common.cancel': 'キャンセル',
  'common.applying': '適用しています…',
  'common.timed-out': '時間切れです。何も変更していません。',
  'common.restarting': 'ボットを再起動しています。1 分ほどしてからもう一度お試しください。',
  'common.button.link': 'X アカウントを連携',
  'common.button.link-again': 'もう一度連携',
  'common.and-more': ' ほか {count} 件',
  'common.or': 'または',
  'common.page.bad-request.title': '不正なリクエスト',
  'common.page.bad-request.text': 'このサーバーは自身のパスへのリクエストにのみ応答します。',
  'common.page.not-found.title': '見つかりません',
  'common.page.not-found.text': 'ここには何もありません。',
  'common.page.method.title': '許可されていないメソッド',
  'common.page.method.text': '{methods} を使ってください。',
  'common.page.error.title': '問題が発生しました',
  'common.page.error.text': 'エラーは記録されました。',
} satisfies AreaOf<typeof english>;
