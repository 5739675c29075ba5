/** Japanese words put into other sentences' parameters (see ../en-US/words.ts). */
import type enUS from '../en-US/words.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'format.jpeg': 'JPEG 画像',
  'format.png': 'PNG 画像',
  'format.gif': 'GIF 画像',
  'format.webp': 'WebP 画像',
  'format.heic': 'HEIC 画像',
  'format.avif': 'AVIF 画像',
  'format.tiff': 'TIFF 画像',
  'format.svg': 'SVG 画像',
  'format.bmp': 'BMP 画像',
  'format.jp2': 'JPEG 2000 画像',
  'format.jxl': 'JPEG XL 画像',
  'format.ico': 'ICO アイコン',
  'format.psd': 'Photoshop ドキュメント',
  'format.pdf': 'PDF ドキュメント',
  'format.video': '動画',

  'layout.png': '{bitDepth} ビット PNG',
  'layout.interlaced-png': 'インターレース {bitDepth} ビット PNG',
  'layout.jpeg': 'JPEG',
  'layout.progressive-jpeg': 'プログレッシブ JPEG',
  'layout.gif': 'GIF',
  'layout.animated-gif': 'アニメーション GIF',
  'layout.webp': 'WebP',
  'layout.lossless-webp': 'ロスレス WebP',
  'layout.animated-webp': 'アニメーション WebP',

  'cron.field.second': '秒',
  'cron.field.minute': '分',
  'cron.field.hour': '時',
  'cron.field.day-of-month': '日',
  'cron.field.month': '月',
  'cron.field.day-of-week': '曜日',
  'cron.example.second': '0',
  'cron.example.minute': '30',
  'cron.example.hour': '9',
  'cron.example.day-of-month': '1',
  'cron.example.month': '12 または dec',
  'cron.example.day-of-week': '1 または mon',

  // As Discord's Japanese client names them.
  'discord.permission.ViewChannel': 'チャンネルを見る',
  'discord.permission.SendMessages': 'メッセージを送信',
  'discord.permission.EmbedLinks': '埋め込みリンク',
  'discord.permission.AttachFiles': 'ファイルを添付',
  'discord.permission.ReadMessageHistory': 'メッセージ履歴を読む',
  'discord.permission.ManageGuild': 'サーバー管理',
} as const satisfies AreaOf<typeof enUS>;
