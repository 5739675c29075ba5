import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/backend.js';
import { createSecretBox, SecretError } from '../../src/store/cipher.js';
import { createTokenVault } from '../../src/store/vault.js';

const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: Array<[string, () => string]> = [['sqlite', () => `sqlite://${join(dir, `vault-${randomBytes(4).toString('hex')}.sqlite`)}`]];
if (process.env.REDIS_URL) backends.push(['redis', () => process.env.REDIS_URL!]);
if (process.env.DATABASE_URL) backends.push(['postgres', () => process.env.DATABASE_URL!]);

describe.each(backends)('token vault on %s', (kind, makeUrl) => {
  let store: Store;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  // Unique ids so runs against shared Redis/PostgreSQL servers do not see each other's data.
  const run = randomBytes(4).toString('hex');
  const alice = `1000${run}`;
  const bob = `2000${run}`;
  const token = `123-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(20).toString('base64url');

  beforeAll(async () => {
    store = await openStore(makeUrl());
  });
  afterAll(async () => {
    const vault = createTokenVault(store, createSecretBox(keyB, [keyA]));
    await vault.delete(alice);
    await vault.delete(bob);
    await store.close();
  });

  it('stores and reads back a link, sealed at rest', async () => {
    const vault = createTokenVault(store, createSecretBox(keyA));
    const saved = await vault.save(alice, { xUserId: '42', screenName: 'alice', token, secret });
    expect(saved.status).toBe('active');
    expect(await vault.get(alice)).toEqual(saved);

    const raw = (await store.namespace('tokens').get(alice)) as Record<string, string>;
    expect(raw.screenName).toBe('alice');
    expect(JSON.stringify(raw)).not.toContain(token);
    expect(JSON.stringify(raw)).not.toContain(secret);
    expect(raw.token).toMatch(/^v1\./);
  });

  it('uses a fresh IV on every write', async () => {
    const vault = createTokenVault(store, createSecretBox(keyA));
    await vault.save(bob, { xUserId: '43', screenName: 'bob', token, secret });
    const first = (await store.namespace('tokens').get(bob)) as Record<string, string>;
    await vault.save(bob, { xUserId: '43', screenName: 'bob', token, secret });
    const second = (await store.namespace('tokens').get(bob)) as Record<string, string>;
    expect(second.token).not.toBe(first.token);
  });

  it('refuses a ciphertext moved to another user', async () => {
    const tokens = store.namespace<Record<string, string>>('tokens');
    const aliceRaw = (await tokens.get(alice))!;
    const bobRaw = (await tokens.get(bob))!;
    await tokens.set(bob, { ...bobRaw, token: aliceRaw.token! });
    const vault = createTokenVault(store, createSecretBox(keyA));
    await expect(vault.get(bob)).rejects.toMatchObject({ kind: 'wrong-key' });
    await tokens.set(bob, bobRaw);
  });

  it('gives a clear error, not garbage, with the wrong key', async () => {
    const vault = createTokenVault(store, createSecretBox(keyB));
    const error = await vault.get(alice).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).kind).toBe('wrong-key');
    expect((error as SecretError).userMessage).toMatch(/TOKEN_ENCRYPTION_KEY/);
  });

  it('rotates every link to the new key while the old one is accepted', async () => {
    const vault = createTokenVault(store, createSecretBox(keyB, [keyA]));
    const ids: string[] = [];
    for await (const id of vault.userIds()) ids.push(id);
    expect(ids).toEqual(expect.arrayContaining([alice, bob]));

    const result = await vault.rotate();
    expect(result.rewritten).toBeGreaterThanOrEqual(2);
    // After rotation the new key alone opens everything.
    const onlyNew = createTokenVault(store, createSecretBox(keyB));
    expect((await onlyNew.get(alice))?.token).toBe(token);
    expect((await onlyNew.get(bob))?.secret).toBe(secret);
    expect((await vault.rotate()).rewritten).toBe(0);
  });

  it('marks a link revoked and deletes it', async () => {
    const vault = createTokenVault(store, createSecretBox(keyB));
    await vault.setStatus(alice, 'revoked');
    expect((await vault.get(alice))?.status).toBe('revoked');
    expect(await vault.delete(alice)).toBe(true);
    expect(await vault.get(alice)).toBeUndefined();
    await expect(vault.require(alice)).rejects.toMatchObject({ kind: 'not-linked' });
  });
});

describe('token vault on a SQLite file', () => {
  it('never writes a token in clear text to the file', async () => {
    const path = join(dir, 'plain-text-check.sqlite');
    const store = await openStore(`sqlite://${path}`);
    const token = `999-${randomBytes(16).toString('hex')}`;
    const secret = randomBytes(24).toString('base64url');
    const vault = createTokenVault(store, createSecretBox(randomBytes(32)));
    await vault.save('300000000000000001', { xUserId: '7', screenName: 'carol', token, secret });
    expect((await vault.get('300000000000000001'))?.token).toBe(token);
    await store.close();
    const file = readFileSync(path);
    expect(file.includes(Buffer.from('carol'))).toBe(true); // the file really holds the record
    expect(file.includes(Buffer.from(token))).toBe(false);
    expect(file.includes(Buffer.from(secret))).toBe(false);
  });
});
