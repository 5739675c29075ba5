import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createDownloader, DownloadError, isAllowedUrl, type Downloader, type DownloaderOptions } from '../src/download.js';

const MB = 1024 * 1024;

interface TestServer {
  origin: string;
  host: string;
  /** TCP connections accepted: zero means the downloader never contacted this server. */
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const result: TestServer = {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    connections: 0,
    requests: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => result.connections++);
  server.on('request', (req: IncomingMessage) => result.requests.push(req.url ?? ''));
  cleanups.push(result.close);
  return result;
}

function downloader(options: DownloaderOptions): Downloader {
  const created = createDownloader(options);
  cleanups.push(() => created.close());
  return created;
}

/** A real undici Agent that records every request it is asked to send. */
function recordingDispatcher(): { dispatcher: Dispatcher; sent: string[] } {
  const sent: string[] = [];
  const agent = new Agent();
  cleanups.push(() => agent.close());
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    sent.push(`${String(options.origin)}${options.path}`);
    return dispatch(options, handler);
  });
  return { dispatcher, sent };
}

async function failure(promise: Promise<unknown>): Promise<DownloadError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DownloadError);
  return error as DownloadError;
}

const serveBytes = (bytes: Buffer) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
  res.end(bytes);
};

describe('isAllowedUrl', () => {
  const hosts = ['cdn.discordapp.com', 'media.discordapp.net', 'pbs.twimg.com:8443', '127.0.0.1:4000', 'localhost:4000', '[::1]:4000'];

  it('accepts https to an allowed host on the default port, and http only to loopback', () => {
    expect(isAllowedUrl('https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&hm=2', hosts)).toBe(true);
    expect(isAllowedUrl('https://CDN.DiscordApp.com:443/a.png', hosts)).toBe(true);
    expect(isAllowedUrl('https://pbs.twimg.com:8443/profile_images/1/a.jpg', hosts)).toBe(true);
    expect(isAllowedUrl('http://127.0.0.1:4000/a.png', hosts)).toBe(true);
    expect(isAllowedUrl('http://localhost:4000/a.png', hosts)).toBe(true);
    expect(isAllowedUrl('http://[::1]:4000/a.png', hosts)).toBe(true);

    expect(isAllowedUrl('http://cdn.discordapp.com/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('ftp://cdn.discordapp.com/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('file:///etc/passwd', hosts)).toBe(false);
    expect(isAllowedUrl('not a url', hosts)).toBe(false);
  });

  it('matches the host exactly, and a host without a port only on the default port', () => {
    expect(isAllowedUrl('https://cdn.discordapp.com:8443/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('https://pbs.twimg.com/profile_images/1/a.jpg', hosts)).toBe(false);
    expect(isAllowedUrl('http://127.0.0.1:4001/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('http://127.0.0.1/a.png', ['127.0.0.1'])).toBe(true);
    expect(isAllowedUrl('http://127.0.0.1:4000/a.png', ['127.0.0.1'])).toBe(false);
    expect(isAllowedUrl('https://evil.cdn.discordapp.com/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('https://cdn.discordapp.com.evil.example/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('https://evil.example/cdn.discordapp.com/a.png', hosts)).toBe(false);
  });

  it('refuses userinfo, including the host-looking kind', () => {
    expect(isAllowedUrl('https://user:pass@cdn.discordapp.com/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('https://cdn.discordapp.com@evil.example/a.png', hosts)).toBe(false);
    expect(isAllowedUrl('https://cdn.discordapp.com:@evil.example/a.png', hosts)).toBe(false);
  });
});

describe('download', () => {
  it('returns the bytes intact, with or without a content-length', async () => {
    const image = randomBytes(300 * 1024);
    const server = await startServer((req, res) => {
      if (req.url === '/sized.png') return serveBytes(image)(req, res);
      res.writeHead(200); // chunked
      for (let offset = 0; offset < image.length; offset += 10_000) res.write(image.subarray(offset, offset + 10_000));
      res.end();
    });
    const downloads = downloader({ allowedHosts: [server.host] });

    expect((await downloads.download(`${server.origin}/sized.png?ex=1&hm=abc`)).equals(image)).toBe(true);
    expect((await downloads.download(`${server.origin}/chunked.png`)).equals(image)).toBe(true);
    expect(server.requests).toEqual(['/sized.png?ex=1&hm=abc', '/chunked.png']);
  });

  it('refuses a host that is not in the list without connecting to it', async () => {
    const server = await startServer(serveBytes(Buffer.from('image')));
    const port = server.host.split(':')[1];
    const discordOnly = downloader({ allowedHosts: ['cdn.discordapp.com'], sourceName: 'Discord' });
    const error = await failure(discordOnly.download(`${server.origin}/a.png?ex=1&hm=signature`));
    expect(error.kind).toBe('host-not-allowed');
    expect(error.userMessage).toBe('I can only download images that were uploaded to Discord.');
    expect(error.message).not.toContain('signature');

    // The same machine under another name, or the right host on a port the entry does not name.
    expect((await failure(downloader({ allowedHosts: [`localhost:${port}`] }).download(`${server.origin}/a.png`))).kind).toBe('host-not-allowed');
    expect((await failure(downloader({ allowedHosts: ['127.0.0.1'] }).download(`${server.origin}/a.png`))).kind).toBe('host-not-allowed');
    expect(server.connections).toBe(0);
  });

  it('refuses http to a host that is not loopback, and userinfo, before sending anything', async () => {
    const { dispatcher, sent } = recordingDispatcher();
    const downloads = downloader({ allowedHosts: ['cdn.discordapp.com'], dispatcher });
    expect((await failure(downloads.download('http://cdn.discordapp.com/attachments/1/2/a.png'))).kind).toBe('host-not-allowed');
    expect((await failure(downloads.download('https://cdn.discordapp.com:8443/attachments/1/2/a.png'))).kind).toBe('host-not-allowed');
    const withUser = await failure(downloads.download('https://bot:hunter2@cdn.discordapp.com/attachments/1/2/a.png'));
    expect(withUser.kind).toBe('host-not-allowed');
    expect(withUser.message).not.toContain('hunter2');
    expect(sent).toEqual([]);
  });

  it('refuses userinfo even to an allowed loopback server, which gets no connection', async () => {
    const server = await startServer(serveBytes(Buffer.from('image')));
    const downloads = downloader({ allowedHosts: [server.host] });
    const error = await failure(downloads.download(`http://user:secret@${server.host}/a.png`));
    expect(error.kind).toBe('host-not-allowed');
    expect(error.message).not.toContain('secret');
    expect(server.connections).toBe(0);
  });

  it('follows redirects between allowed hosts, relative ones included', async () => {
    const image = randomBytes(2048);
    const final = await startServer(serveBytes(image));
    const first = await startServer((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/moved' }).end();
      else res.writeHead(301, { location: `${final.origin}/image.png` }).end('moved');
    });
    const downloads = downloader({ allowedHosts: [first.host, final.host] });

    expect((await downloads.download(`${first.origin}/start`)).equals(image)).toBe(true);
    expect(first.requests).toEqual(['/start', '/moved']);
    expect(final.requests).toEqual(['/image.png']);
  });

  it('refuses a redirect to a host not in the list, which is never contacted', async () => {
    const elsewhere = await startServer(serveBytes(Buffer.from('image')));
    const first = await startServer((_req, res) => res.writeHead(302, { location: `${elsewhere.origin}/image.png` }).end());
    const downloads = downloader({ allowedHosts: [first.host] });

    const error = await failure(downloads.download(`${first.origin}/start`));
    expect(error.kind).toBe('host-not-allowed');
    expect(first.requests).toEqual(['/start']);
    expect(elsewhere.connections).toBe(0);
  });

  it('follows at most maxRedirects redirects', async () => {
    const image = randomBytes(512);
    const chain = await startServer((req, res) => {
      const [, , hop, last] = (req.url ?? '').split('/'); // /hop/<n>/<last>
      if (hop === last) return serveBytes(image)(req, res);
      res.writeHead(307, { location: `/hop/${Number(hop) + 1}/${last}` }).end();
    });
    const downloads = downloader({ allowedHosts: [chain.host], maxRedirects: 3 });

    expect((await downloads.download(`${chain.origin}/hop/0/3`)).equals(image)).toBe(true);
    chain.requests.length = 0;

    const error = await failure(downloads.download(`${chain.origin}/hop/0/4`));
    expect(error.kind).toBe('http-error');
    expect(error.status).toBe(307);
    expect(error.userMessage).toBe("I couldn't download that image (too many redirects); try again.");
    expect(chain.requests).toEqual(['/hop/0/4', '/hop/1/4', '/hop/2/4', '/hop/3/4']);
  });

  it('refuses a content-length above the cap without waiting for the body', async () => {
    let closed!: () => void;
    const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
    const server = await startServer((_req, res) => {
      res.on('close', closed);
      res.writeHead(200, { 'content-length': 2 * MB });
      res.flushHeaders(); // and never send the body: only the header can end this download early
    });
    const downloads = downloader({ allowedHosts: [server.host], maxBytes: MB, timeoutMs: 10_000 });

    const started = Date.now();
    const error = await failure(downloads.download(`${server.origin}/big.png`));
    expect(error.kind).toBe('download-too-large');
    expect(error.userMessage).toBe('That file is bigger than 1 MB; send a smaller image.');
    expect(Date.now() - started).toBeLessThan(5_000);
    await serverSawClose;
  });

  it('aborts a chunked 30 MB stream as soon as it passes the cap', async () => {
    const total = 30 * MB;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    let closedEarly!: (finished: { writtenAtClose: number; finished: boolean }) => void;
    const serverSawClose = new Promise<{ writtenAtClose: number; finished: boolean }>((resolve) => (closedEarly = resolve));
    const server = await startServer((_req, res) => {
      res.on('close', () => closedEarly({ writtenAtClose: written, finished: res.writableFinished }));
      res.writeHead(200, { 'content-type': 'image/png' }); // no content-length: chunked
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      pump();
    });
    const downloads = downloader({ allowedHosts: [server.host], maxBytes: 2 * MB });

    const error = await failure(downloads.download(`${server.origin}/endless.png`));
    const writtenWhenRefused = written;
    expect(error.kind).toBe('download-too-large');
    expect(error.userMessage).toBe('That file is bigger than 2 MB; send a smaller image.');
    expect(writtenWhenRefused).toBeLessThan(total);

    const { writtenAtClose, finished } = await serverSawClose;
    expect(finished).toBe(false);
    expect(writtenAtClose).toBeLessThan(total);
  });

  it('refuses a declared size above the cap without any request', async () => {
    const server = await startServer(serveBytes(Buffer.from('image')));
    const downloads = downloader({ allowedHosts: [server.host] });
    const error = await failure(downloads.download(`${server.origin}/a.png`, { declaredSize: 25 * MB + 1 }));
    expect(error.kind).toBe('download-too-large');
    expect(error.userMessage).toBe('That file is bigger than 25 MB; send a smaller image.');
    expect(server.connections).toBe(0);

    expect((await downloads.download(`${server.origin}/a.png`, { declaredSize: 5 })).toString()).toBe('image');
  });

  it('gives up on a server that is too slow: stalled before the headers, stalled in the body, or trickling', async () => {
    const server = await startServer((req, res) => {
      if (req.url === '/no-headers') return; // never answers
      res.writeHead(200, { 'content-length': 1000 });
      if (req.url === '/stalled-body') return void res.write(Buffer.alloc(10)); // and stalls
      // A byte every 20 ms: no single read waits long, only the whole download is too slow.
      const trickle = setInterval(() => res.write(Buffer.alloc(1)), 20);
      res.on('close', () => clearInterval(trickle));
    });
    const downloads = downloader({ allowedHosts: [server.host], timeoutMs: 300 });

    for (const path of ['/no-headers', '/stalled-body', '/trickle']) {
      const started = Date.now();
      const error = await failure(downloads.download(`${server.origin}${path}`));
      expect(error.kind).toBe('timeout');
      expect(error.userMessage).toBe('Downloading the image took too long; try again.');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(3_000);
    }
  });

  it('reports a failed status as http-error with the status, and no query string anywhere', async () => {
    const server = await startServer((_req, res) => res.writeHead(404).end('not found'));
    const downloads = downloader({ allowedHosts: [server.host] });
    const error = await failure(downloads.download(`${server.origin}/attachments/1/2/gone.png?ex=66&hm=deadbeef`));
    expect(error.kind).toBe('http-error');
    expect(error.status).toBe(404);
    expect(error.userMessage).toBe("I couldn't download that image (HTTP 404); try again.");
    expect(error.message).toContain(`${server.host}/attachments/1/2/gone.png`);
    expect(error.message).not.toContain('deadbeef');
  });

  it('reports a refused connection as network', async () => {
    const server = await startServer(serveBytes(Buffer.from('image')));
    const host = server.host;
    await server.close(); // the port is now closed
    const downloads = downloader({ allowedHosts: [host] });
    const error = await failure(downloads.download(`http://${host}/a.png`));
    expect(error.kind).toBe('network');
    expect(error.userMessage).toBe("I couldn't download that image (the connection failed); try again.");
  });
});
