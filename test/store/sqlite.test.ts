/**
 * The SQLite store (src/store/sqlite.ts): one connection per process for every namespace (one per namespace
 * slept on each other's write locks), WAL mode, and nothing that can throw outside a caller's promise.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, StoreError } from '../../src/store/backend.js';

const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Open file descriptors of this process on `path` (the database itself, not its -wal or -shm). */
const openOn = (path: string) => readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === path;
  } catch {
    return false; // closed meanwhile
  }
}).length;

describe('the SQLite store', () => {
  it('uses one connection for twenty namespaces and the locks, in WAL mode', async () => {
    const path = join(dir, 'one.sqlite');
    const store = await openStore(`sqlite://${path}`);
    try {
      for (let i = 0; i < 20; i++) await store.namespace(`ns${i}`).set('k', { i });
      await store.locked('a-lock', async () => undefined);
      expect(openOn(path)).toBe(1);
      const adapter = store.namespace('ns0').store as { query(sql: string): Promise<Array<{ journal_mode: string }>> };
      expect((await adapter.query('PRAGMA journal_mode'))[0]?.journal_mode).toBe('wal');
      for (let i = 0; i < 20; i++) expect(await store.namespace(`ns${i}`).get('k')).toEqual({ i });
    } finally {
      await store.close();
    }
    expect(openOn(path)).toBe(0);
  });

  it('refuses a query after close with a StoreError instead of an uncaught SQLITE_MISUSE', async () => {
    const store = await openStore(`sqlite://${join(dir, 'closed.sqlite')}`);
    const records = store.namespace('records');
    await records.set('a', 1);
    const uncaught: unknown[] = [];
    const listen = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', listen);
    try {
      const closing = store.close();
      const during = records.get('a').then(() => 'read', (error: unknown) => error);
      await closing;
      const after = await records.get('a').then(() => 'read', (error: unknown) => error);
      expect(after).toBeInstanceOf(StoreError);
      expect(await during).toSatisfy((outcome) => outcome === 'read' || outcome instanceof StoreError);
      await new Promise((done) => setTimeout(done, 100)); // an 'error' event nobody heard would come by now
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', listen);
    }
  });
});
