/** German words put into other sentences' parameters (see ../en-US/words.ts). */
import type enUS from '../en-US/words.js';
import type { AreaOf } from '../catalogue.js';

export default {
  'format.jpeg': 'ein JPEG-Bild',
  'format.png': 'ein PNG-Bild',
  'format.gif': 'ein GIF-Bild',
  'format.webp': 'ein WebP-Bild',
  'format.heic': 'ein HEIC-Bild',
  'format.avif': 'ein AVIF-Bild',
  'format.tiff': 'ein TIFF-Bild',
  'format.svg': 'ein SVG-Bild',
  'format.bmp': 'ein BMP-Bild',
  'format.jp2': 'ein JPEG-2000-Bild',
  'format.jxl': 'ein JPEG-XL-Bild',
  'format.ico': 'ein ICO-Symbol',
  'format.psd': 'ein Photoshop-Dokument',
  'format.pdf': 'ein PDF-Dokument',
  'format.video': 'ein Video',

  // "interlaced" as in error.too-complex.memory's "nicht-interlaced PNG".
  'layout.png': 'PNG mit {bitDepth} Bit',
  'layout.interlaced-png': 'Interlaced-PNG mit {bitDepth} Bit',
  'layout.jpeg': 'JPEG',
  'layout.progressive-jpeg': 'progressives JPEG',
  'layout.gif': 'GIF',
  'layout.animated-gif': 'animiertes GIF',
  'layout.webp': 'WebP',
  'layout.lossless-webp': 'verlustfreies WebP',
  'layout.animated-webp': 'animiertes WebP',

  'cron.field.second': 'Sekunde',
  'cron.field.minute': 'Minute',
  'cron.field.hour': 'Stunde',
  'cron.field.day-of-month': 'Tag des Monats',
  'cron.field.month': 'Monat',
  'cron.field.day-of-week': 'Wochentag',
  'cron.example.second': '0',
  'cron.example.minute': '30',
  'cron.example.hour': '9',
  'cron.example.day-of-month': '1',
  'cron.example.month': '12 oder dec',
  'cron.example.day-of-week': '1 oder mon',

  // As Discord's German client names them.
  'discord.permission.ViewChannel': 'Kanäle ansehen',
  'discord.permission.SendMessages': 'Nachrichten senden',
  'discord.permission.EmbedLinks': 'Links einbetten',
  'discord.permission.AttachFiles': 'Dateien anhängen',
  'discord.permission.ReadMessageHistory': 'Nachrichtenverlauf lesen',
  'discord.permission.ManageGuild': 'Server verwalten',
} as const satisfies AreaOf<typeof enUS>;
