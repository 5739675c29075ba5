/**
 * The run coordination on PostgreSQL (src/coordination/postgres.ts): two coordinations on one database, as
 * two bot processes have. On the shared server (DATABASE_URL) each run uses a schema of its own (through
 * the connection's search_path), so its lease and change tables meet no other test's. The server is
 * stopped only in the last suite, which starts a private PostgreSQL for it.
 */
import { randomBytes } from 'node:crypto';
import pg, { type Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresCoordination, type PostgresCoordination } from '../../src/coordination/postgres.js';
import { createLogger } from '../../src/log.js';
import { StoreError } from '../../src/store/backend.js';
import { eventually } from '../support/eventually.js';
import { freePort, startPrivatePostgres, type PrivateServer } from '../support/private-servers.js';

const logger = createLogger({ level: 'silent' });
const databaseUrl = process.env.DATABASE_URL;

/** `url` with every connection's search_path set to `schema`. */
const inSchema = (url: string, schema: string) => `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

/** The ids each subscriber has seen, in order. */
function watch(coordination: PostgresCoordination): string[] {
  const seen: string[] = [];
  coordination.subscribe((id) => seen.push(id));
  return seen;
}

describe.each(databaseUrl ? [databaseUrl] : [])('two coordinations on one PostgreSQL database', (url) => {
  const schema = `coordination_${process.pid}_${randomBytes(4).toString('hex')}`;
  let admin: Pool;
  let url2: string;
  const open: PostgresCoordination[] = [];
  const coordination = async (options: Parameters<typeof postgresCoordination>[2] = {}) => {
    const made = await postgresCoordination(url2, logger, options);
    open.push(made);
    return made;
  };

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: url, max: 2 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    url2 = inSchema(url, schema);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((made) => made.close()));
  });

  afterAll(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });

  it('lets exactly one of them run each key when both ask at once, many times over', async () => {
    const [a, b] = await Promise.all([coordination(), coordination()]);
    const keys = Array.from({ length: 40 }, (_, i) => `avatar:1234567890123456${i}:${Date.now()}:2026-11-30T18:00:00.000Z`);
    const answers = await Promise.all(keys.map((key) => Promise.all([a, b, a, b, a, b].map((side) => side.coordinator.shouldRun(key, 60_000)))));
    for (const perKey of answers) expect(perKey.filter(Boolean)).toHaveLength(1);
    // The tables are in this test's schema, none in public.
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.avatar_bot_locks WHERE name LIKE 'run:%'`);
    expect(Number(rows[0]!.n)).toBe(keys.length);
  });

  it('frees a key once its ttl is over (the server\'s clock), and never before', async () => {
    const [a, b] = await Promise.all([coordination(), coordination()]);
    expect(await a.coordinator.shouldRun('ttl-key', 400)).toBe(true);
    expect(await b.coordinator.shouldRun('ttl-key', 400)).toBe(false);
    expect(await a.coordinator.shouldRun('ttl-key', 400)).toBe(false); // a run lease is not the holder's again either
    await admin.query('SELECT pg_sleep(0.5)');
    expect(await b.coordinator.shouldRun('ttl-key', 400)).toBe(true);
    expect(await a.coordinator.shouldRun('ttl-key', 400)).toBe(false);
  });

  it('deletes expired run leases, and only run leases', async () => {
    const a = await coordination({ pruneEveryMs: 200 });
    await a.coordinator.shouldRun('short', 1);
    await a.coordinator.shouldRun('long', 60_000);
    await admin.query(`INSERT INTO ${schema}.avatar_bot_locks (name, token, expires_at) VALUES ('schedules:1', 't', clock_timestamp() - interval '1 second')`);
    await eventually(async () => {
      const { rows } = await admin.query<{ name: string }>(`SELECT name FROM ${schema}.avatar_bot_locks ORDER BY name`);
      expect(rows.map((row) => row.name)).toEqual(expect.arrayContaining(['run:long', 'schedules:1']));
      expect(rows.map((row) => row.name)).not.toContain('run:short');
    });
  });

  it('delivers a change published in one to the subscribers of both', async () => {
    const [a, b] = await Promise.all([coordination(), coordination()]);
    const [seenA, seenB] = [watch(a), watch(b)];
    await a.publish('111111111111111111');
    await b.publish('222222222222222222');
    await eventually(async () => {
      expect(seenB).toEqual(expect.arrayContaining(['111111111111111111', '222222222222222222']));
      expect(seenA).toEqual(expect.arrayContaining(['111111111111111111', '222222222222222222']));
    });
    await expect(a.publish('9'.repeat(65))).rejects.toThrow(RangeError);
  });

  it('listens again after its connection is terminated: a change published meanwhile is replayed, later ones arrive', async () => {
    const a = await coordination();
    // Listening again 1.5 s after the drop, so the publish below certainly falls while nobody listens.
    const b = await coordination({ firstRetryMs: 1_500 });
    const seen = watch(b);
    const before = b.listenerPid!;
    expect(before).toBeGreaterThan(0);
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [before]);
    expect(rows[0]!.ok).toBe(true);
    await eventually(async () => expect(b.listenerPid).toBeUndefined());
    await a.publish('333333333333333333');
    expect(b.listenerPid).toBeUndefined(); // published while b had no LISTEN: that NOTIFY is lost
    await eventually(async () => expect(b.listenerPid).toBeDefined(), 10_000);
    expect(b.listenerPid).not.toBe(before);
    await eventually(async () => expect(seen).toContain('333333333333333333'));
    await a.publish('444444444444444444');
    await eventually(async () => expect(seen).toContain('444444444444444444'));
  });
});

describe('while PostgreSQL is down', () => {
  let server: PrivateServer;

  beforeAll(async () => {
    server = await startPrivatePostgres();
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
  });

  it('refuses to start with an unreachable-store error when nothing listens on the port', async () => {
    const port = await freePort();
    const error = await postgresCoordination(`postgresql://postgres@127.0.0.1:${port}/postgres`, logger).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).kind).toBe('unreachable');
  });

  it('fails every lease and publish at once with an unreachable-store error, and works again after the server is back', async () => {
    const [a, b] = await Promise.all([postgresCoordination(server.url, logger), postgresCoordination(server.url, logger)]);
    try {
      const seen = watch(b);
      expect(await a.coordinator.shouldRun('before', 60_000)).toBe(true);
      await server.stop();
      const cpuBefore = process.cpuUsage();
      for (const attempt of [() => a.coordinator.shouldRun('while-down', 60_000), () => a.publish('555555555555555555')]) {
        const error = await Promise.resolve(attempt()).catch((failure: unknown) => failure);
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).kind).toBe('unreachable');
      }
      const cpu = process.cpuUsage(cpuBefore);
      expect(cpu.user + cpu.system).toBeLessThan(500_000); // no busy retrying inside a call
      await eventually(async () => expect(b.listenerPid).toBeUndefined());
      await server.start();
      expect(await a.coordinator.shouldRun('before', 60_000)).toBe(false); // the lease survived the restart
      expect(await b.coordinator.shouldRun('after', 60_000)).toBe(true);
      await eventually(async () => expect(b.listenerPid).toBeDefined(), 10_000);
      await a.publish('666666666666666666');
      await eventually(async () => expect(seen).toContain('666666666666666666'));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});
