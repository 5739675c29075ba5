/** ja words for the library area: the same keys as ../en-US/library.ts. */
import type english from '../en-US/library.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'command.library.description': 'スケジュールで使う名前付きの画像',
  'command.library.add.description': '画像に名前を付けて保存します',
  'command.library.add.name.description': 'winter や birthday のような名前',
  'command.library.add.image.description': 'JPG、PNG、GIF、WebP の画像',
  'command.library.add.crop.description': '正方形にする方法（既定: 最も目を引く部分を中心に）',
  'command.library.add.crop.choice.attention': '注目（最も目を引く部分）',
  'command.library.add.crop.choice.centre': '中央',
  'command.library.add.crop.choice.contain': '全体（画像全体を背景の上に）',
  'command.library.add.background.description': '全体表示や透過部分の背景色（例: #1da1f2）',
  'command.library.list.description': '画像の一覧を表示します',
  'command.library.remove.description': '画像を削除します',
  'command.library.remove.name.description': '削除する画像',

  'library.saved': '「{name}」をライブラリに保存しました。/スケジュール シーズン などのスケジュールで使えます。',
  'library.empty': 'ライブラリは空です。/ライブラリ 追加 で画像を追加してください。',
  'library.count_one': 'ライブラリに {count} 枚の画像があります。',
  'library.count_other': 'ライブラリに {count} 枚の画像があります。',
  'library.also': 'ほかに: {names}',
  'library.added': '{date} に追加',
  'library.removed': '「{name}」を削除しました。',
  'library.removed-in-use_one': '「{name}」を削除しました。{count} 件のスケジュールがこの画像を使っており、実行時に一時停止します。',
  'library.removed-in-use_other': '「{name}」を削除しました。{count} 件のスケジュールがこの画像を使っており、実行時に一時停止します。',
} satisfies AreaOf<typeof english>;
