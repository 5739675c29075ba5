/**
 * One keyv factory for every kind of store the bot supports, chosen by STORE_URL:
 * SQLite (embedded default, one process), Redis or PostgreSQL (several processes).
 * Each concern gets its own namespace; values are plain JSON.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Keyv from 'keyv';
import { UserFacingError } from '../errors.js';

export type StoreKind = 'sqlite' | 'redis' | 'postgres';

export class StoreError extends UserFacingError<'unreachable' | 'unsupported'> {}

export interface Store {
  kind: StoreKind;
  /** A keyv for one concern (`tokens`, `history`, …). Calling it twice with one name returns the same instance. */
  namespace<Value = unknown>(name: string): Keyv<Value>;
  /** Throws a StoreError when the backend does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function storeKind(url: string): StoreKind {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (scheme === 'sqlite') return 'sqlite';
  if (scheme === 'redis' || scheme === 'rediss') return 'redis';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  throw new StoreError('unsupported', `The store URL scheme "${scheme}" is not supported: use sqlite://, redis:// or postgresql://.`);
}

/** `sqlite://data/x.sqlite` → an absolute path, with its directory created. */
function sqlitePath(url: string): string {
  const path = resolve(url.replace(/^sqlite:\/\//i, ''));
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

type AdapterFactory = () => object;

/** Load the adapter module for this kind once; each namespace then gets its own adapter instance. */
async function adapterFactory(kind: StoreKind, url: string): Promise<AdapterFactory> {
  switch (kind) {
    case 'sqlite': {
      const { default: KeyvSqlite } = await import('@keyv/sqlite');
      const uri = `sqlite://${sqlitePath(url)}`;
      // Listing keys pages through the table; larger pages mean far fewer scans (restoring 10,000 schedules).
      return () => new KeyvSqlite({ uri, busyTimeout: 10_000, iterationLimit: 1000 });
    }
    case 'redis': {
      const { default: KeyvRedis } = await import('@keyv/redis');
      return () => new KeyvRedis(url, { throwOnConnectError: true, throwOnErrors: true });
    }
    case 'postgres': {
      const { default: KeyvPostgres } = await import('@keyv/postgres');
      return () => new KeyvPostgres({ uri: url, iterationLimit: 1000 });
    }
  }
}

export async function openStore(url: string): Promise<Store> {
  const kind = storeKind(url);
  const createAdapter = await adapterFactory(kind, url);
  const namespaces = new Map<string, Keyv<any>>();

  function namespace<Value>(name: string): Keyv<Value> {
    let keyv = namespaces.get(name);
    if (!keyv) {
      keyv = new Keyv<Value>({ store: createAdapter(), namespace: name, throwOnErrors: true, emitErrors: false });
      namespaces.set(name, keyv);
    }
    return keyv as Keyv<Value>;
  }

  return {
    kind,
    namespace,
    async ping() {
      try {
        const probe = namespace<number>('health');
        await probe.set('ping', Date.now());
        await probe.get('ping');
      } catch (error) {
        throw new StoreError('unreachable', `The ${kind} store could not be reached. Check STORE_URL and that the server is running.`, {
          cause: error,
          detail: error instanceof Error ? error.message : String(error),
        });
      }
    },
    async close() {
      await Promise.allSettled([...namespaces.values()].map((keyv) => keyv.disconnect()));
      namespaces.clear();
    },
  };
}
