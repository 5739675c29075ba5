/**
 * `Services` is the use cases both edges call, and what the edges need to run: no store, vault, secret box,
 * X client, coordination or raw schedule store a command could reach past the use cases with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createServices, type Services } from '../src/services.js';
import { localServicesEnv } from './support/bot-harness.js';
import { startXServer, type XServer } from './support/x-server.js';

let x: XServer;
let dir: string;
let services: Services;

beforeAll(async () => {
  x = await startXServer();
  dir = mkdtempSync(join(tmpdir(), 'avatar-bot-services-'));
  services = await createServices(parseConfig(localServicesEnv(x, dir)), createLogger({ level: 'silent' }));
});
afterAll(async () => {
  await services?.close();
  await x?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('has no store fields, in its type and at run time', () => {
  // Type level: each line fails to compile (an unused @ts-expect-error) if the field comes back.
  // @ts-expect-error the store is not a use case
  expect(services.store).toBeUndefined();
  // @ts-expect-error the vault: links are read through services.links
  expect(services.vault).toBeUndefined();
  // @ts-expect-error the secret box
  expect(services.box).toBeUndefined();
  // @ts-expect-error the X client
  expect(services.x).toBeUndefined();
  // @ts-expect-error the run coordination
  expect(services.coordination).toBeUndefined();
  // @ts-expect-error schedule records are written by scheduler.edit (or the named writes that do not re-plan)
  expect(services.schedules.update).toBeUndefined();

  // Run time: nothing reachable from Services, one level down, is a store, a keyv namespace or a vault.
  const looksLikeStorage = (value: unknown) =>
    typeof value === 'object' && value !== null && ['namespace', 'locked', 'getRaw', 'setStatus', 'seal'].some((method) => typeof (value as Record<string, unknown>)[method] === 'function');
  const reachable = Object.entries(services).flatMap(([name, value]) => [
    [name, value] as const,
    ...(typeof value === 'object' && value !== null ? Object.entries(value).map(([inner, innerValue]) => [`${name}.${inner}`, innerValue] as const) : []),
  ]);
  expect(reachable.filter(([, value]) => looksLikeStorage(value)).map(([name]) => name)).toEqual([]);
  expect(Object.keys(services).sort()).toEqual(
    ['attachments', 'avatars', 'branding', 'breaker', 'close', 'config', 'kits', 'library', 'links', 'locales', 'logger', 'metrics', 'normalizer', 'pingStore', 'schedules', 'scheduler', 'sweeper'].sort(),
  );
});
