/**
 * The bot's HTTP server against hostile clients. Whoever reaches the port can send anything; every
 * malformed request gets a 4xx or a closed connection, the process lives on, /healthz still answers.
 * Also: HEAD /healthz, the bind address, and that /healthz floods neither write to the store nor probe
 * it per request, and that a hung store makes /healthz answer 503 instead of hanging.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { startHarness } from '../support/bot-harness.js';
import { isAlive, startBotProcess } from '../support/bot-process.js';
import { startDiscordServer } from '../support/discord-server.js';
import { seededRandom } from '../support/seeded-random.js';
import { startXServer } from '../support/x-server.js';
import { useHarness } from '../bot/helpers.js';

interface Exchange {
  statuses: number[];
  closed: boolean;
}

/** Write raw bytes to the server, half-close (unless `keepOpen`), and collect the status lines until it closes. */
function exchange(port: number, bytes: string | Buffer, options: { keepOpen?: boolean; timeoutMs?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ statuses: [...raw.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((match) => Number(match[1])), closed });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5000);
    socket.on('data', (chunk) => (raw += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(bytes);
      if (!options.keepOpen) socket.end();
    });
  });
}

/** The requests found fatal before: each threw "Invalid URL" synchronously and the process exited 1. */
const ONCE_FATAL = ['http://[/x', '//[', '//a:99999/', '//%zz', '///', '//', '//[::1', 'http://a:99999/', 'http://%zz/', '//user@[/', 'http://[', '//:0/'];

