import { describe, expect, it } from 'vitest';
import { errorFromResponse, profileErrorFromResponse } from '../../src/x/errors.js';

const codeBody = (code: number, message = 'x') => JSON.stringify({ errors: [{ code, message }] });

describe('X error responses become typed errors', () => {
  it.each([
    [401, codeBody(32), 'auth'],
    [401, codeBody(135), 'auth'],
    [400, codeBody(215), 'auth'],
    [401, codeBody(89), 'token-revoked'],
    [401, codeBody(99), 'token-revoked'],
    [403, codeBody(326), 'account-locked'],
    [403, codeBody(64), 'account-locked'],
    [429, codeBody(88), 'rate-limited'],
    [503, codeBody(130), 'transient'],
    [500, codeBody(131), 'transient'],
    [502, '<html>Bad Gateway</html>', 'transient'],
    [403, codeBody(220), 'app-blocked'],
    [403, codeBody(261), 'app-blocked'],
    [403, codeBody(453), 'app-blocked'],
    [422, JSON.stringify({ request: '/1.1/account/update_profile_image.json', error: 'media type unrecognized.' }), 'image-rejected'],
    [400, JSON.stringify({ request: '/1.1/account/update_profile_image.json', error: 'Image file size must be <= 700KB' }), 'image-rejected'],
    [403, JSON.stringify({ title: 'Forbidden', detail: 'not permitted', type: 'about:blank' }), 'forbidden'],
    [302, '', 'unexpected'],
    [418, 'teapot', 'unexpected'],
  ])('HTTP %i %s → %s', (status, body, kind) => {
    const error = errorFromResponse(status, {}, body);
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
    expect(error.userMessage.length).toBeGreaterThan(20);
    expect(error.userMessage).not.toMatch(/undefined|\[object/);
  });

  it('takes the reset time of a rate limit from x-rate-limit-reset', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const reset = now / 1000 + 7 * 60;
    const error = errorFromResponse(429, { 'x-rate-limit-reset': String(reset) }, codeBody(88, 'Rate limit exceeded'), now);
    expect(error.resetAt?.getTime()).toBe(reset * 1000);
    expect(error.userMessage).toBe('X is rate-limiting this account. Try again in 7 minutes (after 12:07 UTC).');
  });

  it('says what X disliked about an image', () => {
    const error = errorFromResponse(422, {}, JSON.stringify({ request: '/1.1/x', error: 'media type unrecognized.' }));
    expect(error.userMessage).toBe('X rejected the image (X said: “media type unrecognized”).');
  });

  it.each([
    [401, 416, 'app-blocked', 'app-suspended'], // a suspended app is no broken link: relinking would not help
    [403, 453, 'app-blocked', 'access-level'],
    [403, 261, 'app-blocked', 'write-permission'],
    [403, 220, 'app-blocked', 'write-permission'],
    [403, 120, 'profile-text-too-long', undefined],
    [403, 38, 'unexpected', 'missing-parameter'],
    [400, 324, 'unexpected', 'media'],
    [400, 325, 'unexpected', 'media'],
  ] as const)('maps X code %i/%i to %s (%s), with our own words', (status, code, kind, variant) => {
    const error = errorFromResponse(status, {}, codeBody(code, 'Some English words from X.'));
    expect({ kind: error.kind, variant: error.variant, code: error.code }).toEqual({ kind, variant, code });
    expect(error.userMessage).not.toContain('Some English words');
  });

  it("keeps X's rejection text to one bounded line without control characters", () => {
    const error = errorFromResponse(422, {}, JSON.stringify({ request: '/1.1/x', error: `bad\u001b[31m\nimage ${'x'.repeat(10_000)}` }));
    const said = String(error.params.xSaid);
    expect(said.length).toBeLessThanOrEqual(300);
    expect(said).toMatch(/^bad \[31m image x+…$/);
  });

  it('keeps the v2 title and detail for the operator', () => {
    const error = errorFromResponse(503, {}, JSON.stringify({ title: 'Service Unavailable', detail: 'try later', type: 'about:blank' }));
    expect(error.kind).toBe('transient');
    expect(error.message).toContain('Service Unavailable: try later');
  });
});

describe('banner and profile answers', () => {
  const banner = (error: string) => JSON.stringify({ request: '/1.1/account/update_profile_banner.json', error });
  it.each([
    ['banner', 400, banner('Image data could not be processed.'), 'banner-unprocessable'],
    ['banner', 400, '', 'banner-unprocessable'],
    ['banner', 422, banner('Image could not be resized or is too large.'), 'banner-too-large'],
    ['banner', 400, codeBody(215), 'auth'], // a code says more than the endpoint
    ['banner', 401, codeBody(89), 'token-revoked'],
    ['banner', 429, codeBody(88), 'rate-limited'],
    ['profile', 403, codeBody(120), 'profile-text-too-long'],
    ['profile', 400, '', 'unexpected'], // a 400 on update_profile is no banner's
    ['profile', 503, codeBody(130), 'transient'],
  ] as const)('%s %i %s → %s', (endpoint, status, body, kind) => {
    expect(profileErrorFromResponse(endpoint, status, {}, body).kind).toBe(kind);
  });
});
