/**
 * `npm start`, the documented start command, stops cleanly on SIGTERM and SIGINT whichever process gets
 * the signal: npm alone (a process manager), or the whole process group (Ctrl-C in a terminal). Clean
 * means the bot logs "bot stopped" and its node process is gone, not left running as an orphan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordServer, type DiscordServer } from '../support/discord-server.js';
import { startXServer, type XServer } from '../support/x-server.js';
import { isAlive, startBotProcess, type BotProcess } from '../support/bot-process.js';

/** The bot's drain bound (30 s) plus closing the gateway, the HTTP server and the store. */
const STOP_BOUND_MS = 40_000;

describe('npm start', () => {
  let discord: DiscordServer;
  let x: XServer;
  const started: BotProcess[] = [];

  beforeAll(async () => {
    discord = await startDiscordServer();
    x = await startXServer();
  });
  afterAll(async () => {
    for (const bot of started) bot.cleanUp();
    await Promise.all([discord?.close(), x?.close()]);
  });

  it.each([
    ['SIGTERM', 'npm'],
    ['SIGINT', 'npm'],
    ['SIGTERM', 'the process group'],
    ['SIGINT', 'the process group'],
  ] as const)('%s to %s: the bot stops cleanly and no node process is left', async (signal, target) => {
    const bot = await startBotProcess(discord, x, 'npm');
    started.push(bot);
    expect(bot.pid).not.toBe(bot.child.pid); // the bot is npm's child, not npm
    process.kill(target === 'npm' ? bot.child.pid! : -bot.child.pid!, signal);

    await bot.waitForLine((line) => line.includes('"msg":"bot stopped"'), STOP_BOUND_MS);
    const npm = await bot.exited;
    await discord.waitFor(() => !isAlive(bot.pid), STOP_BOUND_MS, `the bot process ${bot.pid} to exit`);
    expect(bot.lines.filter((line) => line.includes('"msg":"stopping"')).length).toBeGreaterThanOrEqual(1);
    expect(bot.lines.filter((line) => line.includes('"level":50'))).toEqual([]);
    // npm reports the bot's own exit status: 0, a clean stop.
    expect(npm).toEqual({ code: 0, signal: null });
  });
});
