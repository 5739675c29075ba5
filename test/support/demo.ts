/**
 * `npm run demo`: the bot against the local Discord- and X-compatible servers, no credentials needed.
 * Links a demo account with the PIN flow, runs /avatar set with a bundled photo, stores a kit with
 * /library kit (an avatar, a banner and a name tag), applies it, then reverts each part; prints the
 * conversation and X's profile after each step, and writes the avatar X received and a preview of the
 * banner as X shows it to demo-output/ (or the directory given as the first argument).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { bannerPreview } from '../../src/avatar/banner.js';
import type { PartResults } from '../../src/avatar/changes.js';
import type { ProfilePart } from '../../src/profile/parts.js';
import { startHarness, type Harness } from './bot-harness.js';
import type { Message } from './discord-server.js';

/** The bundled photos, found from this file (src or dist) whatever the working directory. */
const FIXTURES = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../../../test/fixtures/images/sharp' : '../fixtures/images/sharp');
const SAMPLE = 'test/fixtures/images/sharp/Landscape_5.jpg';
const KIT_AVATAR = '4.webp';
const KIT_BANNER = 'concert.jpg';
const NAME_TAG = '{name} | Team Nova';
const OUTPUT = resolve(process.argv[2] ?? 'demo-output');

const say = (who: string, text: string) => console.log(`${who.padEnd(8)}${text.split('\n').join(`\n${' '.repeat(8)}`)}`);

interface Button {
  type: number;
  label?: string;
  url?: string;
  custom_id?: string;
}

/** Buttons of a message, link buttons included. */
const buttonsOf = (message: Message): Button[] =>
  (message.components as unknown as Array<{ components?: Button[] }>).flatMap((row) => row.components ?? []).filter((component) => component.type === 2);

function describe(message: Message): string {
  const parts = [message.content];
  for (const embed of message.embeds) parts.push(`[embed] ${embed.title ?? ''}: ${embed.description ?? ''}`);
  for (const button of buttonsOf(message)) parts.push(`[button] ${button.label ?? ''}${button.url ? ` -> ${button.url}` : ''}`);
  return parts.filter(Boolean).join('\n');
}

/** X's profile of the demo account as anyone would see it now. */
function showProfile(h: Harness, xUserId: string, when: string): void {
  const profile = h.x.profile(xUserId);
  console.log(`\nX shows @demo_user ${when}:`);
  console.log(`  name    ${profile.name}`);
  console.log(`  bio     ${profile.description || '(empty)'}`);
  console.log(`  avatar  ${h.x.profileImageUrl(xUserId)}`);
  console.log(`  banner  ${h.x.profileBannerUrl(xUserId) ?? '(none)'}`);
}

function showResults(results: PartResults): void {
  for (const [part, result] of Object.entries(results)) {
    if (!('applied' in result)) {
      say('kit', `${part}: not changed (${result.error instanceof Error ? result.error.message : String(result.error)})`);
      continue;
    }
    const { user } = result.applied;
    const shown = part === 'name' ? `"${user.name}"` : part === 'bio' ? `"${user.description ?? ''}"` : 'the new image';
    say('kit', `${part}: X shows ${shown} (one recorded change, in the ${part} history)`);
  }
}

