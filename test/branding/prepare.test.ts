/**
 * A push's upload slots (BRANDING_CONCURRENCY) are held for the upload only: checking a member and saving
 * their original (verify_credentials, download of their avatar, sharp, store) is the prepare stage, which
 * runs ahead of the slots. Through the real bot: /branding push, confirmed, against the local servers;
 * what overlaps is counted at the X server's request hooks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/bot-harness.js';
import type { TestUser } from '../support/discord-server.js';
import { X_PATHS, xFaults, type FakeXUser } from '../support/x-server.js';

const CONCURRENCY = 2;
const MANAGE_GUILD = 1n << 5n;
let h: Harness;
let admin: TestUser;
let photo: Buffer;

beforeAll(async () => {
  h = await startHarness({ env: { BRANDING_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: 'warn' } });
  admin = h.discord.addMember({ username: 'admin', permissions: MANAGE_GUILD });
  photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#8338ec' } }).jpeg().toBuffer();
});
afterAll(async () => {
  h.x.setRequestHook(undefined);
  await h?.close();
});

/** Members linked to X and opted in, in this order (a push takes them in this order). */
async function optedIn(count: number, prefix: string): Promise<Array<{ user: TestUser; account: FakeXUser }>> {
  const members = [];
  for (let i = 0; i < count; i++) {
    const user = h.discord.addMember({ username: `${prefix}${i}` });
    const account = await h.linkUser(user, `${prefix}${i}_x`);
    await h.services.branding.consent.join(h.discord.guild.id, user.id);
    members.push({ user, account });
  }
  return members;
}

/** /branding push, confirmed; resolves with the final report. */
async function push(label: string): Promise<string> {
  const command = await h.discord.slash(admin, { name: 'branding', subcommand: 'push', options: { image: { attachment: { filename: 'team.jpg', bytes: photo } }, label } });
  const preview = await command.waitForReply((message) => message.content.includes('Push it?'), 30_000);
  const confirm = /"custom_id":"(branding-push-confirm:[^"]+)"/.exec(JSON.stringify(preview.components))![1]!;
  const click = await command.click(confirm);
  return (await click.waitForReply((message) => message.content.startsWith('Pushed'), 60_000)).content;
}

it('while one member’s original is being saved (X holds the download of their avatar), both upload slots carry on with other members', async () => {
  const members = await optedIn(8, 'held');
  const stuck = members[0]!; // the first member: the first one prepared
  let inFlight = 0; // uploads X received and has not applied yet
  let capturing = false; // the stuck member's avatar download is being held
  let maxWhileCapturing = 0;
  let appliedWhileCapturing = 0;
  let releaseCapture: () => void = () => {};
  const captureHeld = new Promise<void>((resolve) => (releaseCapture = resolve));
  // An upload waits (3 s at most) for a second one: two in flight at once whenever two slots are free.
  let pairWaiters: Array<() => void> = [];
  h.x.resetMaxUploadsInFlight();
  h.x.setRequestHook(async ({ method, path, stage }) => {
    if (path === X_PATHS.updateProfileImage && stage === 'received') {
      inFlight++;
      if (capturing) maxWhileCapturing = Math.max(maxWhileCapturing, inFlight);
      if (inFlight >= CONCURRENCY) {
        for (const wake of pairWaiters) wake();
        pairWaiters = [];
      } else {
        await Promise.race([new Promise<void>((resolve) => pairWaiters.push(resolve)), sleep(3_000)]);
      }
    } else if (path === X_PATHS.updateProfileImage && stage === 'applied') {
      inFlight--;
      if (capturing && ++appliedWhileCapturing >= 6) releaseCapture();
    } else if (method === 'GET' && path.startsWith(`/profile_images/${stuck.account.id}/`) && !capturing && appliedWhileCapturing === 0) {
      capturing = true;
      await captureHeld;
      capturing = false;
    }
  });

  const report = await push('held capture');
  h.x.setRequestHook(undefined);

  expect(report).toBe('Pushed "held capture": 8 succeeded, 0 failed, 0 skipped. The full report is attached.');
  // The old runner held a slot through the member's original: one slot stuck, uploads one at a time meanwhile.
  expect(appliedWhileCapturing).toBeGreaterThanOrEqual(6);
  expect(maxWhileCapturing).toBe(CONCURRENCY);
  expect(h.x.maxUploadsInFlight).toBeLessThanOrEqual(CONCURRENCY);
  for (const { account } of members) expect(h.x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(1);
  // The stuck member's original was saved once the download went through, before their upload.
  const { original, entries } = await h.services.avatars.history(stuck.user.id);
  expect(original).toMatchObject({ saved: true });
  expect(entries.map((entry) => entry.source)).toEqual(['branding']);
}, 90_000);

it('a member whose upload X refuses after their original was saved ahead is left as before: no original, no entry', async () => {
  const [member] = await optedIn(1, 'refused');
  const { user, account } = member!;
  const consent = h.services.branding.consent;
  for (const other of await consent.members(h.discord.guild.id)) if (other !== user.id) await consent.leave(h.discord.guild.id, other);
  // X holds the upload a second, then refuses the image; meanwhile the test looks at the member's history.
  h.x.fail(xFaults.imageRejected(X_PATHS.updateProfileImage, undefined, { hangMs: 1_000 }));
  const pushed = push('refused');
  const uploadArrived = async () => {
    while (!h.x.requests.some((request) => request.path === X_PATHS.updateProfileImage && request.oauthParams?.oauth_token === account.accessToken.token)) await sleep(10);
  };
  await Promise.race([uploadArrived(), pushed]);
  const originalAtUpload = (await h.services.avatars.history(user.id)).original;
  const report = await pushed;
  h.x.clearFaults();

  expect(report).toBe('Pushed "refused": 0 succeeded, 1 failed (X rejected the image (X said: “media type unrecognized”).), 0 skipped. The full report is attached.');
  // The prepare stage saved it before the upload …
  expect(originalAtUpload).toMatchObject({ saved: true });
  const hash = (originalAtUpload as { hash: string }).hash;
  // … and the refusal took it back, image and all, as if the push had not happened.
  expect(await h.services.avatars.history(user.id)).toEqual({ entries: [] });
  expect(await h.services.avatars.historyImage(user.id, hash)).toBeUndefined();
  expect(h.x.uploads.filter((upload) => upload.userId === account.id)).toHaveLength(0);
}, 60_000);
