/**
 * A private redis-server and a private PostgreSQL cluster on free loopback ports in a temp dir, for tests
 * that stop, kill and restart the store (the shared servers must never be touched). PostgreSQL refuses to
 * run as root, so as root its commands run as the `postgres` user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const until = async (check: () => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
};

export interface PrivateServer {
  url: string;
  start(): Promise<void>;
  /** A clean shutdown. */
  stop(): Promise<void>;
  /** SIGKILL, no shutdown. */
  kill(): Promise<void>;
  /** Stop and start again (PostgreSQL: `pg_ctl restart -m fast`). */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-redis-'));
  let child: ChildProcess | undefined;
  const ping = () => {
    try {
      return execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() === 'PONG';
    } catch {
      return false;
    }
  };
  const exited = (process: ChildProcess) => new Promise<void>((resolve) => (process.exitCode !== null || process.signalCode !== null ? resolve() : process.once('exit', () => resolve())));
  const server: PrivateServer = {
    url: `redis://127.0.0.1:${port}/0`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
      await until(ping, 'redis-server');
    },
    async stop() {
      if (!child) return;
      const stopping = exited(child);
      child.kill('SIGTERM');
      await stopping;
      child = undefined;
    },
    async kill() {
      if (!child) return;
      const stopping = exited(child);
      child.kill('SIGKILL');
      await stopping;
      child = undefined;
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    async dispose() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

export async function startPrivatePostgres(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, command), ...args], { stdio: 'ignore', cwd: dir })
      : execFileSync(join(PG_BIN, command), args, { stdio: 'ignore', cwd: dir });
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const server: PrivateServer = {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
    },
    async stop() {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async kill() {
      const pidFile = join(data, 'postmaster.pid');
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      // The postmaster and its backends (by parent id), as a crash of the machine would leave them.
      process.kill(pid, 'SIGSTOP'); // so that it starts no new backend while they are killed
      try {
        execFileSync('pkill', ['-KILL', '-P', String(pid)], { stdio: 'ignore' });
      } catch {
        // no backends left
      }
      process.kill(pid, 'SIGKILL');
      await until(() => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, 'postgres to die');
      rmSync(pidFile, { force: true });
    },
    async restart() {
      run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-m', 'fast', '-w', 'restart']);
    },
    async dispose() {
      try {
        await server.stop();
      } catch {
        await server.kill();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export type EmptyStore = () => Promise<{ url: string; dispose(): Promise<void> }>;

/**
 * An empty store of each kind several bot processes can share, for tests that run those processes: a
 * database of the shared Redis (REDIS_URL, flushed; `redisDb` is the test's own), and a private PostgreSQL
 * (DATABASE_URL set means PostgreSQL is installed; the shared database holds other tests' schedules,
 * which the bots would run).
 */
export function sharedStoreKinds(redisDb: number): Array<[kind: string, empty: EmptyStore]> {
  const kinds: Array<[string, EmptyStore]> = [];
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    kinds.push([
      'Redis',
      async () => {
        const url = `${redisUrl.replace(/\/\d*$/, '')}/${redisDb}`;
        const { createClient } = await import('@keyv/redis');
        const redis = createClient({ url });
        await redis.connect();
        await redis.flushDb();
        await redis.quit();
        return { url, dispose: async () => undefined };
      },
    ]);
  }
  if (process.env.DATABASE_URL) {
    kinds.push([
      'PostgreSQL',
      async () => {
        const server = await startPrivatePostgres();
        return { url: server.url, dispose: () => server.dispose() };
      },
    ]);
  }
  return kinds;
}
