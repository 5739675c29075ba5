import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountLinks } from '../src/accounts/links.js';
import { normalizeAvatar } from '../src/avatar/normalize.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createServices, type Services } from '../src/services.js';
import { createKeyedLock } from '../src/coordination/keyed-lock.js';
import { openStore } from '../src/store/backend.js';
import { createSecretBox, keyId } from '../src/store/cipher.js';
import { createTokenVault } from '../src/accounts/vault.js';
import { xClientFrom } from '../src/wiring.js';
import { startXServer, X_PATHS, xFaults, type FakeXUser, type XServer } from './support/x-server.js';
import { openRecords, type Records } from './support/records.js';
import { expectOneErrorLine, runCli, type Run, type RunOptions } from './cli/run.js';

const fixtures = resolve('test/fixtures/images');
const work = mkdtempSync(join(tmpdir(), 'avatar-bot-cli-'));

/** Run the built CLI in a clean environment (no .env in its working directory). */
const cli = (args: string[], options?: RunOptions) => runCli(work, args, options);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('avatar-bot normalize', () => {
  it('writes a 400x400 avatar and prints one JSON line', async () => {
    const out = join(work, 'flowers.jpg');
    const run = await cli(['normalize', join(fixtures, 'sharp/flowers.jpeg'), out, '--crop', 'centre']);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout);
    expect(printed).toEqual({ format: 'jpeg', width: 400, height: 400, bytes: readFileSync(out).length });
    const meta = await sharp(readFileSync(out)).metadata(); // a buffer: normalize.ts, imported here, blocks sharp's file loaders
    expect([meta.format, meta.width, meta.height, meta.exif, meta.icc]).toEqual(['jpeg', 400, 400, undefined, undefined]);
  });

  it('keeps transparency as PNG and fills contain margins with the background', async () => {
    const out = join(work, 'contain.jpg');
    const run = await cli(['normalize', join(fixtures, 'sharp/flowers.jpeg'), out, '--crop', 'contain', '--background', '#ff0000']);
    expect(run.code).toBe(0);
    const { data } = await sharp(readFileSync(out)).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(240); // top-left corner is in the red margin
    expect(data[1]).toBeLessThan(20);
  });

  it.each([
    ['a corrupt file', 'sharp/truncated.jpg', /corrupt|damaged|incomplete|read/i],
    ['a decompression bomb', 'sharp/giant-image.jpg', /pixels|megapixel|too large|MP/i],
    ['an unsupported format', 'sharp/G31D.TIF', /TIFF/],
    ['a missing file', 'no-such-file.png', /no such file/],
  ])('refuses %s with exit code 2 and one error line', async (_, file, pattern) => {
    const run = await cli(['normalize', join(fixtures, file), join(work, 'never.jpg')]);
    expectOneErrorLine(run, 2, pattern);
  });

  it.each([
    [['normalize', 'only-one-argument'], /expected <input> <output>/],
    [['normalize', 'a', 'b', '--crop', 'sideways'], /--crop must be one of/],
    [['normalize', 'a', 'b', '--bogus'], /Unknown option/],
    [['frobnicate'], /unknown command/],
  ])('rejects bad usage %j with exit code 2', async (args, pattern) => {
    expectOneErrorLine(await cli(args), 2, pattern);
  });

  it('writes a 1500x500 banner with --banner, on the background colour with contain', async () => {
    const out = join(work, 'banner.jpg');
    const run = await cli(['normalize', '--banner', join(fixtures, 'sharp/Landscape_6.jpg'), out, '--crop', 'contain', '--background', '#00ff00']);
    expect(run.code).toBe(0);
    const written = readFileSync(out);
    expect(JSON.parse(run.stdout)).toEqual({ format: 'jpeg', width: 1500, height: 500, bytes: written.length });
    expect(written.length).toBeLessThan(5_000_000);
    const meta = await sharp(written).metadata();
    expect([meta.format, meta.width, meta.height, meta.exif, meta.icc, meta.xmp]).toEqual(['jpeg', 1500, 500, undefined, undefined, undefined]);
    const { data } = await sharp(written).raw().toBuffer({ resolveWithObject: true });
    expect([data[0]! < 20, data[1]! > 235, data[2]! < 20]).toEqual([true, true, true]); // top-left: the green margin
  });

  it.each([
    ['a truncated file', 'sharp/truncated.png', /damaged or incomplete/],
    ['a decompression bomb', 'sharp/giant-image.jpg', /20000x14000 pixels/],
    ['an unsupported format', 'sharp/check.svg', /SVG/],
  ])('refuses %s as a banner with exit code 2 and one error line, writing nothing', async (_, file, pattern) => {
    const out = join(work, 'never-banner.jpg');
    const run = await cli(['normalize', '--banner', join(fixtures, file), out]);
    expectOneErrorLine(run, 2, pattern);
    expect(() => readFileSync(out)).toThrow(/ENOENT/);
  });

  it('loads neither discord.js, the store nor the X client', async () => {
    const run = await cli(['normalize', join(fixtures, 'sharp/2x2_fdcce6.png'), join(work, 'tiny.jpg')], {
      nodeArgs: ['--import', resolve('test/support/trace-imports.mjs')],
    });
    expect(run.code).toBe(0);
    const loaded = run.stderr.split('\n').filter((line) => line.startsWith('import: '));
    expect(loaded.some((url) => url.includes('/sharp/'))).toBe(true);
    expect(loaded.filter((url) => /discord|keyv|sqlite|redis|undici|oauth-1\.0a|typescript|tsx/.test(url))).toEqual([]);
  });
});