function hostileRequests(): Array<[string, string | Buffer]> {
  const list: Array<[string, string | Buffer]> = [];
  const get = (target: string, method = 'GET', headers = 'Host: bot\r\n') => `${method} ${target} HTTP/1.1\r\n${headers}\r\n`;
  const targets = [
    ...ONCE_FATAL,
    '*',
    '/\\evil.example/',
    '\\\\evil',
    'healthz',
    '?a=b',
    'http://127.0.0.1/healthz',
    'https://user:pass@/',
    'mailto:x@example.com',
    '/%',
    '/%zz',
    '/%00',
    '/%ff%fe',
    `/${'a'.repeat(3000)}`,
    '/oauth/callback?oauth_token=%ff&oauth_verifier=%zz',
    `/oauth/callback?oauth_token=${'t'.repeat(1000)}&oauth_verifier=1`,
    '/oauth/callback?oauth_token=nope&oauth_verifier=nope',
    '/oauth/callback?oauth_token&oauth_verifier',
    '/oauth/discord?state=%E0%A4%A',
    '/oauth/discord?code=x',
    '/oauth/discord?state=&code=',
    `/oauth/discord?state=${'s'.repeat(5000)}`,
    '/oauth/confirm',
  ];
  for (const target of targets) for (const method of ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS']) list.push([`${method} ${target.slice(0, 60)}`, get(target, method)]);
  list.push(
    ['raw non-ASCII target', Buffer.concat([Buffer.from('GET /'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(' HTTP/1.1\r\nHost: bot\r\n\r\n')])],
    ['unknown method', get('/healthz', 'FOO')],
    ['lower-case method', get('/healthz', 'get')],
    ['TRACE', get('/healthz', 'TRACE')],
    ['PUT /healthz', get('/healthz', 'PUT')],
    ['CONNECT authority-form', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'],
    ['HTTP/0.9', 'GET /healthz\r\n'],
    ['HTTP/2.0 over text', 'GET /healthz HTTP/2.0\r\nHost: bot\r\n\r\n'],
    ['HTTP/9.9', 'GET /healthz HTTP/9.9\r\nHost: bot\r\n\r\n'],
    ['HTTP/1.1x', 'GET /healthz HTTP/1.1x\r\nHost: bot\r\n\r\n'],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['no Host in HTTP/1.1', 'GET /healthz HTTP/1.1\r\n\r\n'],
    ['Host: [', get('/nope', 'GET', 'Host: [\r\n')],
    ['Host with a bad port', get('/nope', 'GET', 'Host: a:99999\r\n')],
    ['two Hosts', get('/nope', 'GET', 'Host: a\r\nHost: b\r\n')],
    ['huge header', get('/healthz', 'GET', `Host: bot\r\nX-Big: ${'b'.repeat(20_000)}\r\n`)],
    ['many headers', get('/nope', 'GET', `Host: bot\r\n${Array.from({ length: 500 }, (_, i) => `X-${i}: ${i}\r\n`).join('')}`)],
    ['CR inside a header', get('/healthz', 'GET', 'Host: bot\r\nX-A: a\rb\r\n')],
    ['header injection via LF', get('/healthz', 'GET', 'Host: bot\r\nX-A: a\nSet-Cookie: x=y\r\n')],
    ['NUL in a header', get('/healthz', 'GET', 'Host: bot\r\nX-A: a\0b\r\n')],
    ['obsolete line folding', get('/healthz', 'GET', 'Host: bot\r\nX-A: a\r\n b\r\n')],
    ['space before colon', get('/healthz', 'GET', 'Host: bot\r\nX-A : a\r\n')],
    ['Content-Length: -1', get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Length: -1\r\n')],
    ['Content-Length: 1, 2', get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Length: 1, 2\r\n')],
    ['Content-Length and Transfer-Encoding', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n')}0\r\n\r\n`],
    ['bad chunk size', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n')}zz\r\nabc\r\n0\r\n\r\n`],
    ['huge chunk', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n')}fffffffffffffff\r\n${'a'.repeat(5000)}`],
    ['declared huge form', get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n')],
    ['5 KB form', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n')}${'a'.repeat(5000)}`],
    ['5 KB chunked form', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n')}1388\r\n${'a'.repeat(5000)}\r\n0\r\n\r\n`],
    ['JSON instead of a form', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/json\r\nContent-Length: 2\r\n')}{}`],
    ['forged confirm token', `${get('/oauth/confirm', 'POST', 'Host: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\nCookie: avatar_bot_link=x\r\n')}confirm=abcd`],
    ['pipelined garbage after a bad request', `${get('//[')}GARBAGE\r\n\r\n`],
    ['pipelined: a bad target then a bad version', `${get('/%zz')}GET / HTTP/7.0\r\n\r\n`],
    ['request smuggling attempt', `POST /oauth/confirm HTTP/1.1\r\nHost: bot\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET //[ HTTP/1.1\r\nHost: bot\r\n\r\n`],
    ['only CRLFs', '\r\n\r\n\r\n\r\n'],
    ['TLS ClientHello', Buffer.from('16030100a5010000a10303', 'hex')],
  );
  const random = seededRandom(1432);
  for (let i = 0; i < 40; i += 1) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
    list.push([`random bytes #${i}`, i % 2 === 0 ? bytes : Buffer.concat([Buffer.from('GET /'), bytes, Buffer.from(' HTTP/1.1\r\nHost: bot\r\n\r\n')])]);
  }
  return list;
}

/** A 4xx, or no answer and a closed connection. */
function refused(result: Exchange): boolean {
  return result.closed && result.statuses.every((status) => status >= 400 && status < 500);
}

async function inBatches<T, R>(items: T[], size: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  return results;
}

describe('hostile requests to the running bot (callback flow on, so every route exists)', () => {
  const h = useHarness({ callbackFlow: true });

  it('each gets a 4xx or a closed connection, slow clients are cut off, and /healthz still answers', async () => {
    const port = h.bot.http.port;
    // Slowloris: 30 connections that send half a request and then nothing.
    const slow = Array.from({ length: 30 }, () => exchange(port, 'GET /healthz HTTP/1.1\r\nHost: bot\r\nX-Slow: ', { keepOpen: true, timeoutMs: 25_000 }));

    const requests = hostileRequests();
    expect(requests.length).toBeGreaterThan(150);
    const results = await inBatches(requests, 16, async ([name, bytes]) => ({ name, ...(await exchange(port, bytes)) }));
    expect(results.filter((result) => !refused(result)).map((result) => `${result.name}: ${JSON.stringify(result)}`)).toEqual([]);
    // Most are answered with a status rather than just dropped.
    expect(results.filter((result) => result.statuses.length > 0).length).toBeGreaterThan(requests.length * 0.8);

    const healthy = await fetch(`${h.httpUrl()}/healthz`);
    expect(healthy.status).toBe(200);
    // The slow connections are closed by the server (headersTimeout), with a 408 or nothing.
    for (const result of await Promise.all(slow)) expect(refused(result), JSON.stringify(result)).toBe(true);
    expect(h.logs.filter((line) => line.includes('"level":50'))).toEqual([]);
    expect((await fetch(`${h.httpUrl()}/healthz`)).status).toBe(200);
  });

  it('HEAD /healthz answers like GET without a body; other methods on known paths get 405 with Allow', async () => {
    const head = await fetch(`${h.httpUrl()}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(await head.text()).toBe('');
    const post = await fetch(`${h.httpUrl()}/healthz`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await fetch(`${h.httpUrl()}/oauth/callback`, { method: 'PUT' })).headers.get('allow')).toBe('GET');
    expect((await fetch(`${h.httpUrl()}/nothing`)).status).toBe(404);
  });
});

describe('the bot process (avatar-bot start) survives the requests that used to kill it', () => {
  it('answers each with a 4xx or a close and keeps running', async () => {
    const discord = await startDiscordServer();
    const x = await startXServer();
    const bot = await startBotProcess(discord, x, 'node');
    try {
      for (const target of ONCE_FATAL) {
        const result = await exchange(bot.port, `GET ${target} HTTP/1.1\r\nHost: bot\r\n\r\n`);
        expect(refused(result), `${target}: ${JSON.stringify(result)}`).toBe(true);
      }
      expect(isAlive(bot.pid)).toBe(true);
      expect((await fetch(`http://127.0.0.1:${bot.port}/healthz`)).status).toBe(200);
      expect(bot.lines.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
    } finally {
      bot.cleanUp();
      await Promise.all([discord.close(), x.close()]);
    }
  });
});

describe('bind address', () => {
  it('HTTP_HOST defaults to 127.0.0.1 without PUBLIC_URL, to all IPv4 interfaces with it, and is validated', () => {
    expect(parseConfig({}).httpHost).toBe('127.0.0.1');
    expect(parseConfig({ PUBLIC_URL: 'https://bot.example' }).httpHost).toBe('0.0.0.0');
    expect(parseConfig({ PUBLIC_URL: 'https://bot.example', HTTP_HOST: '127.0.0.1' }).httpHost).toBe('127.0.0.1');
    expect(parseConfig({ HTTP_HOST: '::1' }).httpHost).toBe('::1');
    expect(() => parseConfig({ HTTP_HOST: 'not a host!' })).toThrow('HTTP_HOST is "not a host!": use an IP address such as 127.0.0.1 or 0.0.0.0, or a host name.');
  });

  describe('a bot without PUBLIC_URL', () => {
    const h = useHarness({ env: { HTTP_HOST: '' } });

    it('listens on loopback only', async () => {
      expect(h.bot.http.address).toBe('127.0.0.1');
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
      // On a machine with another interface, the port is closed there.
      const reached = external
        ? await new Promise<boolean>((resolve) => {
            const socket = connect(h.bot.http.port, external);
            socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
          }).finally(() => undefined)
        : false;
      expect(reached).toBe(false);
    });
  });
});

const FLOOD_STORES: Array<[string, string | undefined]> = [['SQLite', undefined]];
if (process.env.REDIS_URL) FLOOD_STORES.push(['Redis', `${process.env.REDIS_URL.replace(/\/\d*$/, '')}/1`]);

describe.each(FLOOD_STORES)('a /healthz flood on %s', (_, storeUrl) => {
  const h = useHarness(storeUrl ? { env: { STORE_URL: storeUrl } } : {});

  it('writes nothing to the store', async () => {
    const health = h.records.store.namespace('health');
    const before = { ping: await health.get('ping'), probe: await health.get('probe') };
    const cpu = process.cpuUsage();
    const statuses = await inBatches(Array.from({ length: 800 }), 50, async () => (await fetch(`${h.httpUrl()}/healthz`)).status);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect({ ping: await health.get('ping'), probe: await health.get('probe') }).toEqual(before);
    // 800 requests in one process (client and server) stay cheap: well under 5 s of CPU.
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1000).toBeLessThan(5000);
  });
});

describe('a Redis store of its own', () => {
  let redis: ChildProcess | undefined;
  afterAll(() => {
    redis?.kill('SIGCONT');
    redis?.kill('SIGKILL');
  });

  it('a /healthz flood costs one store read per interval and no write; a hung store makes /healthz answer 503 instead of hanging', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const attempt = () => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve()));
        socket.once('error', () => (Date.now() - started > 10_000 ? reject(new Error('redis-server did not start')) : setTimeout(attempt, 50)));
      };
      attempt();
    });
    const h = await startHarness({ env: { STORE_URL: `redis://127.0.0.1:${port}` } });
    try {
      expect((await fetch(`${h.httpUrl()}/healthz`)).status).toBe(200);
      const commands = () => {
        const stats = execFileSync('redis-cli', ['-p', String(port), 'info', 'commandstats'], { encoding: 'utf8' });
        const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        return { reads: calls('get') + calls('mget'), writes: calls('set') + calls('del') + calls('sadd') };
      };
      const before = commands();
      const statuses = await inBatches(Array.from({ length: 400 }), 40, async () => (await fetch(`${h.httpUrl()}/healthz`)).status);
      const after = commands();
      expect(new Set(statuses)).toEqual(new Set([200]));
      expect(after.writes - before.writes).toBe(0);
      // One read per 1.5 s: 400 requests take far less than 30 s here, so far fewer than 20 reads.
      expect(after.reads - before.reads).toBeLessThan(20);

      redis.kill('SIGSTOP'); // the store stops answering, its connection stays open
      await new Promise((resolve) => setTimeout(resolve, 1600)); // past the cached answer
      const answers = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const response = await fetch(`${h.httpUrl()}/healthz`, { signal: AbortSignal.timeout(3000) });
          return { status: response.status, body: await response.json() };
        }),
      );
      for (const answer of answers) expect(answer).toEqual({ status: 503, body: { status: 'unhealthy', gateway: 'ready', store: 'unreachable' } });
      redis.kill('SIGCONT');
    } finally {
      redis.kill('SIGCONT');
      await h.close();
    }
  });
});
