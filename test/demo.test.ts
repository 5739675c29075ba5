/**
 * `npm run demo` runs to the end: the built demo (dist/) against the local servers, from another working
 * directory, shows the kit applied (avatar, banner, name tag) and each part reverted, and writes the
 * avatar, the banner and the banner preview it names.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { PREVIEW_HEIGHT, PREVIEW_WIDTH } from '../src/avatar/banner.js';

const DEMO = resolve('dist/test/support/demo.js');
const work = mkdtempSync(join(tmpdir(), 'avatar-bot-demo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runDemo(output: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [DEMO, output], { cwd: work, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

/** The profile block printed after `X shows @demo_user <when>:`. */
function profileAt(stdout: string, when: string): Record<string, string> {
  const block = stdout.split(`X shows @demo_user ${when}:\n`)[1]?.split('\n').slice(0, 4) ?? [];
  return Object.fromEntries(block.map((line) => /^ {2}(\w+) +(.*)$/.exec(line)!.slice(1, 3) as [string, string]));
}

describe('npm run demo', () => {
  it('applies the kit, writes the banner preview, and reverts each part', async () => {
    const output = join(work, 'out');
    const run = await runDemo(output);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const before = profileAt(run.stdout, 'before the kit');
    expect(before).toMatchObject({ name: 'Ana', banner: '(none)' });
    const withKit = profileAt(run.stdout, 'with the kit');
    expect(withKit.name).toBe('Ana | Team Nova');
    expect(withKit.banner).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/profile_banners\//);
    expect(withKit.avatar).not.toBe(before.avatar);
    const after = profileAt(run.stdout, 'after reverting each part');
    expect(after).toMatchObject({ name: 'Ana', banner: '(none)' });

    const previewPath = join(output, 'banner-preview.png');
    expect(run.stdout).toContain(`how the profile looks: ${previewPath}\n`);
    const preview = await sharp(readFileSync(previewPath)).metadata();
    expect([preview.format, preview.width, preview.height]).toEqual(['png', PREVIEW_WIDTH, PREVIEW_HEIGHT]);
    const banner = await sharp(readFileSync(join(output, 'banner.jpg'))).metadata();
    expect([banner.width, banner.height]).toEqual([1500, 500]);
    const avatar = await sharp(readFileSync(join(output, 'avatar.jpg'))).metadata();
    expect([avatar.width, avatar.height]).toEqual([400, 400]);
  }, 120_000);
});
