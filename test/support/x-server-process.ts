/**
 * The X-compatible server as its own process, so a benchmark's client does not share a CPU (or an event
 * loop) with the server's signature checks and image decoding.
 *
 * As a script (`node dist/test/support/x-server-process.js '<XServerOptions as JSON>'`, forked with an IPC
 * channel): starts the server and prints `{"url", "consumer", "pid"}` as one JSON line on stdout, then
 * answers requests from the parent over IPC (add users, counts, CPU used). `spawnXServer` does all that,
 * optionally pinned to CPUs with taskset.
 */
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { startXServer, type Fault, type XServer, type XServerOptions } from './x-server.js';

export interface RemoteUser {
  id: string;
  screenName: string;
  token: string;
  secret: string;
}

export interface RemoteStats {
  uploads: number;
  /** Distinct users with at least one accepted upload. */
  uploadedUsers: number;
  /** Accepted update_profile_banner requests. */
  banners: number;
  /** Requests answered, by "METHOD path status" (profile image downloads as "GET /profile_images/* status"). */
  requests: Record<string, number>;
  /** CPU the server process used, in ms (user + system). */
  cpuMs: number;
}

type Request =
  | { op: 'addUsers'; count: number; prefix: string; idBase?: string }
  | { op: 'stats' }
  | { op: 'rateLimitFirstAttempts'; fraction: number; resetAfterMs: number }
  | { op: 'fail'; fault: RemoteFault }
  | { op: 'close' };

/** A fault sent over IPC: a string path (a RegExp does not cross it); `times: Infinity` is written as null. */
export type RemoteFault = Omit<Fault, 'path' | 'times'> & { path: string; times?: number | null };

export interface RemoteXServer {
  url: string;
  consumer: { key: string; secret: string };
  pid: number;
  /** The taskset CPU list the server runs on, or 'any'. */
  cpus: string;
  addUsers(count: number, prefix: string, idBase?: bigint): Promise<RemoteUser[]>;
  stats(): Promise<RemoteStats>;
  rateLimitFirstAttempts(options: { fraction: number; resetAfterMs: number }): Promise<void>;
  /** The server's fault injection (XServer.fail), for any endpoint. */
  fail(fault: Fault & { path: string }): Promise<void>;
  close(): Promise<void>;
}

/** Whether taskset exists and this machine has more than one CPU to pin to. */
export function canPin(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** Pin every thread of this process to `cpus` (a taskset list, e.g. "1"); false when it cannot. */
export function pinSelf(cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-cp', cpus, String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export async function spawnXServer(options: XServerOptions = {}, pin?: { cpus: string }): Promise<RemoteXServer> {
  const script = fileURLToPath(import.meta.url);
  const pinned = pin !== undefined && canPin();
  const child = fork(script, [JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    ...(pinned ? { execPath: 'taskset', execArgv: ['-c', pin.cpus, process.execPath] } : {}),
  });
  const first = await new Promise<string>((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => done(line));
    child.once('exit', (code) => fail(new Error(`the X server process exited (${code}) before it listened`)));
  });
  const started = JSON.parse(first) as { url: string; consumer: { key: string; secret: string }; pid: number };
  let nextId = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  child.on('message', (message: { id: number; result: unknown }) => {
    waiting.get(message.id)?.(message.result);
    waiting.delete(message.id);
  });
  const ask = <T>(request: Request) =>
    new Promise<T>((done) => {
      const id = nextId++;
      waiting.set(id, done as (value: unknown) => void);
      child.send({ id, ...request });
    });
  return {
    ...started,
    cpus: pinned ? pin.cpus : 'any',
    async addUsers(count, prefix, idBase) {
      // In batches: one IPC message of 10,000 users is fine, but keep each under a few MB.
      const users: RemoteUser[] = [];
      for (let from = 0; from < count; from += 2000) {
        const base = idBase === undefined ? undefined : String(idBase + BigInt(from));
        users.push(...(await ask<RemoteUser[]>({ op: 'addUsers', count: Math.min(2000, count - from), prefix: `${prefix}${from}_`, ...(base ? { idBase: base } : {}) })));
      }
      return users;
    },
    stats: () => ask<RemoteStats>({ op: 'stats' }),
    rateLimitFirstAttempts: (limits) => ask<void>({ op: 'rateLimitFirstAttempts', ...limits }),
    fail: (fault) => ask<void>({ op: 'fail', fault: { ...fault, times: fault.times === Infinity ? null : fault.times } }),
    async close() {
      const exited = new Promise((done) => child.once('exit', done));
      child.send({ id: nextId++, op: 'close' });
      await exited;
    },
  };
}

async function serve(server: XServer): Promise<void> {
  process.on('message', async (message: { id: number } & Request) => {
    let result: unknown;
    switch (message.op) {
      case 'addUsers':
        result = Array.from({ length: message.count }, (_, i) => {
          const user = server.addUser({ screenName: `${message.prefix}${i}`, ...(message.idBase ? { id: String(BigInt(message.idBase) + BigInt(i)) } : {}) });
          return { id: user.id, screenName: user.screenName, token: user.accessToken.token, secret: user.accessToken.secret };
        });
        break;
      case 'stats': {
        const requests: Record<string, number> = {};
        for (const request of server.requests) {
          const path = request.path.startsWith('/profile_images/') ? '/profile_images/*' : request.path;
          const key = `${request.method} ${path} ${request.status}`;
          requests[key] = (requests[key] ?? 0) + 1;
        }
        const cpu = process.cpuUsage();
        result = { uploads: server.uploads.length, uploadedUsers: new Set(server.uploads.map((upload) => upload.userId)).size, banners: server.banners.length, requests, cpuMs: (cpu.user + cpu.system) / 1000 } satisfies RemoteStats;
        break;
      }
      case 'rateLimitFirstAttempts':
        server.rateLimitFirstAttempts(message);
        break;
      case 'fail': {
        const { times, ...fault } = message.fault;
        server.fail({ ...fault, times: times === null ? Infinity : times });
        break;
      }
      case 'close':
        await server.close();
        process.send!({ id: message.id, result: null }, () => process.exit(0));
        return;
    }
    process.send!({ id: message.id, result });
  });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startXServer(JSON.parse(process.argv[2] ?? '{}') as XServerOptions);
  process.stdout.write(`${JSON.stringify({ url: server.url, consumer: server.consumer, pid: process.pid })}\n`);
  await serve(server);
}