/** A kit stored with /library kit, applied as a schedule or a team push applies one, then each part reverted. */
async function kitDemo(h: Harness, you: Parameters<Harness['linkUser']>[0], xUserId: string): Promise<void> {
  const avatarPhoto = readFileSync(resolve(FIXTURES, KIT_AVATAR));
  const bannerPhoto = readFileSync(resolve(FIXTURES, KIT_BANNER));
  console.log('');
  say('you', `/library kit name:team-nova avatar:${KIT_AVATAR} banner:${KIT_BANNER} name-template:${NAME_TAG}`);
  const store = await h.discord.slash(you, {
    name: 'library',
    subcommand: 'kit',
    options: {
      name: 'team-nova',
      avatar: { attachment: { filename: KIT_AVATAR, bytes: avatarPhoto } },
      banner: { attachment: { filename: KIT_BANNER, bytes: bannerPhoto } },
      'name-template': NAME_TAG,
    },
  });
  say('bot', describe(await store.waitForReply((message) => message.content.length > 0, 30_000)));
  showProfile(h, xUserId, 'before the kit');

  const kit = await h.services.library.getKit(you.id, 'team-nova');
  if (!kit) throw new Error('the kit was not stored');
  console.log('\nThe kit is applied the way a schedule or a team push applies one (services.kits.apply): one');
  console.log('recorded change per part, {name} filled with the name the user had before the bot.');
  showResults(await h.services.kits.apply(you.id, kit, 'upload', 'kit team-nova'));
  showProfile(h, xUserId, 'with the kit');

  // What X shows: the banner it received, with the avatar it received in its circle (web and phone layouts).
  const banner = h.x.banners.at(-1)!;
  const avatar = h.x.uploads.at(-1)!;
  const previewPath = resolve(OUTPUT, 'banner-preview.png');
  writeFileSync(previewPath, await bannerPreview(banner.bytes, avatar.bytes));
  writeFileSync(resolve(OUTPUT, `banner.${banner.format === 'jpeg' ? 'jpg' : banner.format}`), banner.bytes);
  console.log(`X received a ${banner.width}x${banner.height} ${banner.format.toUpperCase()} banner of ${banner.bytes.length} bytes; how the profile looks: ${previewPath}`);

  console.log('');
  for (const part of ['name', 'banner', 'avatar'] as const satisfies readonly ProfilePart[]) {
    const reverted = await h.services.avatars.revertPart(you.id, part);
    const back = reverted.restoredOriginal ? 'the one from before the bot' : `the previous one (${reverted.entry?.label ?? ''})`;
    say('revert', `${part}: back to ${back}`);
  }
  showProfile(h, xUserId, 'after reverting each part');
}

async function main(): Promise<void> {
  console.log('Starting a Discord-compatible server, an X-compatible server and the bot on 127.0.0.1…\n');
  const h = await startHarness({ env: { TWITTER_PROCESSING_DELAY_MS: '1000' }, x: { processingDelayMs: 500 } });
  try {
    const you = h.discord.addMember({ username: 'you' });
    const xAccount = h.x.addUser({ screenName: 'demo_user', name: 'Ana' });

    say('you', '/twitter link');
    const link = await h.discord.slash(you, { name: 'twitter', subcommand: 'link' });
    const prompt = await link.waitForReply((message) => message.content.includes('PIN'));
    say('bot', `${describe(prompt)}\n(only you can see this)`);
    const authorize = buttonsOf(prompt).find((button) => button.url);
    const requestToken = new URL(String(authorize?.url)).searchParams.get('oauth_token')!;
    const { verifier } = h.x.approve(requestToken, xAccount.id);
    say('X', `@demo_user authorises avatar-bot; X shows the PIN ${verifier}`);
    const pinButton = buttonsOf(prompt).find((button) => button.custom_id?.startsWith('twitter:pin:'));
    const click = await link.click(String(pinButton?.custom_id));
    const modal = await click.waitForModal();
    say('you', `clicks Enter PIN; the "${modal.title}" form opens; types ${verifier}`);
    const submitted = await click.submitModal({ pin: verifier });
    say('bot', describe(await submitted.waitForReply()));

    const photo = readFileSync(resolve(FIXTURES, SAMPLE.split('/').pop()!));
    const meta = await sharp(photo).metadata();
    say('you', `/avatar set image:${SAMPLE.split('/').pop()} (${meta.width}x${meta.height} JPEG, EXIF orientation ${meta.orientation})`);
    const set = await h.discord.slash(you, { name: 'avatar', subcommand: 'set', options: { image: { attachment: { filename: 'photo.jpg', bytes: photo } } } });
    await set.waitForAck();
    say('bot', `(thinking… deferred after ${Math.round(set.ackMs ?? 0)} ms; downloads, normalises, uploads, waits for X to process)`);
    const reply = await set.waitForReply((message) => message.embeds.length > 0 || message.content.length > 0, 30_000);
    say('bot', describe(reply));

    const upload = h.x.uploads.at(-1)!;
    const signed = h.x.requests.filter((request) => request.oauthParams);
    console.log(`\nX received a ${upload.width}x${upload.height} ${upload.format.toUpperCase()} of ${upload.bytes.length} bytes; ${signed.filter((r) => r.authOk).length}/${signed.length} requests carried a valid OAuth 1.0a signature.`);
    mkdirSync(OUTPUT, { recursive: true });
    const avatarPath = resolve(OUTPUT, `avatar.${upload.format === 'jpeg' ? 'jpg' : upload.format}`);
    writeFileSync(avatarPath, upload.bytes);
    console.log(`The processed image is at ${avatarPath}`);

    await kitDemo(h, you, xAccount.id);
  } finally {
    await h.close();
  }
}

main().catch((error: unknown) => {
  console.error(`error: the demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
