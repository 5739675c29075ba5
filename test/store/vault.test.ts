import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/backend.js';
import { createSecretBox, keyId, SecretError } from '../../src/store/cipher.js';
import { createTokenVault, VaultError } from '../../src/accounts/vault.js';
import { t } from '../../src/i18n/t.js';

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
    // Every field is inside the one sealed value: nothing can be edited in the store undetected.
    expect(Object.keys(raw).sort()).toEqual(['sealed', 'v']);
    expect(raw.v).toBe(2);
    expect(raw.sealed).toMatch(/^v1\./);
    for (const clear of [token, secret, 'alice', '"42"', 'active']) expect(JSON.stringify(raw)).not.toContain(clear);
  });

  it('does not honour a screen name, X user id or status edited in the store', async () => {
    const vault = createTokenVault(store, createSecretBox(keyA));
    const tokens = store.namespace<Record<string, unknown>>('tokens');
    const original = (await tokens.get(alice))!;
    const saved = await vault.get(alice);
    // Someone with database access writes the fields an old (v1) record kept in clear: the sealed ones win...
    for (const edit of [{ screenName: 'mallory' }, { xUserId: '666' }, { status: 'revoked' }]) {
      await tokens.set(alice, { ...original, ...edit });
      expect(await vault.get(alice)).toEqual(saved);
    }
    // ...or flips one bit of the sealed value.
    const sealed = String(original.sealed);
    const flipped = `${sealed.slice(0, -2)}${sealed.at(-2) === 'A' ? 'B' : 'A'}${sealed.at(-1)}`;
    await tokens.set(alice, { ...original, sealed: flipped });
    await expect(vault.get(alice)).rejects.toMatchObject({ kind: 'damaged-link', userMessage: t('en-US', 'error.damaged-link') });
    await tokens.set(alice, original);
    expect((await vault.get(alice))?.screenName).toBe('alice');
  });

  it('reads a v1 record (token and secret sealed one by one) and writes it back as v2', async () => {
    const box = createSecretBox(keyA);
    const carol = `3000${run}`;
    const tokens = store.namespace<Record<string, unknown>>('tokens');
    const v1 = {
      xUserId: '44',
      screenName: 'carol',
      token: box.seal(token, `tokens:${carol}:token`),
      secret: box.seal(secret, `tokens:${carol}:secret`),
      linkedAt: '2024-01-01T00:00:00.000Z',
      status: 'active',
    };
    await tokens.set(carol, v1);
    const vault = createTokenVault(store, box);
    expect(await vault.get(carol)).toEqual({ ...v1, token, secret });
    await vault.setStatus(carol, 'revoked');
    expect(Object.keys((await tokens.get(carol))!).sort()).toEqual(['sealed', 'v']);
    expect(await vault.get(carol)).toEqual({ ...v1, token, secret, status: 'revoked' });
    await vault.delete(carol);
  });

  it('uses a fresh IV on every write', async () => {
    const vault = createTokenVault(store, createSecretBox(keyA));
    await vault.save(bob, { xUserId: '43', screenName: 'bob', token, secret });
    const first = (await store.namespace('tokens').get(bob)) as Record<string, string>;
    await vault.save(bob, { xUserId: '43', screenName: 'bob', token, secret });
    const second = (await store.namespace('tokens').get(bob)) as Record<string, string>;
    expect(second.sealed).not.toBe(first.sealed);
  });

  it('refuses a ciphertext moved to another user', async () => {
    const tokens = store.namespace<Record<string, string>>('tokens');
    const aliceRaw = (await tokens.get(alice))!;
    const bobRaw = (await tokens.get(bob))!;
    await tokens.set(bob, { ...bobRaw, sealed: aliceRaw.sealed! });
    const vault = createTokenVault(store, createSecretBox(keyA));
    await expect(vault.get(bob)).rejects.toMatchObject({ kind: 'damaged-link' });
    expect((await vault.get(alice))?.screenName).toBe('alice'); // the other user is unaffected
    await tokens.set(bob, bobRaw);
  });

  it('gives a clear error, not garbage, with the wrong key: a sentence for the user, the key for the operator', async () => {
    const vault = createTokenVault(store, createSecretBox(keyB));
    const error = await vault.get(alice).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VaultError);
    expect((error as VaultError).kind).toBe('damaged-link');
    expect((error as VaultError).userMessage).toBe(t('en-US', 'error.damaged-link'));
    expect((error as VaultError).userMessage).not.toMatch(/TOKEN_ENCRYPTION_KEY|key [0-9a-f]{12}/);
    expect((error as VaultError).operatorMessage).toMatch(new RegExp(`Discord user ${alice}.*encrypted with key ${keyId(keyA)}.*TOKEN_ENCRYPTION_KEY`));
    expect((error as VaultError).cause).toBeInstanceOf(SecretError);
  });

  it('rotates every link to the new key while the old one is accepted', async () => {
    const vault = createTokenVault(store, createSecretBox(keyB, [keyA]));
    const ids: string[] = [];
    for await (const id of vault.userIds()) ids.push(id);
    expect(ids).toEqual(expect.arrayContaining([alice, bob]));

    const result = await vault.rotate();
    expect(result.rewritten).toBeGreaterThanOrEqual(2);
    expect(result.skipped.filter((entry) => [alice, bob].includes(entry.discordUserId))).toEqual([]);
    // After rotation the new key alone opens everything.
    const onlyNew = createTokenVault(store, createSecretBox(keyB));
    expect((await onlyNew.get(alice))?.token).toBe(token);
    expect((await onlyNew.get(bob))?.secret).toBe(secret);
    expect((await vault.rotate()).rewritten).toBe(0);
  });

  it('rotation skips and reports a record no key opens, re-seals the others, and leaves it deletable', async () => {
    const keyC = randomBytes(32);
    const dave = `4000${run}`;
    const erin = `5000${run}`;
    await createTokenVault(store, createSecretBox(keyC)).save(dave, { xUserId: '45', screenName: 'dave', token, secret });
    await createTokenVault(store, createSecretBox(keyB)).save(erin, { xUserId: '46', screenName: 'erin', token, secret });
    await createTokenVault(store, createSecretBox(keyA)).save(erin, { xUserId: '46', screenName: 'erin', token, secret }); // sealed with the old key
    const vault = createTokenVault(store, createSecretBox(keyB, [keyA]));
    const result = await vault.rotate();
    expect(result.skipped.filter((entry) => [dave, erin].includes(entry.discordUserId))).toEqual([
      { discordUserId: dave, reason: expect.stringContaining(`encrypted with key ${keyId(keyC)}`) },
    ]);
    expect(JSON.stringify(result)).not.toContain(token);
    expect((await createTokenVault(store, createSecretBox(keyB)).get(erin))?.screenName).toBe('erin');
    await expect(vault.get(dave)).rejects.toMatchObject({ kind: 'damaged-link' });
    expect(await vault.delete(dave)).toBe(true);
    await vault.delete(erin);
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
    expect(file.includes(Buffer.from('"v":2'))).toBe(true); // the file really holds the record
    expect(file.includes(Buffer.from('carol'))).toBe(false); // the screen name is sealed too
    expect(file.includes(Buffer.from(token))).toBe(false);
    expect(file.includes(Buffer.from(secret))).toBe(false);
  });
});
