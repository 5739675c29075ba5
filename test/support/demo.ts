/**
 * `npm run demo`: the bot against the local Discord- and X-compatible servers, no credentials needed.
 * Links a demo account with the PIN flow, runs /avatar set with a bundled photo, prints the
 * conversation and writes the processed image to demo-output/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { startHarness } from './bot-harness.js';
import type { Message } from './discord-server.js';

const SAMPLE = 'test/fixtures/images/sharp/Landscape_5.jpg';
const OUTPUT = resolve('demo-output');

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

async function main(): Promise<void> {
  console.log('Starting a Discord-compatible server, an X-compatible server and the bot on 127.0.0.1…\n');
  const h = await startHarness({ env: { TWITTER_PROCESSING_DELAY_MS: '1000' }, x: { processingDelayMs: 500 } });
  try {
    const you = h.discord.addMember({ username: 'you' });
    const xAccount = h.x.addUser({ screenName: 'demo_user' });

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

    const photo = readFileSync(SAMPLE);
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
  } finally {
    await h.close();
  }
}

main().catch((error: unknown) => {
  console.error(`error: the demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
