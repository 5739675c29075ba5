/**
 * OAuth 1.0a request signing (RFC 5849, HMAC-SHA1) on top of the oauth-1.0a package.
 * We build the oauth_* parameters ourselves so that nonce and timestamp are explicit (tests feed the
 * published vectors; production uses a CSPRNG nonce), and so that the package never mutates a body.
 */
import { createHmac, randomBytes } from 'node:crypto';
import OAuth from 'oauth-1.0a';

export interface Credentials {
  key: string;
  secret: string;
}

export interface SignableRequest {
  method: string;
  /** The exact URL that is sent, query included. */
  url: string;
  /** Form-encoded body parameters (application/x-www-form-urlencoded only; multipart parts are never signed). */
  form?: Record<string, string>;
  /** The user's (or request) token; absent when signing with the consumer alone. */
  token?: Credentials;
  /** Extra protocol parameters such as oauth_callback or oauth_verifier; they are signed and sent in the header. */
  oauthParams?: Record<string, string>;
}

export interface SigningClock {
  nonce(): string;
  timestamp(): number;
}

const systemClock: SigningClock = {
  nonce: () => randomBytes(24).toString('base64url'),
  timestamp: () => Math.floor(Date.now() / 1000),
};

export interface Signer {
  /** The oauth_* parameters including oauth_signature. */
  sign(request: SignableRequest): Record<string, string>;
  /** The value of the Authorization header. */
  authorization(request: SignableRequest): string;
  /** The signature base string (RFC 5849 3.4.1) for given oauth parameters, exposed for tests. */
  baseString(request: SignableRequest, oauthParams: Record<string, string>): string;
}

export function createSigner(consumer: Credentials, options: { clock?: SigningClock; includeVersion?: boolean } = {}): Signer {
  const clock = options.clock ?? systemClock;
  const oauth = new OAuth({
    consumer,
    signature_method: 'HMAC-SHA1',
    hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
  });

  // oauth-1.0a merges the URL's query into the objects it is given (request data and oauth data alike):
  // always hand it fresh copies.
  const packageRequest = (request: SignableRequest) => ({ method: request.method.toUpperCase(), url: request.url, data: { ...request.form } });

  function protocolParams(request: SignableRequest): Record<string, string> {
    const params: Record<string, string> = {
      oauth_consumer_key: consumer.key,
      oauth_nonce: clock.nonce(),
      oauth_signature_method: 'HMAC-SHA1',
      oauth_timestamp: String(clock.timestamp()),
      ...request.oauthParams,
    };
    if (options.includeVersion !== false) params.oauth_version = '1.0';
    if (request.token) params.oauth_token = request.token.key;
    return params;
  }

  function sign(request: SignableRequest): Record<string, string> {
    const params = protocolParams(request);
    params.oauth_signature = oauth.getSignature(packageRequest(request), request.token?.secret ?? '', { ...params } as unknown as OAuth.Data);
    return params;
  }

  return {
    sign,
    authorization: (request) => {
      const params = sign(request);
      const pairs = Object.keys(params)
        .sort()
        .map((name) => `${oauth.percentEncode(name)}="${oauth.percentEncode(params[name]!)}"`);
      return `OAuth ${pairs.join(', ')}`;
    },
    baseString: (request, oauthParams) => oauth.getBaseString(packageRequest(request), { ...oauthParams } as unknown as OAuth.Data),
  };
}

/** RFC 3986 percent-encoding, as OAuth requires (URLSearchParams would write spaces as '+'). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function encodeQuery(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`)
    .join('&');
}
