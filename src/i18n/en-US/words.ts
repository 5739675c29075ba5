/**
 * English words put into other sentences' parameters (see ../catalogue.ts and ../render-error.ts
 * `formatParams`): image formats and layouts, cron fields, Discord permission names. The core hands over ids
 * (`bmp`, `interlaced-png`, `day-of-month`, `EmbedLinks`); each locale names them here.
 */
export default {
  // src/avatar/formats.ts: "That file is {format}". Format names that are names (JPEG, WebP, HEIC) stay as they are in every language.
  'format.jpeg': 'a JPEG image',
  'format.png': 'a PNG image',
  'format.gif': 'a GIF image',
  'format.webp': 'a WebP image',
  'format.heic': 'a HEIC image',
  'format.avif': 'an AVIF image',
  'format.tiff': 'a TIFF image',
  'format.svg': 'an SVG image',
  'format.bmp': 'a BMP image',
  'format.jp2': 'a JPEG 2000 image',
  'format.jxl': 'a JPEG XL image',
  'format.ico': 'an ICO icon',
  'format.psd': 'a Photoshop document',
  'format.pdf': 'a PDF document',
  'format.video': 'a video',

  // src/avatar/structure.ts: "That image ({width}x{height}, {layout}) would need …"; with the file's {bitDepth}.
  'layout.png': '{bitDepth}-bit PNG',
  'layout.interlaced-png': 'interlaced {bitDepth}-bit PNG',
  'layout.jpeg': 'JPEG',
  'layout.progressive-jpeg': 'progressive JPEG',
  'layout.gif': 'GIF',
  'layout.animated-gif': 'animated GIF',
  'layout.webp': 'WebP',
  'layout.lossless-webp': 'lossless WebP',
  'layout.animated-webp': 'animated WebP',

  // src/schedule/cron.ts: "The {cronField} field …", with an example value for it
  'cron.field.second': 'second',
  'cron.field.minute': 'minute',
  'cron.field.hour': 'hour',
  'cron.field.day-of-month': 'day of month',
  'cron.field.month': 'month',
  'cron.field.day-of-week': 'day of week',
  'cron.example.second': '0',
  'cron.example.minute': '30',
  'cron.example.hour': '9',
  'cron.example.day-of-month': '1',
  'cron.example.month': '12 or dec',
  'cron.example.day-of-week': '1 or mon',

  // Discord's permission names as its English client shows them (src/bot/notify.ts, commands/branding)
  'discord.permission.ViewChannel': 'View Channels',
  'discord.permission.SendMessages': 'Send Messages',
  'discord.permission.EmbedLinks': 'Embed Links',
  'discord.permission.AttachFiles': 'Attach Files',
  'discord.permission.ReadMessageHistory': 'Read Message History',
  'discord.permission.ManageGuild': 'Manage Server',
} as const;
