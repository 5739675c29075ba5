/**
 * The logger redacts credentials by key name at any depth (in a logged object, a child logger's
 * bindings, an array, an error's own properties) and by value anywhere in the line.
 */
import { expect, it } from 'vitest';
import { createLogger, redactKeys } from '../src/log.js';

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } }) };
}

it('redacts a credential-named key at any depth, in bindings, arrays and errors', () => {
  const { lines, logger } = capture();
  const deep = { a: { b: { c: { d: { secret: 's-deep-1' } } } } };
  logger.info({ deep, list: [{ token: 't-in-array-2' }, [{ oauth_verifier: 'v-nested-array-3' }]] }, 'objects');
  logger.child({ request: { headers: { authorization: 'auth-binding-4' } } }).warn('bindings');
  const error = Object.assign(new Error('upload failed'), { config: { auth: { tokenSecret: 'ts-error-5', pin: 1234567 } } });
  logger.error({ err: error }, 'error');
  logger.info({ password: { nested: 'whole-object-6' }, key: ['array-value-7'], replyTarget: { interactionToken: 'interaction-8' } }, 'values that are not strings');

  const text = lines.join('');
  for (const secret of ['s-deep-1', 't-in-array-2', 'v-nested-array-3', 'auth-binding-4', 'ts-error-5', '1234567', 'whole-object-6', 'array-value-7', 'interaction-8']) expect(text).not.toContain(secret);
  expect(text.match(/\[redacted\]/g)?.length).toBe(9);
  // Everything else is kept, and every line stays one JSON object.
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(parsed.map((line) => line.msg)).toEqual(['objects', 'bindings', 'error', 'values that are not strings']);
  expect((parsed[2]!.err as { message: string }).message).toBe('upload failed');
});

it('leaves a line alone when no key is a credential, even if a value mentions one', () => {
  const line = `${JSON.stringify({ level: 30, msg: 'the "token": field was missing', tokens: 3, tokenCount: 2 })}\n`;
  expect(redactKeys(line)).toBe(line);
});
