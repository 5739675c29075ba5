/** ja words for the twitter area: the same keys as ../en-US/twitter.ts. */
import type english from '../en-US/twitter.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'command.twitter.description': 'X アカウントを avatar-bot と連携します',
  'command.twitter.link.description': 'X アカウントを連携します',
  'command.twitter.status.description': '連携中の X アカウントと連携が有効かどうかを表示します',
  'command.twitter.unlink.description': 'ボットのアクセスを取り消し、データを削除します',

  'twitter.link.authorise': 'X で承認',
  'twitter.link.use-pin': '代わりに PIN を使う',
  'twitter.link.enter-pin': 'PIN を入力',
  'twitter.link.callback-steps':
    '1. **X で承認** をクリックし、avatar-bot を承認してください。\n2. X から avatar-bot に戻ります。そこで Discord にログインし、表示されるのが自分の Discord アカウントであることを確認してから確定してください。\n3. 連携が完了すると、このメッセージでお知らせします。\nこのリンクは 15 分間、あなただけが使えます。',
  'twitter.link.pin-steps':
    '1. **X で承認** をクリックし、avatar-bot を承認してください。\n2. X に PIN が表示されます。**PIN を入力** をクリックして入力してください。\nこのリンクは 15 分間、あなただけが使えます。',
  'twitter.link.modal-title': 'X アカウントを連携',
  'twitter.link.pin-label': 'X に表示された PIN',
  'twitter.link.linked': '@{screenName} を連携しました。/アバター 設定 で X のアバターを変更できます。',

  'twitter.status.linked': '連携日時',
  'twitter.status.health': '連携の状態',
  'twitter.status.working': '有効',
  'twitter.status.revoked': '取り消し済み: もう一度連携してください',
  'twitter.status.unknown': '不明: {problem}',
  'twitter.status.no-answer': 'X から応答がありません',
  'twitter.status.applied': 'ボットが適用したアバター',

  'twitter.unlink.your-account': 'あなたの X アカウント',
  'twitter.unlink.confirm': '{name} の連携を解除しますか？ボットは X でのアクセスを取り消し、トークンとアバター履歴を削除します。',
  'twitter.unlink.confirm-damaged':
    '保存されている X の連携情報を読み取れないため、X に通知できません。それでも連携を解除しますか？ボットは保存済みの連携情報とアバター履歴を削除します。x.com の「設定」>「セキュリティ」>「連携しているアプリ」から avatar-bot を削除することもできます。',
  'twitter.unlink.button': '連携解除',
  'twitter.unlink.cancelled': 'キャンセルしました。X アカウントの連携はそのままです。',
  'twitter.unlink.unlinking': '{name} の連携を解除しています…',
  'twitter.unlink.done': '{name} の連携を解除しました。X でのアクセスを取り消し、トークンと履歴を削除しました。',
  'twitter.unlink.done-unconfirmed':
    '{name} の連携をこちらで解除し、トークンと履歴を削除しました。X はアクセスの取り消しを確認しませんでした（{problem}）。x.com の「設定」>「セキュリティ」>「連携しているアプリ」から avatar-bot を削除することもできます。',
  'twitter.unlink.no-answer': '応答なし',
  'twitter.unlink.unreadable': '保存された連携情報を読み取れなかったため、X に通知できませんでした',

  'twitter.page.not-linked': '連携されていません',
  'twitter.page.denied': 'X で拒否されたため、何も連携していません。このタブは閉じてかまいません。',
  'twitter.page.missing-params': 'このページには X が付加する oauth_token と oauth_verifier が必要です。もう一度 /twitter 連携 を実行してください。',
  'twitter.page.sign-in': 'Discord でログイン',
  'twitter.page.sign-in-text': '{link}して連携を完了してください。',
  'twitter.page.expired': 'このログインは期限切れか、すでに使用されています。もう一度 /twitter 連携 を実行してください。',
  'twitter.page.other-browser':
    'このログインは別のブラウザーで開始されました。何も連携していません。/twitter 連携 の「X で承認」リンクを、普段使うブラウザーで開いてください。',
  'twitter.page.other-browser-short': 'このログインは別のブラウザーで開始されました。何も連携していません。',
  'twitter.page.no-discord': 'Discord にログインしなかったため、何も連携していません。もう一度 /twitter 連携 を実行してください。',
  'twitter.page.wrong-account':
    'Discord には {account} としてログインしていますが、この X のログインは別の Discord アカウントが開始したものです。そのため何も連携せず、ログインを取り消しました。誰かから「X で承認」リンクが送られてきた場合、その人はあなたの X のアバターを操作しようとしています。自分で /twitter 連携 を実行してください。',
  'twitter.page.confirm': 'X で承認した X アカウントを Discord アカウント {account} と連携しますか？ボタンを押すまで何も連携しません。',
  'twitter.page.confirm-button': '@{username} と連携',
  'twitter.page.not-you': '自分の Discord アカウントではありませんか？このタブを閉じてください。',
  'twitter.page.too-large': 'リクエストが大きすぎます。',
  'twitter.page.not-a-form': '確認ページのボタンを使ってください。',
  'twitter.page.linked-title': '@{screenName} を連携しました',
  'twitter.page.linked': 'X アカウント @{screenName} を Discord アカウント {account} と連携しました。このタブを閉じて Discord に戻ってください。',
} satisfies AreaOf<typeof english>;
