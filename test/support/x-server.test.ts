import { createHmac, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  hmacSha1Signature,
  MAX_BANNER_BYTES,
  xErrorBody,
  signatureBaseString,
  startXServer,
  X_PATHS,
  xFaults,
  type XServer,
} from './x-server.js';

// --- a tiny OAuth 1.0a signer, written separately from the server on purpose ------------------

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

interface Creds {
  consumerKey: string;
  consumerSecret: string;
  token?: string;
  tokenSecret?: string;
}

interface SignOptions {
  /** Extra oauth_* parameters (oauth_callback, oauth_verifier). */
  oauth?: Record<string, string>;
  /** Form body parameters that are part of the signature. */
  form?: Array<[string, string]>;
  timestamp?: number;
  nonce?: string;
  /** Sign with this consumer secret instead (to forge a bad signature). */
  wrongSecret?: string;
}

function authorizationHeader(method: string, url: string, creds: Creds, opts: SignOptions = {}): string {
  const u = new URL(url);
  const oauth: Record<string, string> = {
    oauth_consumer_key: creds.consumerKey,
    oauth_nonce: opts.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)),
    oauth_version: '1.0',
    ...(creds.token ? { oauth_token: creds.token } : {}),
    ...opts.oauth,
  };
  const all = [...Object.entries(oauth), ...u.searchParams.entries(), ...(opts.form ?? [])]
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .sort()
    .join('&');
  const base = `${method}&${rfc3986(u.origin + u.pathname)}&${rfc3986(all)}`;
  const key = `${rfc3986(opts.wrongSecret ?? creds.consumerSecret)}&${rfc3986(creds.tokenSecret ?? '')}`;
  oauth.oauth_signature = createHmac('sha1', key).update(base).digest('base64');
  return 'OAuth ' + Object.entries(oauth).map(([k, v]) => `${rfc3986(k)}="${rfc3986(v)}"`).join(', ');
}

function formBody(pairs: Array<[string, string]>): string {
  return pairs.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
}

function parseFormResponse(text: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(text));
}

// --- fixtures ---------------------------------------------------------------------------------

async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function solidJpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
}

let server: XServer;
beforeEach(async () => {
  server = await startXServer();
});
afterEach(async () => {
  await server.close();
});

function credsFor(token?: { token: string; secret: string }): Creds {
  const creds: Creds = { consumerKey: server.consumer.key, consumerSecret: server.consumer.secret };
  if (token) {
    creds.token = token.token;
    creds.tokenSecret = token.secret;
  }
  return creds;
}

async function signedGet(path: string, creds: Creds, opts?: SignOptions): Promise<Response> {
  const url = server.url + path;
  return fetch(url, { headers: { authorization: authorizationHeader('GET', url, creds, opts) } });
}

function multipartBody(boundary: string, image: Buffer, filename = 'avatar.png', field = 'image'): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    ),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

async function uploadMultipart(creds: Creds, image: Buffer, opts?: SignOptions): Promise<Response> {
  const url = server.url + X_PATHS.updateProfileImage;
  const boundary = `----xtest${randomBytes(8).toString('hex')}`;
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: authorizationHeader('POST', url, creds, opts),
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body: multipartBody(boundary, image),
  });
}

async function uploadBase64(creds: Creds, image: Buffer): Promise<Response> {
  const url = server.url + X_PATHS.updateProfileImage;
  const form: Array<[string, string]> = [['image', image.toString('base64')], ['skip_status', 'true']];
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: authorizationHeader('POST', url, creds, { form }),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: formBody(form),
  });
}

