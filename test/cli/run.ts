/** Runs the built CLI (dist/) as a user would, and checks the one-line failures it promises. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';

const CLI = resolve('dist/src/cli.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  stdin?: (child: ChildProcess, stderr: () => string) => void;
  nodeArgs?: string[];
}

/** Run the built CLI in `cwd` with a clean environment (only PATH and `env`; no .env in `cwd`). */
export function runCli(cwd: string, args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    if (options.stdin) options.stdin(child, () => stderr);
    else child.stdin!.end();
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

export function expectOneErrorLine(run: Run, code: number, pattern: RegExp) {
  expect(run.code).toBe(code);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
}
