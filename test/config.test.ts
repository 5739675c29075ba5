import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, missingVariables, need, parseConfig } from '../src/config.js';

const error = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  it('has working defaults for everything optional', () => {
    const config = parseConfig({});
    expect(config.discordApiUrl).toBe('https://discord.com/api');
    expect(config.twitterApiUrl).toBe('https://api.x.com');
    expect(config.twitterProcessingDelayMs).toBe(5000);
    expect(config.storeUrl).toBe('sqlite://data/avatar-bot.sqlite');
    expect(config.attachmentHosts).toEqual(['cdn.discordapp.com', 'media.discordapp.net']);
    expect(config.xImageHosts).toEqual(['pbs.twimg.com']);
    expect(config.logLevel).toBe('info');
    expect(config.metrics).toBe(true);
    expect(parseConfig({ METRICS: 'OFF' }).metrics).toBe(false);
  });

  it('names a missing variable and says how to get it, in one line', () => {
    const e = error(() => need(parseConfig({ TWITTER_CONSUMER_KEY: 'k' }), 'twitterConsumerKey', 'twitterConsumerSecret'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.variable).toBe('TWITTER_CONSUMER_SECRET');
    expect(e.userMessage).toMatch(/^TWITTER_CONSUMER_SECRET is not set: .*Keys and tokens.*\.$/);
    expect(e.userMessage).not.toContain('\n');
  });

  it.each([
    ['TOKEN_ENCRYPTION_KEY', 'c2hvcnQ=', /32 bytes/],
    ['TWITTER_API_URL', 'not a url', /valid URL/],
    ['DISCORD_API_URL', 'ftp://x', /http\(s\)/],
    ['TWITTER_PROCESSING_DELAY_MS', '5s', /whole number/],
    ['STORE_URL', 'mysql://x', /unsupported/],
    ['LOG_LEVEL', 'loud', /"loud"/],
    ['DISCORD_APPLICATION_ID', 'abc', /Discord id/],
    ['ATTACHMENT_HOSTS', 'cdn.discordapp.com,http://evil', /invalid entry/],
    ['METRICS', 'maybe', /"maybe".*use on or off/],
  ])('rejects a malformed %s', (name, value, reason) => {
    const e = error(() => parseConfig({ [name]: value }));
    expect(e.variable).toBe(name);
    expect(e.kind).toBe('invalid');
    expect(e.userMessage.startsWith(name)).toBe(true);
    expect(e.userMessage).toMatch(reason);
  });

  it('never echoes a secret value in its message', () => {
    const key = randomBytes(31).toString('base64');
    const e = error(() => parseConfig({ TOKEN_ENCRYPTION_KEY: key }));
    expect(e.userMessage).not.toContain(key);
  });

  it('decodes a 32-byte key and lists what `start` still lacks', () => {
    const key = randomBytes(32);
    const config = parseConfig({ TOKEN_ENCRYPTION_KEY: key.toString('base64'), TWITTER_API_URL: 'http://127.0.0.1:9/' });
    expect(config.tokenEncryptionKey?.equals(key)).toBe(true);
    expect(config.twitterApiUrl).toBe('http://127.0.0.1:9');
    expect(missingVariables(config, ['discordToken', 'tokenEncryptionKey'])).toEqual([expect.stringMatching(/^DISCORD_TOKEN: /)]);
  });
});
