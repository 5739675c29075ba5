/**
 * The Discord side: a discord.js client whose interactions are dispatched to the slash command modules,
 * an HTTP server for /healthz and the OAuth callback, and a graceful stop: new commands are turned
 * away, commands in flight finish (bounded), then the gateway, the HTTP server and the store close.
 */
import { getHeapStatistics } from 'node:v8';
import {
  Client,
  Events,
  MessageFlags,
  Status,
  type Interaction,
  type InteractionEditReplyOptions,
  type RepliableInteraction,
} from 'discord.js';
import { callbackFlowEnabled } from '../config.js';
import { DEFAULT_LOCALE, localeOf } from '../i18n/locale.js';
import { failureWords } from '../i18n/schedule-words.js';
import { t } from '../i18n/t.js';
import type { Services } from '../services.js';
import { parseCustomId, type SlashCommand } from './command.js';
import { startHttpServer, type HttpServer } from './http.js';
import { checkStringOptions } from './options.js';
import { DISCORD_LIMITS, failureReply, fitMessage, recoveredReply, truncate } from './replies.js';
import { finishPush, finishRevert } from './branding-report.js';
import { measureInteraction } from './interaction-metrics.js';

export interface BotOptions {
  /** From createDiscordClient; the services were given its edge (discordEdge). */
  client: Client;
  services: Services;
  commands: SlashCommand[];
  /** How long a stop waits for commands in flight. */
  drainTimeoutMs?: number;
  /** Where `ready_ms` and `catchup_done_ms` count from, on the performance.now() clock (the CLI passes 0,
   *  the process start); by default the call to start(). */
  startedAtMs?: number;
}

/** V8's heap limit in MB: `npm start` sets it (--max-old-space-size) and the ready line says it, for operators. */
const heapLimitMb = (): number => Math.round(getHeapStatistics().heap_size_limit / 1048576);

export interface Bot {
  client: Client;
  http: HttpServer;
  /** Resolves once the gateway is ready and the HTTP server listens: users are answered from then on,
   *  while the schedule catch-up and interrupted pushes carry on in the background (see `background`). */
  start(): Promise<void>;
  /** Settles when what start() left running in the background is done: every user's schedules caught
   *  up, and the interrupted pushes taken up again (the pushes themselves then run on). */
  readonly background: Promise<void>;
  stop(): Promise<void>;
  readonly inFlight: number;
}

async function respond(interaction: RepliableInteraction, unfitted: InteractionEditReplyOptions): Promise<void> {
  const reply = fitMessage(unfitted);
  if (interaction.deferred || interaction.replied) {
    await interaction.editReply(reply);
  } else {
    const { content, embeds, components, files } = reply;
    await interaction.reply({ content: content ?? undefined, embeds, components, files, flags: MessageFlags.Ephemeral });
  }
}

/**
 * Every message an interaction sends (reply, edit, follow-up, component update) is made to fit Discord's
 * limits on its way out, whichever handler or collector sends it: an over-long message is refused by
 * Discord as a whole, after the change it reports was already made.
 */
function fitEveryReply(interaction: RepliableInteraction): void {
  const methods = interaction as unknown as Record<string, unknown>;
  for (const name of ['reply', 'editReply', 'followUp', 'update']) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = (options: unknown) => (original as (options: unknown) => unknown).call(interaction, fitMessage(options));
  }
}