/** update_profile_banner with the raw bytes in a `banner` part; `query` (the region) is signed. */
async function uploadBannerMultipart(creds: Creds, image: Buffer, query = ''): Promise<Response> {
  const url = `${server.url}${X_PATHS.updateProfileBanner}${query}`;
  const boundary = `----xtest${randomBytes(8).toString('hex')}`;
  return fetch(url, {
    method: 'POST',
    headers: { authorization: authorizationHeader('POST', url, creds), 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: multipartBody(boundary, image, 'banner.png', 'banner'),
  });
}

/** A signed form POST (update_profile, or a base64 banner). */
async function postForm(path: string, creds: Creds, form: Array<[string, string]>): Promise<Response> {
  const url = server.url + path;
  return fetch(url, {
    method: 'POST',
    headers: { authorization: authorizationHeader('POST', url, creds, { form }), 'content-type': 'application/x-www-form-urlencoded' },
    body: formBody(form),
  });
}

// --- tests ------------------------------------------------------------------------------------

describe('signature functions', () => {
  const xParams: Array<[string, string]> = [
    ['include_entities', 'true'],
    ['status', 'Hello Ladies + Gentlemen, a signed OAuth request!'],
    ['oauth_consumer_key', 'xvz1evFS4wEEPTGEFPHBog'],
    ['oauth_nonce', 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', '1318622958'],
    ['oauth_token', '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb'],
    ['oauth_version', '1.0'],
  ];
  const consumerSecret = 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw';
  const tokenSecret = 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE';

  it.each([
    ['https://api.x.com/1.1/statuses/update.json', 'Ls93hJiZbQ3akF3HF3x1Bz8/zU4='],
    ['https://api.twitter.com/1.1/statuses/update.json', 'hCtSmYh+iHYCEqBWrE7C7hYmtUk='],
    ['https://api.twitter.com/1/statuses/update.json', 'tnnArxj06cWHq44gCs1OSKk/jLY='],
  ])('matches the X docs vector for %s', (url, signature) => {
    const base = signatureBaseString('POST', url, xParams);
    expect(base.startsWith(`POST&${encodeURIComponent(url)}&include_entities%3Dtrue%26oauth_consumer_key`)).toBe(true);
    expect(base).toContain('status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521');
    expect(hmacSha1Signature(base, consumerSecret, tokenSecret)).toBe(signature);
  });

  it('matches the RFC 5849 section 1.2 vector (and so does the test signer)', () => {
    const params: Array<[string, string]> = [
      ['file', 'vacation.jpg'],
      ['size', 'original'],
      ['oauth_consumer_key', 'dpf43f3p2l4k3l03'],
      ['oauth_token', 'nnch734d00sl2jdk'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '137131202'],
      ['oauth_nonce', 'chapoH'],
    ];
    const base = signatureBaseString('GET', 'http://photos.example.net/photos', params);
    expect(base).toBe(
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal',
    );
    expect(hmacSha1Signature(base, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00')).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=');

    // The test's own signer, which every other test relies on, agrees (it adds oauth_version,
    // so compare against the server function over the same inputs).
    const header = authorizationHeader(
      'GET',
      'http://photos.example.net/photos?file=vacation.jpg&size=original',
      { consumerKey: 'dpf43f3p2l4k3l03', consumerSecret: 'kd94hf93k423kf44', token: 'nnch734d00sl2jdk', tokenSecret: 'pfkkdhi9sl3r4s00' },
      { nonce: 'chapoH', timestamp: 137131202 },
    );
    const withVersion = signatureBaseString('GET', 'http://photos.example.net/photos', [...params, ['oauth_version', '1.0']]);
    const expected = hmacSha1Signature(withVersion, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00');
    expect(header).toContain(`oauth_signature="${rfc3986(expected)}"`);
  });
});

describe('3-legged OAuth', () => {
  it('runs the PIN flow, and the new token can upload', async () => {
    const alice = server.addUser({ screenName: 'alice' });
    const consumerOnly = credsFor();

    const rtUrl = server.url + X_PATHS.requestToken;
    const rtRes = await fetch(rtUrl, {
      method: 'POST',
      headers: { authorization: authorizationHeader('POST', rtUrl, consumerOnly, { oauth: { oauth_callback: 'oob' } }) },
    });
    expect(rtRes.status).toBe(200);
    const rt = parseFormResponse(await rtRes.text());
    expect(rt.oauth_callback_confirmed).toBe('true');
    expect(rt.oauth_token).toBeTruthy();
    expect(rt.oauth_token_secret).toBeTruthy();

    const page = await fetch(`${server.url}${X_PATHS.authorize}?oauth_token=${rfc3986(rt.oauth_token!)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Authorize');

    const { verifier, redirectUrl } = server.approve(rt.oauth_token!, alice.id);
    expect(verifier).toMatch(/^\d{7}$/);
    expect(redirectUrl).toBeUndefined();

    const atUrl = server.url + X_PATHS.accessToken;
    const exchange = () =>
      fetch(atUrl, {
        method: 'POST',
        headers: {
          authorization: authorizationHeader(
            'POST',
            atUrl,
            credsFor({ token: rt.oauth_token!, secret: rt.oauth_token_secret! }),
            { oauth: { oauth_verifier: verifier } },
          ),
        },
      });
    const atRes = await exchange();
    expect(atRes.status).toBe(200);
    const at = parseFormResponse(await atRes.text());
    expect(at.user_id).toBe(alice.id);
    expect(at.screen_name).toBe('alice');
    expect(at.oauth_token).not.toBe(alice.accessToken.token);

    // The request token is single use.
    const again = await exchange();
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ errors: [{ code: 89, message: 'Invalid or expired token.' }] });

    const userCreds = credsFor({ token: at.oauth_token!, secret: at.oauth_token_secret! });
    const me = await signedGet(`${X_PATHS.verifyCredentials}?skip_status=true&include_entities=false`, userCreds);
    expect(me.status).toBe(200);
    const meJson = (await me.json()) as { id_str: string; screen_name: string };
    expect(meJson.id_str).toBe(alice.id);
    expect(meJson.screen_name).toBe('alice');

    const upload = await uploadMultipart(userCreds, await solidJpeg(64, 64));
    expect(upload.status).toBe(200);
    expect(server.uploads.map((u) => u.userId)).toEqual([alice.id]);
  });

  it('returns a callback redirect and refuses a wrong verifier with a plain-text body', async () => {
    const bob = server.addUser({ screenName: 'bob' });
    const rtUrl = server.url + X_PATHS.requestToken;
    const rtRes = await fetch(rtUrl, {
      method: 'POST',
      headers: {
        authorization: authorizationHeader('POST', rtUrl, credsFor(), {
          oauth: { oauth_callback: 'http://127.0.0.1:9/cb?state=x' },
        }),
      },
    });
    const rt = parseFormResponse(await rtRes.text());
    const { verifier, redirectUrl } = server.approve(rt.oauth_token!, bob.id);
    const redirect = new URL(redirectUrl!);
    expect(redirect.origin + redirect.pathname).toBe('http://127.0.0.1:9/cb');
    expect(redirect.searchParams.get('state')).toBe('x');
    expect(redirect.searchParams.get('oauth_token')).toBe(rt.oauth_token);
    expect(redirect.searchParams.get('oauth_verifier')).toBe(verifier);

    const atUrl = server.url + X_PATHS.accessToken;
    const wrong = await fetch(atUrl, {
      method: 'POST',
      headers: {
        authorization: authorizationHeader(
          'POST',
          atUrl,
          credsFor({ token: rt.oauth_token!, secret: rt.oauth_token_secret! }),
          { oauth: { oauth_verifier: 'not-it' } },
        ),
      },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe('Error processing your OAuth request: Invalid oauth_verifier parameter');
  });

  it('expires request tokens after 15 minutes', async () => {
    let clock = Date.now();
    const timed = await startXServer({ now: () => clock });
    try {
      const carol = timed.addUser({ screenName: 'carol' });
      const url = timed.url + X_PATHS.requestToken;
      const creds: Creds = { consumerKey: timed.consumer.key, consumerSecret: timed.consumer.secret };
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: authorizationHeader('POST', url, creds, {
            oauth: { oauth_callback: 'oob' },
            timestamp: Math.floor(clock / 1000),
          }),
        },
      });
      const rt = parseFormResponse(await res.text());
      clock += 16 * 60 * 1000;
      expect(() => timed.approve(rt.oauth_token!, carol.id)).toThrow();
    } finally {
      await timed.close();
    }
  });
});

describe('OAuth verification', () => {
  it('refuses a bad signature with code 32', async () => {
    const dave = server.addUser({ screenName: 'dave' });
    const res = await signedGet(X_PATHS.verifyCredentials, credsFor(dave.accessToken), { wrongSecret: 'nope' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ errors: [{ code: 32, message: 'Could not authenticate you.' }] });
    expect(server.requests.at(-1)).toMatchObject({ status: 401, authOk: false });
  });

  it('refuses a replayed nonce with code 32', async () => {
    const erin = server.addUser({ screenName: 'erin' });
    const url = server.url + X_PATHS.verifyCredentials;
    const headers = { authorization: authorizationHeader('GET', url, credsFor(erin.accessToken)) };
    expect((await fetch(url, { headers })).status).toBe(200);
    const replay = await fetch(url, { headers });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ errors: [{ code: 32, message: 'Could not authenticate you.' }] });
    expect(server.nonceReuses).toBe(1);
  });

  it('refuses a stale timestamp with code 135', async () => {
    const frank = server.addUser({ screenName: 'frank' });
    const res = await signedGet(X_PATHS.verifyCredentials, credsFor(frank.accessToken), {
      timestamp: Math.floor(Date.now() / 1000) - 301,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: Array<{ code: number }> }).errors[0]!.code).toBe(135);
  });

  it('answers 215 to missing or non-HMAC-SHA1 auth, 32 to an unknown consumer, 89 to an unknown token', async () => {
    const gina = server.addUser({ screenName: 'gina' });
    const url = server.url + X_PATHS.verifyCredentials;
    const code = async (res: Response) => ((await res.json()) as { errors: Array<{ code: number }> }).errors[0]!.code;

    const none = await fetch(url);
    expect([none.status, await code(none)]).toEqual([400, 215]);
    const garbage = await fetch(url, { headers: { authorization: 'OAuth oauth_consumer_key="a", "broken' } });
    expect([garbage.status, await code(garbage)]).toEqual([400, 215]);
    const sha256 = authorizationHeader('GET', url, credsFor(gina.accessToken)).replace('HMAC-SHA1', 'HMAC-SHA256');
    const wrongMethod = await fetch(url, { headers: { authorization: sha256 } });
    expect([wrongMethod.status, await code(wrongMethod)]).toEqual([400, 215]);

    const strangerApp = await fetch(url, {
      headers: {
        authorization: authorizationHeader('GET', url, { ...credsFor(gina.accessToken), consumerKey: 'someone-else' }),
      },
    });
    expect([strangerApp.status, await code(strangerApp)]).toEqual([401, 32]);
    const unknownToken = await signedGet(X_PATHS.verifyCredentials, credsFor({ token: '1-nope', secret: 'x' }));
    expect([unknownToken.status, await code(unknownToken)]).toEqual([401, 89]);
  });

  it('invalidates a token: 200 with the token, then 89', async () => {
    const hank = server.addUser({ screenName: 'hank' });
    const url = server.url + X_PATHS.invalidateToken;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: authorizationHeader('POST', url, credsFor(hank.accessToken)) },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ access_token: hank.accessToken.token });
    const after = await signedGet(X_PATHS.verifyCredentials, credsFor(hank.accessToken));
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ errors: [{ code: 89, message: 'Invalid or expired token.' }] });
  });

  it('revoke() breaks every token of the user', async () => {
    const ivy = server.addUser({ screenName: 'ivy' });
    const second = server.issueAccessToken(ivy.id);
    server.revoke(ivy.id);
    for (const token of [ivy.accessToken, second]) {
      expect((await signedGet(X_PATHS.verifyCredentials, credsFor(token))).status).toBe(401);
    }
  });
});

describe('update_profile_image', () => {
  it('records a binary-safe multipart upload, answers with the old URL, then shows and serves the new one', async () => {
    const jo = server.addUser({ screenName: 'jo' });
    const oldUrl = server.profileImageUrl(jo.id);
    // Noise is full of CR LF; a fake boundary prefix after the image data must not confuse the parser.
    const image = await noisePng(120, 90);
    const boundary = 'XBOUNDARYxyz';
    const tricky = Buffer.concat([image, Buffer.from('\r\n--XBOUNDARYxy\r\n')]);
    const url = server.url + X_PATHS.updateProfileImage;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: authorizationHeader('POST', url, credsFor(jo.accessToken)),
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body: multipartBody(boundary, tricky),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { id_str: string; profile_image_url_https: string };
    expect(answer.id_str).toBe(jo.id);
    expect(answer.profile_image_url_https).toBe(oldUrl);

    expect(server.uploads).toHaveLength(1);
    const upload = server.uploads[0]!;
    expect(upload).toMatchObject({ userId: jo.id, screenName: 'jo', format: 'png', width: 120, height: 90, encoding: 'multipart' });
    expect(upload.bytes.equals(tricky)).toBe(true);

    const me = (await (await signedGet(X_PATHS.verifyCredentials, credsFor(jo.accessToken))).json()) as {
      profile_image_url_https: string;
    };
    expect(me.profile_image_url_https).not.toBe(oldUrl);
    expect(me.profile_image_url_https).toMatch(/_normal\.png$/);
    const original = await fetch(me.profile_image_url_https.replace('_normal', ''));
    expect(original.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await original.arrayBuffer()).equals(tricky)).toBe(true);
  });

  it('parses the multipart that fetch itself builds from FormData', async () => {
    const kim = server.addUser({ screenName: 'kim' });
    const image = await solidJpeg(300, 200);
    const form = new FormData();
    form.append('image', new Blob([image], { type: 'image/jpeg' }), 'a.jpg');
    const url = server.url + X_PATHS.updateProfileImage;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: authorizationHeader('POST', url, credsFor(kim.accessToken)) },
      body: form,
    });
    expect(res.status).toBe(200);
    expect(server.uploads[0]).toMatchObject({ format: 'jpeg', width: 300, height: 200 });
    expect(server.uploads[0]!.bytes.equals(image)).toBe(true);
  });

  it('accepts a base64 form upload whose body is signed, and refuses it when the body is not signed', async () => {
    const lee = server.addUser({ screenName: 'lee' });
    const image = await noisePng(50, 40);
    const ok = await uploadBase64(credsFor(lee.accessToken), image);
    expect(ok.status).toBe(200);
    expect(server.uploads[0]).toMatchObject({ encoding: 'base64', format: 'png', width: 50, height: 40 });
    expect(server.uploads[0]!.bytes.equals(image)).toBe(true);

    const url = server.url + X_PATHS.updateProfileImage;
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: authorizationHeader('POST', url, credsFor(lee.accessToken)),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: formBody([['image', image.toString('base64')]]),
    });
    expect(unsigned.status).toBe(401);
    expect(server.uploads).toHaveLength(1);
  });

  it('refuses an image of 700 KB or more with 400', async () => {
    const max = server.addUser({ screenName: 'max' });
    const big = await noisePng(600, 600); // ~1 MB of incompressible pixels
    expect(big.length).toBeGreaterThan(700 * 1024);
    const res = await uploadMultipart(credsFor(max.accessToken), big);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ request: X_PATHS.updateProfileImage, error: 'Image file size must be <= 700KB' });
    expect(server.uploads).toHaveLength(0);
  });

  it('refuses non-images and formats X does not take with 422', async () => {
    const ned = server.addUser({ screenName: 'ned' });
    const webp = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } }).webp().toBuffer();
    const truncatedPng = (await noisePng(100, 100)).subarray(0, 2000);
    for (const bytes of [Buffer.from('this is not an image'), webp, truncatedPng]) {
      const res = await uploadMultipart(credsFor(ned.accessToken), bytes);
      expect(res.status).toBe(422);
      expect(await res.json()).toEqual({ request: X_PATHS.updateProfileImage, error: 'media type unrecognized.' });
    }
    expect(server.uploads).toHaveLength(0);
  });

  it('refuses an image in the query string with 431', async () => {
    const olga = server.addUser({ screenName: 'olga' });
    const url = `${server.url}${X_PATHS.updateProfileImage}?image=${rfc3986((await solidJpeg(8, 8)).toString('base64'))}`;
    const res = await fetch(url, { method: 'POST', headers: { authorization: authorizationHeader('POST', url, credsFor(olga.accessToken)) } });
    expect(res.status).toBe(431);
    expect(server.uploads).toHaveLength(0);
  });

  it('shows the new URL only after processingDelayMs, and waits uploadLatencyMs before answering', async () => {
    const slow = await startXServer({ processingDelayMs: 300, uploadLatencyMs: 150 });
    try {
      const pat = slow.addUser({ screenName: 'pat' });
      const oldUrl = slow.profileImageUrl(pat.id);
      const url = slow.url + X_PATHS.updateProfileImage;
      const boundary = 'b0undary';
      const started = Date.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: authorizationHeader('POST', url, { consumerKey: slow.consumer.key, consumerSecret: slow.consumer.secret, token: pat.accessToken.token, tokenSecret: pat.accessToken.secret }),
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
        body: multipartBody(boundary, await solidJpeg(20, 20)),
      });
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(slow.profileImageUrl(pat.id)).toBe(oldUrl);
      await new Promise((r) => setTimeout(r, 350));
      expect(slow.profileImageUrl(pat.id)).toMatch(/\/2_normal\.jpg$/);
    } finally {
      await slow.close();
    }
  });
});

describe('update_profile_banner', () => {
  it('takes raw multipart and signed base64, answers 201 with no user, and shows the banner only after processing', async () => {
    await server.close();
    let clock = Date.now(); // moved by hand, so "not processed yet" holds however slowly the test runs
    server = await startXServer({ processingDelayMs: 150, now: () => clock });
    const ana = server.addUser({ screenName: 'ana' });
    const image = await noisePng(1500, 500);
    expect((await signedGet(`${X_PATHS.profileBanner}?user_id=${ana.id}`, credsFor(ana.accessToken))).status).toBe(404);

    const res = await uploadBannerMultipart(credsFor(ana.accessToken), image);
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('');
    expect(server.banners[0]).toMatchObject({ userId: ana.id, format: 'png', width: 1500, height: 500, encoding: 'multipart' });
    expect(server.banners[0]!.bytes.equals(image)).toBe(true);
    // Not processed yet: no profile_banner_url at all (X leaves the field out), and profile_banner.json is 404.
    const before = (await (await signedGet(X_PATHS.verifyCredentials, credsFor(ana.accessToken))).json()) as Record<string, unknown>;
    expect('profile_banner_url' in before).toBe(false);
    expect(server.profileBannerUrl(ana.id)).toBeUndefined();

    clock += 150;
    const after = (await (await signedGet(X_PATHS.verifyCredentials, credsFor(ana.accessToken))).json()) as { profile_banner_url: string };
    expect(after.profile_banner_url).toBe(server.profileBannerUrl(ana.id));
    const banner = (await (await signedGet(`${X_PATHS.profileBanner}?screen_name=ANA`, credsFor(ana.accessToken))).json()) as {
      sizes: Record<string, { w: number; h: number; url: string }>;
    };
    expect(banner.sizes['1500x500']).toEqual({ w: 1500, h: 500, url: `${after.profile_banner_url}/1500x500` });
    const served = await fetch(banner.sizes['600x200']!.url);
    expect(await sharp(Buffer.from(await served.arrayBuffer())).metadata()).toMatchObject({ format: 'jpeg', width: 600, height: 200 });
    expect((await fetch(`${after.profile_banner_url}/9x9`)).status).toBe(404);

    const jpeg = await solidJpeg(1500, 500);
    expect((await postForm(X_PATHS.updateProfileBanner, credsFor(ana.accessToken), [['banner', jpeg.toString('base64')]])).status).toBe(201);
    expect(server.banners[1]).toMatchObject({ encoding: 'base64', format: 'jpeg' });
    // The form body is signed: the same body unsigned is refused.
    const url = server.url + X_PATHS.updateProfileBanner;
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { authorization: authorizationHeader('POST', url, credsFor(ana.accessToken)), 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody([['banner', jpeg.toString('base64')]]),
    });
    expect(unsigned.status).toBe(401);
    expect(server.banners).toHaveLength(2);
  });

  it('cuts out the region asked for, and refuses one outside the image with 422', async () => {
    const bo = server.addUser({ screenName: 'bo' });
    // Left half red, right half blue: the right half alone is all blue.
    const red = await sharp({ create: { width: 750, height: 500, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const image = await sharp({ create: { width: 1500, height: 500, channels: 3, background: '#0000ff' } }).composite([{ input: red, left: 0, top: 0 }]).png().toBuffer();
    const res = await uploadBannerMultipart(credsFor(bo.accessToken), image, '?width=750&height=500&offset_left=750&offset_top=0');
    expect(res.status).toBe(201);
    expect(server.banners[0]!.region).toEqual({ width: 750, height: 500, offsetLeft: 750, offsetTop: 0 });
    const served = Buffer.from(await (await fetch(`${server.profileBannerUrl(bo.id)}/1500x500`)).arrayBuffer());
    const { channels } = await sharp(served).stats();
    expect(channels[0]!.max).toBeLessThan(40); // no red anywhere
    expect(channels[2]!.min).toBeGreaterThan(200);

    const outside = await uploadBannerMultipart(credsFor(bo.accessToken), image, '?width=750&height=500&offset_left=751&offset_top=0');
    expect(outside.status).toBe(422);
    expect(server.banners).toHaveLength(1);
  });

  it('refuses non-images and missing banners with 400, over 5 MB with 422, in X\'s {request, error} shape', async () => {
    const cy = server.addUser({ screenName: 'cy' });
    const notImage = await uploadBannerMultipart(credsFor(cy.accessToken), Buffer.from('%PDF-1.4 not an image'));
    expect(notImage.status).toBe(400);
    expect(await notImage.json()).toEqual({ request: X_PATHS.updateProfileBanner, error: 'Image data could not be processed.' });
    const truncated = (await noisePng(300, 100)).subarray(0, 2000);
    expect((await uploadBannerMultipart(credsFor(cy.accessToken), truncated)).status).toBe(400);
    expect((await postForm(X_PATHS.updateProfileBanner, credsFor(cy.accessToken), [['skip_status', 'true']])).status).toBe(400);

    const big = await noisePng(1500, 1300); // ~5.9 MB of incompressible pixels
    expect(big.length).toBeGreaterThan(MAX_BANNER_BYTES);
    const tooLarge = await uploadBannerMultipart(credsFor(cy.accessToken), big);
    expect(tooLarge.status).toBe(422);
    expect(await tooLarge.json()).toEqual({ request: X_PATHS.updateProfileBanner, error: 'Image could not be resized or is too large.' });
    expect(server.banners).toHaveLength(0);
  });

  it('checks the signature and the token like update_profile_image', async () => {
    const di = server.addUser({ screenName: 'di' });
    const image = await noisePng(300, 100);
    expect((await uploadBannerMultipart({ ...credsFor(di.accessToken), consumerSecret: 'wrong' }, image)).status).toBe(401);
    server.revoke(di.id);
    const revoked = await uploadBannerMultipart(credsFor(di.accessToken), image);
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toEqual(xErrorBody(89));
    expect(server.banners).toHaveLength(0);
  });
});

describe('update_profile', () => {
  const FAMILY = '👩‍👩‍👧';
  const FLAG = '🇯🇵';

  it('counts graphemes as X does: 50 emoji are a name, 51 letters answer 403 code 120 and change nothing', async () => {
    const ed = server.addUser({ screenName: 'ed', name: 'Ed' });
    const emoji = `${FAMILY}${FLAG}`.repeat(25);
    const ok = await postForm(X_PATHS.updateProfile, credsFor(ed.accessToken), [['name', emoji], ['description', 'b'.repeat(160)], ['location', FLAG.repeat(30)], ['url', 'https://example.com/ed'], ['theme', 'dark']]);
    expect(ok.status).toBe(200);
    const user = (await ok.json()) as Record<string, unknown>;
    expect(user).toMatchObject({ id_str: ed.id, name: emoji, description: 'b'.repeat(160), location: FLAG.repeat(30), url: 'https://example.com/ed' });
    expect('theme' in user).toBe(false); // an unknown parameter is ignored

    for (const [field, value] of [['name', 'a'.repeat(51)], ['description', 'b'.repeat(161)], ['url', 'u'.repeat(101)], ['location', FLAG.repeat(31)]] as const) {
      const refused = await postForm(X_PATHS.updateProfile, credsFor(ed.accessToken), ([['name', 'Not Applied'], [field, value]] as Array<[string, string]>).slice(field === 'name' ? 1 : 0));
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual(xErrorBody(120));
    }
    expect(server.profile(ed.id)).toEqual({ name: emoji, description: 'b'.repeat(160), url: 'https://example.com/ed', location: FLAG.repeat(30) });
  });

  it('refuses a huge value quickly, without segmenting all of it', async () => {
    const flo = server.addUser({ screenName: 'flo' });
    const started = process.cpuUsage();
    const refused = await postForm(X_PATHS.updateProfile, credsFor(flo.accessToken), [['description', 'é'.repeat(1_000_000)]]);
    expect(refused.status).toBe(403);
    const used = process.cpuUsage(started);
    expect((used.user + used.system) / 1000).toBeLessThan(2_000);
  });

  it('takes the ready-made faults of the new endpoints', async () => {
    const gus = server.addUser({ screenName: 'gus' });
    server.fail(xFaults.profileTextTooLong());
    expect((await postForm(X_PATHS.updateProfile, credsFor(gus.accessToken), [['name', 'Gus']])).status).toBe(403);
    server.fail(xFaults.bannerTooLarge());
    server.fail(xFaults.bannerUnprocessable());
    const image = await noisePng(300, 100);
    expect((await uploadBannerMultipart(credsFor(gus.accessToken), image)).status).toBe(422);
    expect((await uploadBannerMultipart(credsFor(gus.accessToken), image)).status).toBe(400);
    expect((await uploadBannerMultipart(credsFor(gus.accessToken), image)).status).toBe(201);
    expect(server.profile(gus.id).name).toBe('gus');
  });
});

describe('profile images', () => {
  it('serves a distinctive default avatar in every size', async () => {
    const quinn = server.addUser({ screenName: 'quinn' });
    const rita = server.addUser({ screenName: 'rita' });
    const normalUrl = server.profileImageUrl(quinn.id);
    expect(normalUrl).toBe(`${server.url}/profile_images/${quinn.id}/1_normal.png`);

    const sizes: Array<[string, number]> = [['_normal', 48], ['_bigger', 73], ['_400x400', 400], ['', 400]];
    for (const [suffix, size] of sizes) {
      const res = await fetch(normalUrl.replace('_normal', suffix));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual([size, size]);
    }
    const pixel = async (url: string) =>
      (await sharp(Buffer.from(await (await fetch(url)).arrayBuffer())).raw().toBuffer()).subarray(0, 3);
    expect((await pixel(normalUrl)).equals(await pixel(server.profileImageUrl(rita.id)))).toBe(false);
    expect((await fetch(`${server.url}/profile_images/${quinn.id}/9_normal.png`)).status).toBe(404);
  });

  it('writes ids with all their digits and users/show finds the user', async () => {
    const sam = server.addUser({ screenName: 'sam', id: '1790000000000000123' });
    const res = await signedGet(`${X_PATHS.usersShow}?user_id=${sam.id}`, credsFor(sam.accessToken));
    const text = await res.text();
    expect(text).toContain(`"id":1790000000000000123,`);
    expect((JSON.parse(text) as { screen_name: string }).screen_name).toBe('sam');
  });
});

describe('faults and limits', () => {
  it('consumes a fault once, only after the signature checked out', async () => {
    const tom = server.addUser({ screenName: 'tom' });
    const reset = Math.floor(Date.now() / 1000) + 60;
    server.fail(xFaults.rateLimited(X_PATHS.updateProfileImage, reset));
    const image = await solidJpeg(16, 16);

    const forged = await uploadMultipart(credsFor(tom.accessToken), image, { wrongSecret: 'x' });
    expect(forged.status).toBe(401);

    const limited = await uploadMultipart(credsFor(tom.accessToken), image);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-rate-limit-reset')).toBe(String(reset));
    expect(await limited.json()).toEqual({ errors: [{ code: 88, message: 'Rate limit exceeded' }] });
    expect(server.requests.at(-1)).toMatchObject({ status: 429, authOk: true });
    expect(server.uploads).toHaveLength(0);

    const ok = await uploadMultipart(credsFor(tom.accessToken), image);
    expect(ok.status).toBe(200);
    expect(server.uploads).toHaveLength(1);
  });

  it('can redirect, drop the connection, or never answer', async () => {
    const uma = server.addUser({ screenName: 'uma' });
    const creds = credsFor(uma.accessToken);
    server.fail(xFaults.redirect(X_PATHS.verifyCredentials, 'http://127.0.0.1:9/elsewhere'));
    server.fail(xFaults.connectionReset(X_PATHS.verifyCredentials));
    server.fail(xFaults.timeout(X_PATHS.verifyCredentials));

    const url = server.url + X_PATHS.verifyCredentials;
    const redirected = await fetch(url, { redirect: 'manual', headers: { authorization: authorizationHeader('GET', url, creds) } });
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get('location')).toBe('http://127.0.0.1:9/elsewhere');

    await expect(signedGet(X_PATHS.verifyCredentials, creds)).rejects.toThrow();

    const hung = fetch(url, { headers: { authorization: authorizationHeader('GET', url, creds) }, signal: AbortSignal.timeout(200) });
    await expect(hung).rejects.toThrow();

    expect((await signedGet(X_PATHS.verifyCredentials, creds)).status).toBe(200);
  });

  it('rate-limits first upload attempts until the reset time', async () => {
    const vic = server.addUser({ screenName: 'vic' });
    server.rateLimitFirstAttempts({ fraction: 1, resetAfterMs: 300 });
    const image = await solidJpeg(16, 16);
    const first = await uploadMultipart(credsFor(vic.accessToken), image);
    expect(first.status).toBe(429);
    expect(Number(first.headers.get('x-rate-limit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect((await uploadMultipart(credsFor(vic.accessToken), image)).status).toBe(429);
    await new Promise((r) => setTimeout(r, 400));
    expect((await uploadMultipart(credsFor(vic.accessToken), image)).status).toBe(200);
  });

  it('survives malformed multipart and oversized bodies', async () => {
    const wes = server.addUser({ screenName: 'wes' });
    const url = server.url + X_PATHS.updateProfileImage;
    const broken = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: authorizationHeader('POST', url, credsFor(wes.accessToken)),
        'content-type': 'multipart/form-data; boundary=zzz',
      },
      body: '--zzz\r\nContent-Disposition: form-data; name="image"\r\n\r\nno closing boundary',
    });
    expect(broken.status).toBe(400);

    const huge = await fetch(url, {
      method: 'POST',
      headers: { authorization: authorizationHeader('POST', url, credsFor(wes.accessToken)), 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(11 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);

    expect((await signedGet(X_PATHS.verifyCredentials, credsFor(wes.accessToken))).status).toBe(200);
  });
});