describe('avatar-bot against the X test server', () => {
  let server: XServer;
  let operator: FakeXUser;
  let env: Record<string, string>;
  const keyA = randomBytes(32).toString('base64');
  const keyB = randomBytes(32).toString('base64');
  const discordUser = '123456789012345678';
  const secretsSeen: string[] = [];
  const outputs: string[] = [];
  const record = (run: Run) => {
    outputs.push(run.stdout, run.stderr);
    return run;
  };

  beforeAll(async () => {
    server = await startXServer();
    operator = server.addUser({ screenName: 'operator' });
    secretsSeen.push(operator.accessToken.token, operator.accessToken.secret, server.consumer.secret);
    env = {
      TWITTER_API_URL: server.url,
      TWITTER_CONSUMER_KEY: server.consumer.key,
      TWITTER_CONSUMER_SECRET: server.consumer.secret,
      TWITTER_PROCESSING_DELAY_MS: '0',
      TOKEN_ENCRYPTION_KEY: keyA,
      STORE_URL: `sqlite://${join(work, 'store.sqlite')}`,
      X_IMAGE_HOSTS: new URL(server.url).host, // the original is read from the X server
    };
  });
  afterAll(() => server.close());

  it('set uploads to the operator account and prints the final 400x400 URL', async () => {
    const run = record(
      await cli(['set', join(fixtures, 'sharp/Landscape_6.jpg')], {
        env: { ...env, TWITTER_ACCESS_TOKEN: operator.accessToken.token, TWITTER_ACCESS_TOKEN_SECRET: operator.accessToken.secret },
      }),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const upload = server.uploads.at(-1)!;
    expect(upload).toMatchObject({ userId: operator.id, width: 400, height: 400, format: 'jpeg' });
    expect(run.stdout.trim()).toBe(server.profileImageUrl(operator.id).replace('_normal', '_400x400'));
    expect(server.requests.every((request) => request.oauthParams === null || request.authOk)).toBe(true);
  });

  it('set names a missing variable in one line', async () => {
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/flowers.jpeg')], { env }), 2, /^error: TWITTER_ACCESS_TOKEN is not set: .*avatar-bot link/);
    const { TWITTER_CONSUMER_SECRET: _, ...withoutSecret } = env;
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/flowers.jpeg')], { env: withoutSecret }), 2, /TWITTER_CONSUMER_SECRET is not set/);
  });

  it('set exits 1 with the reason when X refuses, and 2 for a bad image', async () => {
    const operatorEnv = { ...env, TWITTER_ACCESS_TOKEN: operator.accessToken.token, TWITTER_ACCESS_TOKEN_SECRET: operator.accessToken.secret };
    server.fail(xFaults.rateLimited(X_PATHS.updateProfileImage, Math.floor(Date.now() / 1000) + 300));
    expectOneErrorLine(record(await cli(['set', join(fixtures, 'sharp/flowers.jpeg')], { env: operatorEnv })), 1, /rate-limiting.*Try again in 5 minutes/);
    const uploads = server.uploads.length;
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/truncated.png')], { env: operatorEnv }), 2, /./);
    expect(server.uploads.length).toBe(uploads);
  });

  it('link --discord-user runs the PIN flow and stores the tokens encrypted', async () => {
    const linked = server.addUser({ screenName: 'dana' });
    const run = record(
      await cli(['link', '--discord-user', discordUser], {
        env: { ...env, LOG_LEVEL: 'trace' },
        stdin: (child, stderr) => {
          const timer = setInterval(() => {
            const match = /oauth_token=([^\s&]+)/.exec(stderr());
            if (!match || !stderr().includes('PIN')) return;
            clearInterval(timer);
            const { verifier } = server.approve(decodeURIComponent(match[1]!), linked.id);
            child.stdin!.end(`${verifier}\n`);
          }, 20);
        },
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Linked @dana to Discord user ${discordUser}\n`);

    const set = record(await cli(['set', join(fixtures, 'sharp/4.webp'), '--discord-user', discordUser], { env: { ...env, LOG_LEVEL: 'trace' } }));
    expect(set.code).toBe(0);
    expect(server.uploads.at(-1)?.userId).toBe(linked.id);
    expect(set.stdout.trim()).toBe(server.profileImageUrl(linked.id).replace('_normal', '_400x400'));
  });

  it('rotate-key re-encrypts under the new key; the old key alone then fails clearly', async () => {
    const rotated = { ...env, TOKEN_ENCRYPTION_KEY: keyB, TOKEN_ENCRYPTION_KEY_PREVIOUS: keyA };
    const run = await cli(['rotate-key'], { env: rotated });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ rewritten: 1, alreadyCurrent: 0, pendingLinks: { rewritten: 0, alreadyCurrent: 0 }, skipped: [] });

    const onlyNew = { ...env, TOKEN_ENCRYPTION_KEY: keyB };
    expect((await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', discordUser], { env: onlyNew })).code).toBe(0);
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', discordUser], { env }), 1, /encrypted with key \w+, which this bot does not have/);
  });

  it('unlink revokes the token at X and deletes the link', async () => {
    const onlyNew = { ...env, TOKEN_ENCRYPTION_KEY: keyB };
    const run = record(await cli(['unlink', '--discord-user', discordUser], { env: onlyNew }));
    expect(run.stdout).toBe('Unlinked @dana\n');
    expect(server.requests.at(-1)).toMatchObject({ path: X_PATHS.invalidateToken, status: 200 });
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', discordUser], { env: onlyNew }), 1, /has no linked X account/);
  });

  it('never prints or stores a token in clear text', () => {
    // Access tokens (user context), not request tokens: those appear in the authorize URL by design.
    const userContext = server.requests.filter((request) => request.path.startsWith('/1.1/'));
    const tokens = userContext.flatMap((request) => (request.oauthParams?.oauth_token ? [request.oauthParams.oauth_token] : []));
    secretsSeen.push(...new Set(tokens));
    const store = readFileSync(join(work, 'store.sqlite'));
    for (const secret of secretsSeen) {
      expect(outputs.join('\n')).not.toContain(secret);
      expect(store.includes(Buffer.from(secret))).toBe(false);
    }
    expect(secretsSeen.length).toBeGreaterThan(4);
    // The flows above ran with LOG_LEVEL=trace: the logs were there to search.
    const requestLogs = outputs.join('\n').split('\n').filter((line) => line.includes('"msg":"x request"'));
    expect(requestLogs.length).toBeGreaterThanOrEqual(4); // request_token, access_token, upload, verify_credentials
  });

  it('gen-key prints a fresh 32-byte key', async () => {
    const [a, b] = await Promise.all([cli(['gen-key']), cli(['gen-key'])]);
    expect(Buffer.from(a.stdout.trim(), 'base64')).toHaveLength(32);
    expect(a.stdout).not.toBe(b.stdout);
  });
});

describe('avatar-bot rotate-key and unlink with a damaged record', () => {
  let server: XServer;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const keyC = randomBytes(32); // a key the bot never had: its records are damaged for this bot
  const storeUrl = `sqlite://${join(work, 'rotate-damaged.sqlite')}`;
  const [good, legacy, damaged, pendingUser] = ['111111111111111111', '222222222222222222', '333333333333333333', '444444444444444444'];
  let env: Record<string, string>;
  let requestToken: string;
  const tokens: string[] = [];

  beforeAll(async () => {
    server = await startXServer();
    env = {
      TWITTER_API_URL: server.url,
      TWITTER_CONSUMER_KEY: server.consumer.key,
      TWITTER_CONSUMER_SECRET: server.consumer.secret,
      TWITTER_PROCESSING_DELAY_MS: '0',
      STORE_URL: storeUrl,
    };
    const store = await openStore(storeUrl);
    const oldBox = createSecretBox(keyA);
    for (const [user, box] of [[good, oldBox], [damaged, createSecretBox(keyC)]] as const) {
      const account = server.addUser({ screenName: `u${user.slice(0, 4)}` });
      tokens.push(account.accessToken.token, account.accessToken.secret);
      await createTokenVault(store, box).save(user, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    }
    // A record as the bot wrote it before v2: token and secret sealed one by one, the rest in clear.
    const old = server.addUser({ screenName: 'legacy' });
    tokens.push(old.accessToken.token, old.accessToken.secret);
    await store.namespace('tokens').set(legacy, {
      xUserId: old.id,
      screenName: 'legacy',
      token: oldBox.seal(old.accessToken.token, `tokens:${legacy}:token`),
      secret: oldBox.seal(old.accessToken.secret, `tokens:${legacy}:secret`),
      linkedAt: new Date().toISOString(),
      status: 'active',
    });
    // A /twitter link in progress, sealed with the old key.
    const config = parseConfig({ ...env, TOKEN_ENCRYPTION_KEY: keyA.toString('base64') });
    const x = xClientFrom(config);
    const links = createAccountLinks({ store, vault: createTokenVault(store, oldBox), box: oldBox, x, publicUrl: undefined, tokenLock: createKeyedLock(), forgetUser: async () => {} });
    requestToken = (await links.start(pendingUser, 'pin')).requestToken;
    await x.close();
    await store.close();
  });
  afterAll(() => server.close());

  it('re-seals every record that opens (links and pending links), reports the damaged one by user id, and exits 3', async () => {
    const run = await cli(['rotate-key'], { env: { ...env, TOKEN_ENCRYPTION_KEY: keyB.toString('base64'), TOKEN_ENCRYPTION_KEY_PREVIOUS: keyA.toString('base64') } });
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toEqual({
      rewritten: 2,
      alreadyCurrent: 0,
      pendingLinks: { rewritten: 1, alreadyCurrent: 0 },
      skipped: [{ discordUserId: damaged, record: 'link', reason: expect.stringContaining(`encrypted with key ${keyId(keyC)}`) }],
    });
    expectOneErrorLine(run, 3, new RegExp(`1 record did not open .*Discord users ${damaged}`));
    for (const secret of tokens) expect(run.stdout + run.stderr).not.toContain(secret);

    // The old key removed: the links and the pending sign-in open with the new key alone, all as v2 records.
    const store = await openStore(storeUrl);
    const onlyNew = createSecretBox(keyB);
    const vault = createTokenVault(store, onlyNew);
    try {
      expect((await vault.get(good))?.screenName).toBe(`u${good.slice(0, 4)}`);
      expect((await vault.get(legacy))?.screenName).toBe('legacy');
      expect(Object.keys((await store.namespace<object>('tokens').get(legacy))!).sort()).toEqual(['sealed', 'v']);
      const x = xClientFrom(parseConfig({ ...env, TOKEN_ENCRYPTION_KEY: keyB.toString('base64') }));
      const links = createAccountLinks({ store, vault, box: onlyNew, x, publicUrl: undefined, tokenLock: createKeyedLock(), forgetUser: async () => {} });
      const xUser = server.addUser({ screenName: 'pending' });
      const { verifier } = server.approve(requestToken, xUser.id);
      expect((await links.completeWithPin(pendingUser, requestToken, verifier)).screenName).toBe('pending');
      await x.close();
    } finally {
      await store.close();
    }
  });

  it('unlink deletes a damaged record locally and says X could not be told', async () => {
    const onlyNew = { ...env, TOKEN_ENCRYPTION_KEY: keyB.toString('base64') };
    const requests = server.requests.length;
    const run = await cli(['unlink', '--discord-user', damaged], { env: onlyNew });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Unlinked Discord user ${damaged} (the damaged link was deleted locally only)\n`);
    expect(run.stderr).toMatch(new RegExp(`^warning: The stored X link of Discord user ${damaged} cannot be opened: .*X could not be told`));
    expect(server.requests.length).toBe(requests);
    const store = await openStore(storeUrl);
    try {
      expect(await store.namespace('tokens').get(damaged)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

/**
 * `--discord-user` commands run the bot's use cases (issue 10): what /twitter unlink deletes, what
 * /avatar set records, what a completed /twitter link resumes. The data is made by the same Services the
 * bot builds, on a real SQLite file; the CLI runs as a process against it.
 */
describe('avatar-bot --discord-user runs the bot use cases', () => {
  let server: XServer;
  let env: Record<string, string>;
  const storePath = join(work, 'use-cases.sqlite');
  const guild = '999999999999999999';

  beforeAll(async () => {
    server = await startXServer();
    env = {
      TWITTER_API_URL: server.url,
      TWITTER_CONSUMER_KEY: server.consumer.key,
      TWITTER_CONSUMER_SECRET: server.consumer.secret,
      TWITTER_PROCESSING_DELAY_MS: '0',
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STORE_URL: `sqlite://${storePath}`,
      X_IMAGE_HOSTS: new URL(server.url).host,
      LOG_LEVEL: 'error',
    };
  });
  afterAll(() => server.close());

  /** The bot's Services on the test's store, closed before the CLI opens it. */
  /** The bot's services, and its records beside them (for set-up and checks; ./support/records.ts). */
  async function withBotServices<T>(work: (services: Services, records: Records) => Promise<T>): Promise<T> {
    const services = await createServices(parseConfig(env), createLogger({ level: 'silent' }));
    const records = await openRecords(parseConfig(env));
    try {
      return await work(services, records);
    } finally {
      await records.close();
      await services.close();
    }
  }

  /** Every row of the keyv table whose key or value names the Discord user. */
  async function rowsOf(discordUserId: string): Promise<string[]> {
    const { default: sqlite3 } = await import('sqlite3');
    const database = new sqlite3.Database(storePath);
    try {
      const rows = await new Promise<Array<{ key: string; value: string }>>((done, fail) => database.all('SELECT key, value FROM keyv', (error, found) => (error ? fail(error) : done(found as never))));
      return rows.filter((row) => row.key.includes(discordUserId) || row.value.includes(discordUserId)).map((row) => row.key).sort();
    } finally {
      await new Promise((done) => database.close(done));
    }
  }

  async function linkAs(records: Records, discordUserId: string, screenName: string): Promise<FakeXUser> {
    const account = server.addUser({ screenName });
    await records.vault.save(discordUserId, { xUserId: account.id, screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    return account;
  }

  const fixture = async () => {
    const avatar = await normalizeAvatar(readFileSync(join(fixtures, 'sharp/flowers.jpeg')));
    return { data: avatar.data, format: avatar.format };
  };

  it('unlink --discord-user leaves no key of the user in any namespace', async () => {
    const user = '500000000000000001';
    await withBotServices(async (services, records) => {
      await linkAs(records, user, 'erin');
      const image = await fixture();
      const applied = await services.avatars.apply(user, image, 'upload', 'seed'); // history, and the original saved
      expect(applied.originalNotSaved).toBeUndefined();
      await services.library.add(user, 'sunset', image);
      await records.schedules.update(user, (draft) => void (draft.defaultImage = 'sunset'));
      await services.branding.consent.join(guild, user);
    });
    const before = await rowsOf(user);
    for (const namespace of ['tokens', 'history', 'images', 'library', 'library-images', 'schedules', 'branding-consent']) {
      expect(before.some((key) => key.startsWith(`${namespace}:`))).toBe(true);
    }
    expect(before).toContain(`branding-consent:guild:${guild}`); // the guild's member list names the user

    const run = await cli(['unlink', '--discord-user', user], { env });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('Unlinked @erin\n');
    expect(run.code).toBe(0);
    expect(server.requests.at(-1)).toMatchObject({ path: X_PATHS.invalidateToken, status: 200 });
    expect(await rowsOf(user)).toEqual([]);
  });

  it('set --discord-user records a history entry and saves the pre-bot avatar as the original', async () => {
    const user = '500000000000000002';
    const xUser = await withBotServices((_services, records) => linkAs(records, user, 'finn'));
    const preBot = server.profileImageUrl(xUser.id);
    const preBotBytes = Buffer.from(await (await fetch(preBot.replace('_normal', ''))).arrayBuffer());

    const run = await cli(['set', join(fixtures, 'sharp/4.webp'), '--discord-user', user, '--crop', 'contain', '--background', '#00ff00'], { env });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(server.profileImageUrl(xUser.id).replace('_normal', '_400x400'));
    expect(server.uploads.at(-1)).toMatchObject({ userId: xUser.id, width: 400, height: 400 });

    await withBotServices(async (services, records) => {
      const history = await services.avatars.history(user);
      expect(history.entries).toHaveLength(1);
      expect(history.entries[0]).toMatchObject({ source: 'upload', label: 'file 4.webp' });
      // The entry is the image X received: normalised with the command's crop and background.
      const entryImage = await services.avatars.historyImage(user, history.entries[0]!.hash);
      const expected = await normalizeAvatar(readFileSync(join(fixtures, 'sharp/4.webp')), { crop: 'contain', background: '#00ff00' });
      expect(entryImage?.data.equals(expected.data)).toBe(true);
      // The original is the avatar X showed before the bot's first change, normalised as the bot saves it.
      const original = history.original;
      expect(original).toMatchObject({ saved: true, url: preBot.replace('_normal', '_400x400') });
      const saved = await services.avatars.historyImage(user, (original as { hash: string }).hash);
      expect(saved?.data.equals((await normalizeAvatar(preBotBytes, { crop: 'centre' })).data)).toBe(true);
    });
  });

  it('link --discord-user after a revoked link resumes the schedules it paused', async () => {
    const user = '500000000000000003';
    await withBotServices(async (services, records) => {
      const old = await linkAs(records, user, 'gale');
      await records.vault.setStatus(user, 'revoked');
      server.revoke(old.id);
      await services.library.add(user, 'sunset', await fixture());
      await records.schedules.update(user, (draft) => {
        draft.defaultImage = 'sunset';
        draft.suspended = { reason: 'link', at: new Date().toISOString() };
      });
    });
    const again = server.addUser({ screenName: 'gale2' });
    const run = await cli(['link', '--discord-user', user], {
      env,
      stdin: (child, stderr) => {
        const timer = setInterval(() => {
          const match = /oauth_token=([^\s&]+)/.exec(stderr());
          if (!match || !stderr().includes('PIN')) return;
          clearInterval(timer);
          child.stdin!.end(`${server.approve(decodeURIComponent(match[1]!), again.id).verifier}\n`);
        }, 20);
      },
    });
    expect(run.stdout).toBe(`Linked @gale2 to Discord user ${user}\n`);
    expect(run.code).toBe(0);
    await withBotServices(async (services, records) => {
      expect((await services.schedules.get(user)).suspended).toBeUndefined();
      expect((await records.vault.require(user)).status).toBe('active');
    });
  });

  it('a missing or revoked link is explained with the CLI command, never a slash command', async () => {
    const missing = '500000000000000004';
    const run = await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', missing], { env });
    expectOneErrorLine(run, 1, new RegExp(`^error: Discord user ${missing} has no linked X account\\. Link one with avatar-bot link --discord-user ${missing}\\.$`));
    const unlink = await cli(['unlink', '--discord-user', missing], { env });
    expect(unlink.stderr).toBe(`error: Discord user ${missing} has no linked X account. Link one with avatar-bot link --discord-user ${missing}.\n`);

    const revoked = '500000000000000005';
    await withBotServices(async (services, records) => {
      await linkAs(records, revoked, 'hal');
      await records.vault.setStatus(revoked, 'revoked');
    });
    const uploads = server.uploads.length;
    const revokedRun = await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', revoked], { env });
    expectOneErrorLine(revokedRun, 1, new RegExp(`revoked.*avatar-bot link --discord-user ${revoked}\\.$`));
    expect(server.uploads.length).toBe(uploads);
    for (const stderr of [run.stderr, unlink.stderr, revokedRun.stderr]) expect(stderr).not.toMatch(/\/(twitter|avatar|library|schedule)\b/);
  });
});