export function createBot(options: BotOptions): Bot {
  const { services } = options;
  const { config, logger } = services;
  const byName = new Map(options.commands.map((command) => [command.definition.name, command]));
  const inFlight = new Set<Promise<void>>();
  let stopping = false;

  const { client } = options;

  const componentHandler = (customId: string) => {
    const { command, action } = parseCustomId(customId);
    return byName.get(command)?.components?.[action];
  };

  /** A scheduled-change failure we could not DM is shown once, privately, after the user's next command. */
  async function deliverPendingNotice(interaction: RepliableInteraction): Promise<void> {
    if (!(interaction.deferred || interaction.replied)) return;
    const notice = await services.schedules.takePendingNotice(interaction.user.id);
    if (notice) await interaction.followUp({ content: failureWords(localeOf(interaction.locale), notice), flags: MessageFlags.Ephemeral });
  }

  async function handle(interaction: Interaction): Promise<void> {
    if (interaction.isAutocomplete()) {
      const command = byName.get(interaction.commandName);
      const choices = await Promise.resolve()
        .then(() => {
          checkStringOptions(command?.definition.options, interaction.options.data); // an over-long query gets no choices
          return command?.autocomplete?.(interaction, services);
        })
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'autocomplete failed');
          return [];
        });
      const fitted = (choices ?? [])
        .filter((choice) => choice.value.length <= DISCORD_LIMITS.choiceText) // a cut value would name something else
        .slice(0, 25)
        .map((choice) => ({ name: truncate(choice.name, DISCORD_LIMITS.choiceText), value: choice.value }));
      await interaction.respond(fitted);
      return;
    }
    if (!interaction.isRepliable()) return;
    fitEveryReply(interaction);
    if (stopping) {
      // A component without a handler belongs to a collector inside a command in flight: that command answers it.
      if ((interaction.isButton() || interaction.isStringSelectMenu() || interaction.isModalSubmit()) && !componentHandler(interaction.customId)) return;
      await interaction.reply({ content: t(localeOf(interaction.locale), 'common.restarting'), flags: MessageFlags.Ephemeral });
      return;
    }
    const log = logger.child({ interaction: interaction.id, user: interaction.user.id });
    void services.locales.seen(interaction.user.id, interaction.locale); // DMs that are not replies follow it
    // A component a collector owns belongs to the command in flight, which is measured as a whole.
    const measured = interaction.isChatInputCommand() || ('customId' in interaction && componentHandler(interaction.customId)) ? measureInteraction(services.metrics, interaction, byName) : undefined;
    try {
      if (interaction.isChatInputCommand()) {
        const command = byName.get(interaction.commandName);
        if (!command) throw new Error(`unknown command ${interaction.commandName}`);
        log.info({ command: interaction.commandName, sub: interaction.options.getSubcommand(false) }, 'command');
        checkStringOptions(command.definition.options, interaction.options.data);
        await command.execute(interaction, services);
        // The command has answered: a failure here (the store went down) must not replace that answer.
        await deliverPendingNotice(interaction).catch((error: unknown) => log.warn({ err: error }, 'could not deliver a pending notice'));
      } else if (interaction.isButton() || interaction.isStringSelectMenu() || interaction.isModalSubmit()) {
        const { command, action, argument } = parseCustomId(interaction.customId);
        const handler = componentHandler(interaction.customId);
        if (!handler) return; // a collector inside a running command owns this component
        log.info({ component: `${command}:${action}` }, 'component');
        await handler(interaction, services, argument);
      }
      measured?.();
    } catch (error) {
      measured?.(error);
      try {
        await respond(interaction, failureReply(error, log, localeOf(interaction.locale)));
      } catch (replyError) {
        log.warn({ err: replyError }, 'could not send the failure reply');
      }
    }
  }

  client.on(Events.InteractionCreate, (interaction) => {
    const task = handle(interaction).catch((error: unknown) => logger.error({ err: error }, 'interaction handler crashed'));
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  });
  client.on(Events.Error, (error) => logger.error({ err: error }, 'discord client error'));
  // A command's change that a restart finished: its reply is edited while the interaction token lives, else a DM.
  services.avatars.onRecoveredCommand(async (discordUserId, applied, source, replyTarget, locale) => {
    const body = recoveredReply(applied, source, locale ?? DEFAULT_LOCALE);
    if (replyTarget) {
      try {
        await client.rest.patch(`/webhooks/${replyTarget.applicationId}/${replyTarget.interactionToken}/messages/@original`, { body, auth: false });
        return;
      } catch (error) {
        logger.warn({ err: error }, 'could not edit the reply of a change finished after a restart; sending a DM');
      }
    }
    await (await client.users.fetch(discordUserId)).send(body);
  });

  let background: Promise<void> = Promise.resolve();
  let resuming: Promise<void> = Promise.resolve();

  /** Pushes interrupted by a stop carry on here; their report goes to the log channel and the members. */
  async function resumePushes(): Promise<void> {
    const { carriedOn } = await services.branding.pushes.resume();
    for (const jobId of carriedOn) {
      void services.branding.pushes
        .run(jobId)
        // A revert is reported as one: a push's report would tell every member their avatar was changed again.
        .then(async (job) => {
          if (job.state === 'reverted') await finishRevert(client, services, job.guildId, job, job.revertedBy ?? job.adminId);
          else if (job.state !== 'reverting') await finishPush(client, services, job.guildId, client.guilds.cache.get(job.guildId)?.name ?? 'a server', job);
        })
        .catch((error: unknown) => logger.error({ err: error, job: jobId }, 'resumed push failed'));
    }
  }

  const http = startHttpServer({
    services,
    port: config.port,
    host: config.httpHost,
    gatewayReady: () => client.ws.status === Status.Ready,
    confirmLink: async ({ discordUserId, screenName, replyTarget }) => {
      const content = t(replyTarget?.locale ?? DEFAULT_LOCALE, 'twitter.link.linked', { screenName });
      if (replyTarget) {
        try {
          await client.rest.patch(`/webhooks/${replyTarget.applicationId}/${replyTarget.interactionToken}/messages/@original`, {
            body: { content, components: [] },
            auth: false,
          });
          return;
        } catch (error) {
          logger.warn({ err: error }, 'could not edit the link message; sending a DM');
        }
      }
      await (await client.users.fetch(discordUserId)).send(content);
    },
  });

  return {
    client,
    http,
    get inFlight() {
      return inFlight.size;
    },
    get background() {
      return background;
    },
    async start() {
      const startedAt = options.startedAtMs ?? performance.now();
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      services.scheduler.armHousekeeping();
      await Promise.all([client.login(config.discordToken), http.listening]);
      await ready;
      services.sweeper.start();
      if (config.publicUrl && !callbackFlowEnabled(config)) {
        logger.warn('PUBLIC_URL is set but DISCORD_CLIENT_SECRET is not: linking is PIN only (the callback flow signs the browser in with Discord, which needs the client secret)');
      }
      // Users are answered from here on. After downtime the catch-up can take minutes (each change holds
      // X's processing wait), so it and the resumed pushes run in the background with bounded concurrency.
      const readyMs = Math.round(performance.now() - startedAt);
      logger.info({ user: client.user?.tag, host: config.httpHost, port: http.port, linking: callbackFlowEnabled(config) ? 'callback and PIN' : 'PIN only', ready_ms: readyMs, heap_limit_mb: heapLimitMb() }, 'bot ready');
      const catchUp = services.scheduler.start().then(
        (restored) => logger.info({ ...restored, catchup_done_ms: Math.round(performance.now() - startedAt) }, 'schedule catch-up done'),
        (error: unknown) => logger.error({ err: error }, 'schedule catch-up failed'),
      );
      resuming = resumePushes().catch((error: unknown) => logger.error({ err: error }, 'resuming branding pushes failed'));
      background = Promise.all([catchUp, resuming]).then(() => undefined);
    },
    async stop() {
      stopping = true;
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, options.drainTimeoutMs ?? 30_000, 'timeout').unref());
      if ((await Promise.race([Promise.allSettled([...inFlight]), deadline])) === 'timeout') {
        logger.warn({ inFlight: inFlight.size }, 'stopping with commands still in flight');
      }
      await client.destroy();
      await http.close();
      // A resume still deciding which pushes to carry on finishes first, so none starts after the runner stopped.
      // The catch-up need not finish: the scheduler's stop ends it after the users in hand.
      await resuming;
      await services.close();
      logger.info('bot stopped');
    },
  };
}
