import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXServer, X_PATHS, xFaults, type FakeXUser, type XServer } from './support/x-server.js';

const CLI = resolve('dist/src/cli.js');
const fixtures = resolve('test/fixtures/images');
const work = mkdtempSync(join(tmpdir(), 'avatar-bot-cli-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI in a clean environment (no .env in its working directory). */
function cli(args: string[], options: { env?: Record<string, string>; stdin?: (child: import('node:child_process').ChildProcess, stderr: () => string) => void; nodeArgs?: string[] } = {}): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    if (options.stdin) options.stdin(child, () => stderr);
    else child.stdin.end();
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

function expectOneErrorLine(run: Run, code: number, pattern: RegExp) {
  expect(run.code).toBe(code);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('avatar-bot normalize', () => {
  it('writes a 400x400 avatar and prints one JSON line', async () => {
    const out = join(work, 'flowers.jpg');
    const run = await cli(['normalize', join(fixtures, 'sharp/flowers.jpeg'), out, '--crop', 'centre']);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout);
    expect(printed).toEqual({ format: 'jpeg', width: 400, height: 400, bytes: readFileSync(out).length });
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height, meta.exif, meta.icc]).toEqual(['jpeg', 400, 400, undefined, undefined]);
  });

  it('keeps transparency as PNG and fills contain margins with the background', async () => {
    const out = join(work, 'contain.jpg');
    const run = await cli(['normalize', join(fixtures, 'sharp/flowers.jpeg'), out, '--crop', 'contain', '--background', '#ff0000']);
    expect(run.code).toBe(0);
    const { data } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
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
  });

  it('rotate-key re-encrypts under the new key; the old key alone then fails clearly', async () => {
    const rotated = { ...env, TOKEN_ENCRYPTION_KEY: keyB, TOKEN_ENCRYPTION_KEY_PREVIOUS: keyA };
    const run = await cli(['rotate-key'], { env: rotated });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ rewritten: 1, alreadyCurrent: 0 });

    const onlyNew = { ...env, TOKEN_ENCRYPTION_KEY: keyB };
    expect((await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', discordUser], { env: onlyNew })).code).toBe(0);
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', discordUser], { env }), 1, /encrypted with key \w+, which this bot does not have/);
  });

  it('unlink revokes the token at X and deletes the link', async () => {
    const onlyNew = { ...env, TOKEN_ENCRYPTION_KEY: keyB };
    const run = record(await cli(['unlink', '--discord-user', discordUser], { env: onlyNew }));
    expect(run.stdout).toBe('Unlinked @dana\n');
    expect(server.requests.at(-1)).toMatchObject({ path: X_PATHS.invalidateToken, status: 200 });
    expectOneErrorLine(await cli(['set', join(fixtures, 'sharp/flowers.jpeg'), '--discord-user', discordUser], { env: onlyNew }), 1, /not linked/);
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
