/**
 * `npm run bench -- branding [kit] [concurrency…]`: an admin runs /branding push of a photo to 500 members, on
 * the real bot (discord.js client, services, commands) against the local Discord- and X-compatible
 * servers, with production settings:
 * - X's processing wait is the default 5000 ms (the bot waits it out; the server shows the new URL only
 *   then), every upload takes 200 ms at X, every profile read (verify_credentials, users/show) 50 ms, and
 *   every download of a member's current avatar 50 ms; 10% of first upload attempts get 429 (reset 2 s
 *   later; the bot waits at least RATE_LIMIT_MIN_WAIT_MS after a 429).
 * - The membership check before each upload asks the Discord-compatible server, as in production.
 * - The team image is normalised by the command; normalisations are counted where the bot makes them
 *   (the normaliser the services use, wrapped), keyed by the content hash of their input, from the
 *   command to the final report.
 *
 * With `kit`: the push is a kit of the admin's library (avatar, banner and the name tag "{name} | Team Nova")
 * to members who allowed those three parts: per member an avatar upload, a banner upload (200 ms each at X)
 * and an update_profile (200 ms), each its own recorded change.
 *
 * Timed: from the admin's confirm click to the "Pushed …" report. Target: within 1.25x of ideal, where
 * ideal = members × the X latency of every upload of a member / concurrency + one processing wait + the 429 wait.
 * Several concurrencies may be given (`npm run bench -- branding 2 4 8`); each runs on a fresh bot.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DEFAULT_BRANDING_CONCURRENCY } from '../src/branding/push.js';
import { RATE_LIMIT_MIN_WAIT_MS } from '../src/x/rate-limit.js';
import { startHarness } from '../test/support/bot-harness.js';
import { X_PATHS } from '../test/support/x-server.js';
import type { OptionValue } from '../test/support/discord-server/types.js';
import { printFigures, printTable, round } from './report.js';

const MEMBERS = Number(process.env.BRANDING_MEMBERS ?? 500);
const PROCESSING_DELAY_MS = 5000; // the production default (TWITTER_PROCESSING_DELAY_MS)
const UPLOAD_MS = 200;
const READ_MS = 50;
const DOWNLOAD_MS = 50;
const RESET_MS = 2000;
const RATE_LIMITED_FRACTION = 0.1;
const PROFILE_WRITE_MS = 200;
const MANAGE_GUILD = 1n << 5n;
const KIT_PARTS = ['avatar', 'banner', 'name'] as const;

interface Figures {
  members: number;
  done: number;
  failed: number;
  normalisations: number;
  seconds: number;
  ideal_seconds: number;
  concurrency: number;
  ratio: number;
  rate_limited: number;
  original_normalisations: number;
  processing_delay_ms: number;
  kit: boolean;
  /** X requests that change a member: avatar and banner uploads, update_profile. */
  writes: number;
  banner_normalisations: number;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function push(concurrency: number, kit: boolean): Promise<Figures> {
  const h = await startHarness({
    env: { TWITTER_PROCESSING_DELAY_MS: String(PROCESSING_DELAY_MS), BRANDING_CONCURRENCY: String(concurrency), LOG_LEVEL: 'warn' },
    x: { processingDelayMs: PROCESSING_DELAY_MS, uploadLatencyMs: UPLOAD_MS, readLatencyMs: READ_MS, downloadLatencyMs: DOWNLOAD_MS, profileWriteLatencyMs: PROFILE_WRITE_MS },
  });
  try {
    const photo = readFileSync('test/fixtures/images/sharp/concert.jpg');
    // Every normalisation the bot makes, by the content hash of what it was given.
    const normalised = new Map<string, number>();
    const normalize = h.services.normalizer.normalize.bind(h.services.normalizer);
    h.services.normalizer.normalize = (input, options) => {
      const hash = sha256(input);
      normalised.set(hash, (normalised.get(hash) ?? 0) + 1);
      return normalize(input, options);
    };
    let bannerNormalisations = 0;
    const banner = h.services.normalizer.banner.bind(h.services.normalizer);
    h.services.normalizer.banner = (input, options) => {
      bannerNormalisations++;
      return banner(input, options);
    };

    const admin = h.discord.addMember({ username: 'admin', permissions: MANAGE_GUILD });
    const guildId = h.discord.guild.id;
    const accounts: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const member = h.discord.addMember({ username: `fan${i}` });
      accounts.push((await h.linkUser(member, `fan${i}`)).id);
      await h.services.branding.consent.join(guildId, member.id, kit ? KIT_PARTS : undefined);
    }
    if (kit) {
      // The admin's kit, made as /library kit makes it (not timed).
      const [avatar, wide] = await Promise.all([h.services.normalizer.normalize(photo), h.services.normalizer.banner(photo)]);
      await h.services.library.addKit(admin.id, 'nova', { avatar: { data: avatar.data, format: avatar.format }, banner: { data: wide.data, format: wide.format }, nameTemplate: '{name} | Team Nova' });
      normalised.clear();
      bannerNormalisations = 0;
    }
    h.x.rateLimitFirstAttempts({ fraction: RATE_LIMITED_FRACTION, resetAfterMs: RESET_MS });
    const requestsBefore = h.x.requests.length;

    const pushed: Record<string, OptionValue> = kit ? { kit: 'nova', label: 'bench' } : { image: { attachment: { filename: 'team.jpg', bytes: photo } }, label: 'bench' };
    const command = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: pushed });
    const preview = await command.waitForReply((message) => message.content.includes('Push it?') || message.content.startsWith('Nobody'), 120_000);
    const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(preview.components))?.[1];
    if (!confirm) throw new Error(`no confirm button: ${preview.content}`);
    const started = performance.now();
    const click = await command.click(confirm);
    const report = await click.waitForReply((message) => message.content.startsWith('Pushed'), 3_600_000);
    const seconds = (performance.now() - started) / 1000;

    const uploads = h.x.uploads;
    const perMember = new Map<string, number>();
    for (const upload of uploads) perMember.set(upload.userId, (perMember.get(upload.userId) ?? 0) + 1);
    // The team image: the attachment as sent, and what the bot made of it (the bytes X received).
    const teamHashes = new Set([sha256(photo), ...uploads.map((upload) => sha256(upload.bytes))]);
    let team = 0;
    let others = 0;
    for (const [hash, count] of normalised) {
      if (teamHashes.has(hash)) team += count;
      else others += count;
    }
    const requests = h.x.requests.slice(requestsBefore);
    const count = (path: string, status?: number) => requests.filter((request) => request.path === path && (status === undefined || request.status === status)).length;
    const limited = count(X_PATHS.updateProfileImage, 429);
    const rateLimitWaitS = limited > 0 ? Math.max(RESET_MS, RATE_LIMIT_MIN_WAIT_MS) / 1000 : 0;
    // Every write of a member at X's latency: one avatar upload, or with a kit also a banner and an update_profile.
    const memberWriteMs = kit ? UPLOAD_MS + UPLOAD_MS + PROFILE_WRITE_MS : UPLOAD_MS;
    const ideal = (MEMBERS * memberWriteMs) / 1000 / concurrency + PROCESSING_DELAY_MS / 1000 + rateLimitWaitS;
    const writes = h.x.uploads.length + h.x.banners.length + count(X_PATHS.updateProfile, 200);
    const namesTagged = accounts.filter((id) => h.x.profile(id).name.endsWith(' | Team Nova')).length;
    const done = Number(/(\d+) succeeded/.exec(report.content)?.[1] ?? 0);
    const failed = Number(/(\d+) failed/.exec(report.content)?.[1] ?? 0);
    const memberChecks = h.discord.calls.filter((call) => call.method === 'GET' && /\/guilds\/\d+\/members\/\d+$/.test(call.path)).length;

    printTable(
      `/branding push of ${kit ? 'a kit (avatar, banner, name tag)' : 'an image'} to ${MEMBERS} members, concurrency ${concurrency}; X: uploads ${UPLOAD_MS} ms, update_profile ${PROFILE_WRITE_MS} ms, reads ${READ_MS} ms, avatar downloads ${DOWNLOAD_MS} ms, processing wait ${PROCESSING_DELAY_MS} ms (production default), ${RATE_LIMITED_FRACTION * 100}% of first attempts 429`,
      ['measure', 'value', 'target'],
      [
        ['report', report.content.split('\n')[0]!, ''],
        ['members uploaded exactly once at X', `${[...perMember.values()].filter((n) => n === 1).length} (max ${Math.max(0, ...perMember.values())} per member)`, String(MEMBERS)],
        ...(kit
          ? [
              ['banners uploaded / names tagged "… | Team Nova"', `${h.x.banners.length} / ${namesTagged}`, `${MEMBERS} / ${MEMBERS}`],
              ['banner normalisations (command to report)', bannerNormalisations, 0],
            ]
          : []),
        ['X writes (avatar + banner uploads + update_profile, answered 200)', writes, ''],
        // A kit's images were normalised when it was stored (/library kit); an image is normalised once by the command.
        ['team image normalisations (by content hash, command to report)', team, kit ? 0 : 1],
        ["members' originals normalised (saving the avatar from before)", others, ''],
        ['answered 429, then retried after the wait', limited, ''],
        ['X requests: upload POSTs / verify_credentials / users/show / avatar downloads', `${count(X_PATHS.updateProfileImage)} / ${count(X_PATHS.verifyCredentials)} / ${count(X_PATHS.usersShow)} / ${requests.filter((r) => r.path.startsWith('/profile_images/')).length}`, ''],
        ['membership checks at the Discord server (GET member)', memberChecks, ''],
        ['wall time, confirm to report (s)', round(seconds), `<= ${round(ideal * 1.25)}`],
        [`ideal: ${MEMBERS} x ${memberWriteMs / 1000} s / ${concurrency} + ${PROCESSING_DELAY_MS / 1000} s wait + ${rateLimitWaitS} s 429 wait (s)`, round(ideal), ''],
        ['wall / ideal', round(seconds / ideal), '<= 1.25'],
        ['worker time per member (ms): wall x concurrency / members', round((seconds * 1000 * concurrency) / MEMBERS), ''],
      ],
    );
    return {
      members: MEMBERS,
      done,
      failed,
      normalisations: team,
      seconds: round(seconds),
      ideal_seconds: round(ideal),
      concurrency,
      ratio: round(seconds / ideal),
      rate_limited: limited,
      original_normalisations: others,
      processing_delay_ms: PROCESSING_DELAY_MS,
      kit,
      writes,
      banner_normalisations: bannerNormalisations,
    };
  } finally {
    await h.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const kit = args.includes('kit');
  const numbers = args.filter((arg) => arg !== 'kit').map(Number);
  const concurrencies = numbers.length ? numbers : [DEFAULT_BRANDING_CONCURRENCY];
  const figures: Figures[] = [];
  for (const concurrency of concurrencies) figures.push(await push(concurrency, kit));
  if (figures.length > 1) {
    printTable('Concurrency sweep', ['concurrency', 'seconds', 'ideal', 'ratio', 'done'], figures.map((f) => [f.concurrency, f.seconds, f.ideal_seconds, f.ratio, f.done]));
  }
  const { members, done, failed, normalisations, seconds, ideal_seconds, ...rest } = figures.at(-1)!;
  printFigures({ members, done, failed, normalisations, seconds, ideal_seconds, ...rest });
}
