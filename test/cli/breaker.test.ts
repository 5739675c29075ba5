/**
 * Issue 12 item 2 at the CLI: X refusing the app is one `error:` line saying nothing was changed, exit 1,
 * whether the command writes for the operator's own account or for a linked Discord user (through the
 * services and their breaker: the second user's write is refused before it is sent).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { t } from '../../src/i18n/t.js';
import { openRecords } from '../support/records.js';
import { startXServer, X_WRITE_PATHS, type XServer } from '../support/x-server.js';
import { expectOneErrorLine, runCli } from './run.js';

const photo = resolve('test/fixtures/images/sharp/flowers.jpeg');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const line = (variant: 'credits' | 'access-level') => new RegExp(`^error: ${escape(t('en-US', `error.app-blocked.${variant}`))}$`);

describe('avatar-bot set while X refuses the app', () => {
  let server: XServer;
  let work: string;
  let env: Record<string, string>;
  const writes = () => server.requests.filter((request) => X_WRITE_PATHS.includes(request.path)).length;

  beforeAll(async () => {
    server = await startXServer();
    work = mkdtempSync(join(tmpdir(), 'avatar-bot-cli-breaker-'));
    env = {
      TWITTER_API_URL: server.url,
      TWITTER_CONSUMER_KEY: server.consumer.key,
      TWITTER_CONSUMER_SECRET: server.consumer.secret,
      TWITTER_PROCESSING_DELAY_MS: '0',
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STORE_URL: `sqlite://${join(work, 'store.sqlite')}`,
      X_IMAGE_HOSTS: new URL(server.url).host,
      LOG_LEVEL: 'silent',
      // v1.1 as set: in auto a 453 first moves the app to v2 (X_PROFILE_API), and only v2's refusal opens the breaker.
      X_PROFILE_API: 'v1.1',
    };
  });
  afterAll(async () => {
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the operator's account: one error line with the app-level words, exit 1", async () => {
    const operator = server.addUser({ screenName: 'operator' });
    server.blockApp('credits');
    const run = await runCli(work, ['set', photo], { env: { ...env, TWITTER_ACCESS_TOKEN: operator.accessToken.token, TWITTER_ACCESS_TOKEN_SECRET: operator.accessToken.secret } });
    expectOneErrorLine(run, 1, line('credits'));
    expect(run.stderr).not.toContain(server.consumer.secret);
    server.recoverApp();
  });

  it('a linked user: the first write opens the breaker, the next command is refused before sending', async () => {
    const records = await openRecords(parseConfig(env));
    const users = ['500000000000000101', '500000000000000102'];
    for (const [index, user] of users.entries()) {
      const account = server.addUser({ screenName: `cli${index}` });
      await records.vault.save(user, { xUserId: account.id, screenName: account.screenName, token: account.accessToken.token, secret: account.accessToken.secret });
    }
    await records.close();
    server.blockApp(453);
    const before = writes();
    expectOneErrorLine(await runCli(work, ['set', photo, '--discord-user', users[0]!], { env }), 1, line('access-level'));
    expect(writes()).toBe(before + 1);
    expectOneErrorLine(await runCli(work, ['set', photo, '--discord-user', users[1]!], { env }), 1, line('access-level'));
    expect(writes()).toBe(before + 1); // the breaker is in the store: the second process did not send
    server.recoverApp();
  });
});
