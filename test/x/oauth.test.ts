import { describe, expect, it } from 'vitest';
import { createSigner, percentEncode } from '../../src/x/oauth.js';

// X's "Creating a signature" example, signed for three hosts and paths (../shared/reference/x-api.md).
const x = {
  consumer: { key: 'xvz1evFS4wEEPTGEFPHBog', secret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw' },
  token: { key: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb', secret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE' },
  clock: { nonce: () => 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg', timestamp: () => 1318622958 },
  form: { status: 'Hello Ladies + Gentlemen, a signed OAuth request!' },
};

describe('OAuth 1.0a signatures match the published vectors', () => {
  it.each([
    ['https://api.x.com/1.1/statuses/update.json', 'Ls93hJiZbQ3akF3HF3x1Bz8/zU4='],
    ['https://api.twitter.com/1.1/statuses/update.json', 'hCtSmYh+iHYCEqBWrE7C7hYmtUk='],
    ['https://api.twitter.com/1/statuses/update.json', 'tnnArxj06cWHq44gCs1OSKk/jLY='],
  ])('%s', (base, signature) => {
    const signer = createSigner(x.consumer, { clock: x.clock });
    const request = { method: 'POST', url: `${base}?include_entities=true`, form: x.form, token: x.token };
    const params = signer.sign(request);
    expect(params.oauth_signature).toBe(signature);

    const { oauth_signature: _, ...unsigned } = params;
    expect(signer.baseString(request, unsigned)).toBe(
      `POST&${percentEncode(base)}&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg` +
        '%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb' +
        '%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521',
    );
  });

  it('RFC 5849 section 1.2 (no oauth_version)', () => {
    const signer = createSigner({ key: 'dpf43f3p2l4k3l03', secret: 'kd94hf93k423kf44' }, {
      clock: { nonce: () => 'chapoH', timestamp: () => 137131202 },
      includeVersion: false,
    });
    const request = { method: 'GET', url: 'http://photos.example.net/photos?file=vacation.jpg&size=original', token: { key: 'nnch734d00sl2jdk', secret: 'pfkkdhi9sl3r4s00' } };
    const params = signer.sign(request);
    expect(params.oauth_signature).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=');
    const { oauth_signature: _, ...unsigned } = params;
    expect(signer.baseString(request, unsigned)).toBe(
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH' +
        '%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal',
    );
  });
});

describe('signer', () => {
  it('uses a fresh nonce for every request and puts protocol parameters in the header', () => {
    const signer = createSigner(x.consumer);
    const request = { method: 'POST', url: 'https://api.x.com/oauth/request_token', oauthParams: { oauth_callback: 'oob' } };
    const nonces = new Set(Array.from({ length: 50 }, () => signer.sign(request).oauth_nonce));
    expect(nonces.size).toBe(50);
    const header = signer.authorization(request);
    expect(header).toMatch(/^OAuth /);
    expect(header).toContain('oauth_callback="oob"');
    expect(header).not.toContain('oauth_token=');
  });

  it('does not mutate the form it signs', () => {
    const signer = createSigner(x.consumer);
    const form = { image: 'aGVsbG8=' };
    signer.sign({ method: 'POST', url: 'https://api.x.com/1.1/account/update_profile_image.json?skip_status=true', form, token: x.token });
    expect(form).toEqual({ image: 'aGVsbG8=' });
  });
});

describe('signing a request with a query', () => {
  it('sends only protocol parameters in the header', () => {
    const signer = createSigner(x.consumer);
    const header = signer.authorization({ method: 'GET', url: 'https://api.x.com/1.1/account/verify_credentials.json?skip_status=true', token: x.token });
    expect(header).not.toContain('skip_status');
  });
});
