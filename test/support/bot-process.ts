/**
 * The bot as its own process (`avatar-bot start`, or `npm start`) against the local Discord and X
 * servers, for tests about the process itself: it must survive hostile requests and stop on signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localBotEnv } from './bot-harness.js';
import type { DiscordServer } from './discord-server.js';
import type { XServer } from './x-server.js';

export interface BotProcess {
  /** The spawned process (npm, or node itself). */
  child: ChildProcess;
  /** The bot's own pid, from its log lines (npm's child when started with npm). */
  pid: number;
  port: number;
  /** stderr lines (the JSON logs). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** Sharded (`processes` > 1): the shard manager's children, by index, as their "shards ready" lines say. */
  shardProcesses: ShardProcessInfo[];
  /** Kill what is left (SIGKILL to the process group) and delete the data directory. */
  cleanUp(): void;
}

export interface ShardProcessInfo {
  pid: number;
  index: number;
  port: number;
  shards: number[];
}

/** Log lines of one process (the children of a shard manager write to its stderr, each line with its pid). */
export const linesOf = (lines: readonly string[], pid: number): string[] => lines.filter((line) => line.includes(`"pid":${pid},`));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the bot with `via` and resolves once it logged "bot ready". Its own process group, as a terminal would give it.
 * `processes` > 1 (with SHARD_COUNT and SHARDS_PER_PROCESS in `env` to match): a shard manager, resolved once every
 * child logged "shards ready"; `pid` is then the manager's.
 */
export async function startBotProcess(discord: DiscordServer, x: XServer, via: 'node' | 'npm', env: Record<string, string> = {}, processes = 1): Promise<BotProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-process-'));
  const [command, args] = via === 'npm' ? ['npm', ['start', '--silent']] : [process.execPath, [resolve('dist/src/cli.js'), 'start']];
  const child = spawn(command, args as string[], {
    cwd: resolve('.'),
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...localBotEnv(discord, x),
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STORE_URL: `sqlite://${join(dir, 'bot.sqlite')}`,
      TWITTER_PROCESSING_DELAY_MS: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter(Boolean));
    for (const listener of listeners) listener();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const listener of listeners) listener();
  });

  const waitForLine = (predicate: (line: string) => boolean, timeoutMs: number) =>
    new Promise<string>((done, fail) => {
      const check = () => {
        const found = lines.find(predicate);
        if (found !== undefined || gone) {
          clearTimeout(timer);
          listeners.delete(check);
          if (found !== undefined) done(found);
          else fail(new Error(`the bot exited before logging the line; its log:\n${lines.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        fail(new Error(`no such line within ${timeoutMs} ms; the log:\n${lines.join('\n')}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const cleanUp = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (processes > 1) {
      const shardLines = () => lines.filter((line) => line.includes('"msg":"shards ready"')).map((line) => JSON.parse(line) as ShardProcessInfo);
      await waitForLine(() => new Set(shardLines().map((line) => line.index)).size >= processes, 30_000 * processes);
      const shardProcesses = shardLines()
        .sort((a, b) => a.index - b.index)
        .map(({ pid, index, port, shards }) => ({ pid, index, port, shards }));
      return { child, pid: child.pid!, port: shardProcesses[0]!.port, shardProcesses, lines, exited, waitForLine, cleanUp };
    }
    const ready = JSON.parse(await waitForLine((line) => line.includes('"msg":"bot ready"'), 30_000)) as { pid: number; port: number };
    return { child, pid: ready.pid, port: ready.port, shardProcesses: [], lines, exited, waitForLine, cleanUp };
  } catch (error) {
    cleanUp();
    throw error;
  }
}
