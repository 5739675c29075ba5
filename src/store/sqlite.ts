/**
 * SQLite for keyv, with one connection per process for every namespace and for the leases, in WAL mode.
 *
 * Why not @keyv/sqlite's adapter: it opens a connection per namespace (19 in the bot) in the rollback
 * journal mode. SQLite lets one writer at a time per file, so those connections found each other's write
 * locks and slept in SQLite's busy handler (1, 2, 5, 10 … 100 ms): a catch-up of 1,000 scheduled changes
 * (11,000 small writes) took 28–46 s, with the bot's CPU mostly idle. One connection queues the writes
 * instead of sleeping on them, and WAL lets readers go on while one writes (other processes on the same
 * file still meet the busy handler, bounded by `busyTimeoutMs`). `synchronous=FULL` keeps every
 * committed write across a power loss, not only across a crash of the bot.
 *
 * Keys and values are laid out as @keyv/sqlite does (table `keyv`, `key` = `namespace:key`, `value` =
 * keyv's JSON), so an existing file reads as before.
 */
import { EventEmitter } from 'node:events';

export interface SqliteConnection {
  all<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export async function openSqlite(path: string, busyTimeoutMs: number): Promise<SqliteConnection> {
  const { default: sqlite3 } = await import('sqlite3');
  const database = await new Promise<InstanceType<typeof sqlite3.Database>>((resolve, reject) => {
    const opened = new sqlite3.Database(path, (error) => (error ? reject(error) : resolve(opened)));
  });
  database.configure('busyTimeout', busyTimeoutMs);
  // The bot runs a handful of distinct statements thousands of times: each is prepared once. Preparing and
  // finalising per query cost about 0.1 ms of main-thread time each (2 s of a 1,000-change catch-up).
  const statements = new Map<string, InstanceType<typeof sqlite3.Statement>>();
  // Every failure reaches the caller through a callback; an 'error' event nobody heard would kill the
  // process (a query racing the store's close did: SQLITE_MISUSE).
  const ignore = () => undefined;
  database.on('error', ignore);
  let closed = false;
  const all = <Row>(sql: string, params: unknown[] = []) =>
    new Promise<Row[]>((resolve, reject) => {
      if (closed) return reject(new Error('the SQLite store is closed'));
      let statement = statements.get(sql);
      if (!statement && statements.size < MAX_STATEMENTS) {
        statement = database.prepare(sql, ignore); // a failed prepare fails the `all` below with its error
        statement.on('error', ignore);
        statements.set(sql, statement);
      }
      const done = (error: Error | null, rows: unknown[]) => {
        if (!error) return resolve(rows as Row[]);
        // A statement that failed (a bad prepare, a lock) is prepared afresh next time.
        if (statement && statements.get(sql) === statement) {
          statements.delete(sql);
          statement.finalize(ignore);
        }
        reject(error);
      };
      if (statement) statement.all(params, done);
      else database.all(sql, params, done);
    });
  try {
    await all('PRAGMA journal_mode = WAL');
    await all('PRAGMA synchronous = FULL');
    await all(`CREATE TABLE IF NOT EXISTS ${TABLE}(key VARCHAR(255) PRIMARY KEY, value TEXT )`);
  } catch (error) {
    database.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closed = true;
    await Promise.all([...statements.values()].map((statement) => new Promise<void>((resolve) => statement.finalize(() => resolve()))));
    statements.clear();
    await new Promise<void>((resolve) => database.close(() => resolve()));
  }
  return { all, close: () => (closing ??= close()) };
}

/** Distinct statements kept prepared; the bot has about 30 (the rest run unprepared). */
const MAX_STATEMENTS = 100;

/** The table @keyv/sqlite uses, so that files written before read the same. */
const TABLE = 'keyv';
const PAGE = 1000;

/** A keyv storage adapter on a shared connection (the sweeper's and a bench's `query` included). */
export class SharedSqliteAdapter extends EventEmitter {
  namespace?: string;
  readonly ttlSupport = false;
  /** `dialect` tells keyv it can iterate; `table` is read by the sweeper. */
  readonly opts = { dialect: 'sqlite', url: 'sqlite://', table: TABLE };

  constructor(private readonly connection: SqliteConnection) {
    super();
  }

  /** Bound, as @keyv/sqlite's was: the sweeper and tests call it detached. */
  readonly query = <Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<Row[]> => this.connection.all<Row>(sql, params);

  async get(key: string): Promise<string | undefined> {
    const rows = await this.query<{ value: string }>(`SELECT value FROM ${TABLE} WHERE key = ?`, [key]);
    return rows[0]?.value;
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const rows = await this.query<{ key: string; value: string }>(`SELECT key, value FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`, [JSON.stringify(keys)]);
    const found = new Map(rows.map((row) => [row.key, row.value]));
    return keys.map((key) => found.get(key));
  }

  async set(key: string, value: string): Promise<void> {
    await this.query(`INSERT INTO ${TABLE} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, [key, value]);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.query(`DELETE FROM ${TABLE} WHERE key = ? RETURNING key`, [key])).length > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.query(`DELETE FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?)) RETURNING key`, [JSON.stringify(keys)])).length > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.query(`SELECT 1 FROM ${TABLE} WHERE key = ?`, [key])).length > 0;
  }

  async clear(): Promise<void> {
    const [from, to] = range(this.namespace);
    await this.query(`DELETE FROM ${TABLE} WHERE key >= ? AND key < ?`, [from, to]);
  }

  /** Up to `limit` rows of a namespace in key order, after the key `after` (from its first key without one):
   *  one index seek per page, where `LIMIT … OFFSET …` rescanned every earlier row. */
  page(namespace: string | undefined, after: string | undefined, limit: number): Promise<Array<{ key: string; value: string }>> {
    const [from, to] = range(namespace);
    return this.query(`SELECT key, value FROM ${TABLE} WHERE key ${after === undefined ? '>=' : '>'} ? AND key < ? ORDER BY key LIMIT ?`, [after ?? from, to, limit]);
  }

  async *iterator(namespace?: string): AsyncGenerator<[string, string]> {
    let after: string | undefined;
    for (;;) {
      const rows = await this.page(namespace, after, PAGE);
      for (const row of rows) yield [row.key, row.value];
      if (rows.length < PAGE) return;
      after = rows.at(-1)!.key;
    }
  }

  /** The connection is the store's, closed once by it. */
  async disconnect(): Promise<void> {}
}

/** The keys of a namespace as a range of the primary key: `ns:` ≤ key < `ns;` (';' follows ':'). */
function range(namespace: string | undefined): [string, string] {
  return namespace ? [`${namespace}:`, `${namespace};`] : ['', '\u{10FFFF}'];
}
