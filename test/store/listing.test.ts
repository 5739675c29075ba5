/**
 * Listing a namespace (`Store.pages`), which the scheduler's restore reads every schedule record through:
 * on each kind of store every record comes once, decoded exactly as `get` decodes it, nothing of another
 * namespace comes with it, a page is one query (SQLite and PostgreSQL: N records in N/page queries, where
 * keyv's SQLite iterator scanned the table up to an OFFSET on every page), and a store that stops answering
 * is a StoreError('unreachable'), not a listing that ends early.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError, type Store } from '../../src/store/backend.js';
import { startPrivatePostgres, startPrivateRedis } from '../support/private-servers.js';

const RECORDS = 2_345;
const PAGE = 500;

/** Values keyv's serializer escapes (strings starting with ':', Buffers) among ordinary ones. */
function valueFor(i: number): unknown {
  switch (i % 5) {
    case 0:
      return { note: ':starts with a colon', nested: [['::two'], { deep: ':base64:not really' }], n: i };
    case 1:
      return { bytes: Buffer.from([i % 256, 0, 255]), text: 'plain "quoted" : text', n: i };
    case 2:
      return ['a', ':b', 3, null, { c: 'é' }];
    case 3:
      return `:a string record ${i}`;
    default:
      return { n: i, empty: '', list: [] };
  }
}

/** RECORDS records and one whose key holds colons (RECORDS + 1 in all). */
async function seed(store: Store, name: string): Promise<void> {
  const records = store.namespace(name);
  for (let from = 0; from < RECORDS; from += 500) {
    await records.setMany(Array.from({ length: Math.min(500, RECORDS - from) }, (_, k) => ({ key: `u${from + k}`, value: valueFor(from + k) })));
  }
  await records.set('with:colons:in:the:key', { ok: true });
}

const backends: Array<[string, () => Promise<{ url: string; dispose(): Promise<void> }>]> = [
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-listing-'));
      return { url: `sqlite://${join(dir, 'bot.sqlite')}`, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];
if (process.env.REDIS_URL) backends.push(['Redis', async () => ({ url: `${process.env.REDIS_URL!.replace(/\/\d*$/, '')}/6`, dispose: async () => undefined })]);
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', async () => ({ url: process.env.DATABASE_URL!, dispose: async () => undefined })]);

describe.each(backends)('listing a namespace on %s', (kind, backend) => {
  let store: Store;
  let dispose: () => Promise<void>;
  // Shared servers: a namespace of our own, and neighbours whose names start the same way.
  const name = `listing-${process.pid}-${Date.now()}`;
  const neighbours = [`${name}x`, name.slice(0, -1)];

  beforeAll(async () => {
    const opened = await backend();
    dispose = opened.dispose;
    store = await openStore(opened.url);
    await seed(store, name);
    for (const neighbour of neighbours) await store.namespace(neighbour).set('u1', 'a neighbour');
  }, 60_000);

  afterAll(async () => {
    for (const namespace of [name, ...neighbours]) await store?.namespace(namespace).clear();
    await store?.close();
    await dispose?.();
  });

  it('lists every record once, decoded as get decodes it, and nothing of another namespace', async () => {
    const records = store.namespace(name);
    const seen = new Map<string, unknown>();
    let pages = 0;
    for await (const page of store.pages(name, PAGE)) {
      pages++;
      expect(page.length).toBeLessThanOrEqual(kind === 'Redis' ? 2 * PAGE : PAGE); // SCAN's COUNT is a hint
      for (const [key, value] of page) seen.set(key, value); // Redis's SCAN may repeat a key; it is the same record
    }
    expect(seen.size).toBe(RECORDS + 1);
    expect(seen.get('with:colons:in:the:key')).toEqual({ ok: true });
    for (let i = 0; i < RECORDS; i++) expect(seen.get(`u${i}`), `u${i}`).toEqual(await records.get(`u${i}`));
    expect(seen.get('u1')).toEqual(valueFor(1)); // not a neighbour's 'u1'
    expect(Buffer.isBuffer((seen.get('u1') as { bytes: unknown }).bytes)).toBe(true);
    // In key order, one query a page: the last one is short.
    if (kind !== 'Redis') expect(pages).toBe(Math.ceil((RECORDS + 1) / PAGE));
  });
});

describe('listing a namespace on SQLite', () => {
  let store: Store;
  let dir: string;
  const name = 'listing';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'avatar-bot-listing-'));
    store = await openStore(`sqlite://${join(dir, 'bot.sqlite')}`);
    await seed(store, name);
  });

  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads N records in N/page queries, none of them a scan to an offset', async () => {
    const adapter = (store.namespace(name) as Keyv & { store: { query(sql: string, ...parameters: unknown[]): Promise<unknown[]> } }).store;
    const statements: string[] = [];
    const query = adapter.query;
    adapter.query = (sql: string, ...parameters: unknown[]) => {
      statements.push(sql);
      return query(sql, ...parameters);
    };
    try {
      let listed = 0;
      for await (const page of store.pages(name, PAGE)) listed += page.length;
      expect(listed).toBe(RECORDS + 1);
    } finally {
      adapter.query = query;
    }
    expect(statements).toHaveLength(Math.ceil((RECORDS + 1) / PAGE));
    expect(statements.filter((sql) => /OFFSET|LIKE/i.test(sql))).toEqual([]);
  });

  it('lists a damaged record without a value, and the records after it', async () => {
    const adapter = (store.namespace(name) as Keyv & { store: { query(sql: string, ...parameters: unknown[]): Promise<unknown[]> } }).store;
    await adapter.query('INSERT INTO keyv (key, value) VALUES (?, ?)', `${name}:damaged`, '{"value": {"half');
    try {
      const seen = new Map<string, unknown>();
      for await (const page of store.pages(name, PAGE)) for (const [key, value] of page) seen.set(key, value);
      expect(seen.has('damaged')).toBe(true);
      expect(seen.get('damaged')).toBeUndefined();
      expect(seen.size).toBe(RECORDS + 2);
    } finally {
      await store.namespace(name).delete('damaged');
    }
  });
});

describe.each([
  ['Redis', startPrivateRedis],
  ['PostgreSQL', startPrivatePostgres],
])('listing on %s while the server is down', (_kind, startServer) => {
  it('fails with StoreError("unreachable") instead of ending early', async () => {
    const server = await startServer();
    const store = await openStore(server.url);
    try {
      await store.namespace('down').setMany(Array.from({ length: 300 }, (_, i) => ({ key: `u${i}`, value: i })));
      const pages = store.pages('down', 10);
      const first = await pages.next();
      expect(first.done).toBe(false);
      await server.stop();
      const rest = (async () => {
        for (let step = await pages.next(); !step.done; step = await pages.next());
      })();
      const error = await rest.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).kind).toBe('unreachable');
    } finally {
      await store.close();
      await server.dispose();
    }
  }, 60_000);
});
