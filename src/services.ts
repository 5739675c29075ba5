/**
 * Everything the bot's commands call, built once from the configuration. Tests build the same thing
 * against servers on 127.0.0.1 by changing only configuration values.
 */
import { callbackFlowEnabled, type Config } from './config.js';
import { createAccountLinks, PENDING_LINK_NAMESPACES, type AccountLinks } from './accounts/links.js';
import { createAvatarChanges, PREVIEW_NAMESPACES, type AvatarChanges } from './avatar/changes.js';
import { createSweeper, type Sweeper } from './store/sweeper.js';
import { createAvatarNormalizer, type AvatarNormalizer } from './avatar/normalize.js';
import { createDownloader, type Downloader } from './download.js';
import { createKeyedLock } from './coordination/keyed-lock.js';
import type { Logger } from './log.js';
import { openStore } from './store/backend.js';
import { createAvatarHistory, type AvatarHistory } from './avatar/history.js';
import { createPartDrivers } from './changes/parts.js';
import { PROFILE_PARTS, type ProfilePart } from './profile/parts.js';
import { createKits, type Kits } from './profile/kits.js';
import { createChangeJournal } from './changes/journal.js';
import { createChangePipeline } from './changes/pipeline.js';
import { createTokenVault } from './accounts/vault.js';
import { createLinkStates } from './accounts/link-state.js';
import { secretBoxFrom, xClientFrom } from './wiring.js';
import { createAvatarLibrary } from './library/store.js';
import { createLibraryUseCases, type LibraryUseCases } from './library/use-cases.js';
import { createScheduleStore, type ScheduleRecord } from './schedule/store.js';
import { createScheduleUseCases, type ScheduleUseCases } from './schedule/use-cases.js';
import { localCoordination, redisCoordination } from './coordination/runs.js';
import { postgresCoordination } from './coordination/postgres.js';
import { createScheduler, type ScheduledNotice, type Scheduler, type SchedulerClock } from './schedule/scheduler.js';

import { createConsentStore, type ConsentStore } from './branding/consent.js';
import { createPushRunner, type PushRunner } from './branding/push.js';
import { createBrandingSettings, type BrandingSettings } from './branding/settings.js';
import { createTeamSeasons, teamLibraryOwner, type TeamSeasons } from './branding/team-seasons.js';
import { createLocalePreferences, type LocalePreferences } from './i18n/preferences.js';
import type { Locale } from './i18n/locale.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createRateLimitBook, createWriteBudget, withWriteBudget, type WriteBudget } from './x/budget.js';
import { createBreaker, withBreaker, type Breaker, type BreakerEvent } from './x/breaker.js';

/** `locale`: the user's last seen locale, for a DM (a channel post follows the server's). */
export type Notifier = (discordUserId: string, record: ScheduleRecord, notice: ScheduledNotice, locale: Locale) => Promise<boolean>;

/** What Discord says of someone in a server. */
export type Membership = 'member' | 'left' | 'unknown';

/**
 * What the core asks of the chat platform, given when the services are built (the bot builds its Discord
 * client first, then the services with these, then itself): how a scheduled change is told to the user,
 * and whether someone is still in a server before a team image reaches them. Without an edge (the CLI,
 * tests of the core) nobody is told and everyone counts as a member.
 */
export interface EdgeHooks {
  notify: Notifier;
  membership(guildId: string, userId: string): Promise<Membership>;
  /** Whether this process runs the gateway shard of a server: its interrupted pushes are resumed only there. */
  ownsGuild?(guildId: string): boolean;
  /** The gateway's heartbeat round trip per shard of this process, in ms: the metrics read it when scraped. */
  gatewayPings?(): Array<{ shard: number; ping: number }>;
  /** Tells the operator that X refuses the app, or accepts it again (the bot posts to OPERATOR_LOG_CHANNEL). */
  tellOperator?(event: BreakerEvent): Promise<void>;
}

const NO_EDGE: EdgeHooks = { notify: async () => false, membership: async () => 'member' };

/**
 * The use cases both edges (the bot, the CLI) call, and what the edges need to run. No store, vault, secret
 * box or X client: a command that needs to know about a link, a schedule or an image asks a use case, so a
 * rule (is this link broken? does this write re-plan?) lives in one place.
 */
export interface Services {
  config: Config;
  logger: Logger;
  /** Previews are normalised at the edge (the bot's /avatar preview, the CLI's normalize). */
  normalizer: AvatarNormalizer;
  attachments: Downloader;
  /** Link, complete, status, unlink with its cleanup, relink resuming schedules; and the one answer to "what state is this link in?". */
  links: AccountLinks;
  avatars: AvatarChanges;
  /** Library kits applied to a user: templates filled with their own values, one change per part. */
  kits: Kits;
  library: LibraryUseCases;
  /** Reading schedules for display, and the writes that do not re-plan; every other write is `scheduler.edit`. */
  schedules: ScheduleUseCases;
  scheduler: Scheduler;
  /** Each user's last seen locale, for the messages that are not replies. */
  locales: LocalePreferences;
  /** Reads the store once (no write), bounded by the store's deadline: the health endpoint and the start check. */
  pingStore(): Promise<void>;
  /** Deletes expired previews and pending links (SQLite, PostgreSQL); the bot starts it, close() stops it. */
  sweeper: Sweeper;
  /** `writeBudget`: X_DAILY_WRITE_BUDGET's estimate of when pushes finish under it (undefined without a cap). */
  branding: { consent: ConsentStore; pushes: PushRunner; settings: BrandingSettings; seasons: TeamSeasons; writeBudget: Pick<WriteBudget, 'pushFinishAt'> | undefined };
  /** Prometheus metrics (METRICS=off: records nothing); the bot records its interactions and serves /metrics. */
  metrics: Metrics;
  /** Whether X refuses the app (src/x/breaker.ts): /healthz answers 503 while it does. */
  breaker: Pick<Breaker, 'status' | 'known'>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Tests move the scheduler's clock. */
  clock?: SchedulerClock;
  /** Tests sweep often and move the sweeper's clock. */
  sweeper?: { intervalMs?: number; clock?: { now(): number } };
  /** false for the CLI: a one-shot command must not take over the changes a running bot is making (on SQLite
   *  the ownership leases live in that bot's memory, so the CLI would see them as orphans). Default true. */
  recoverChanges?: boolean;
  /** The chat platform (see EdgeHooks). */
  edge?: EdgeHooks;
}

export async function createServices(config: Config, logger: Logger, options: ServiceOptions = {}): Promise<Services> {
  const box = secretBoxFrom(config);
  const edge = options.edge ?? NO_EDGE;
  // Read when scraped, so the scheduler built below is only read after createServices returned.
  const metrics = createMetrics(config.metrics, { armedTimers: () => scheduler.armed, ...(edge.gatewayPings ? { gatewayPings: edge.gatewayPings } : {}) });
  const store = await openStore(config.storeUrl, { logger: logger.child({ component: 'store' }) });
  const vault = createTokenVault(store, box);
  const linkState = createLinkStates(vault);
  const history = createAvatarHistory(store);
  const normalizer = createAvatarNormalizer({ concurrency: config.imageConcurrency, observe: metrics.normalised });
  const attachments = createDownloader({ allowedHosts: config.attachmentHosts, sourceName: 'Discord' });
  const xImages = createDownloader({ allowedHosts: config.xImageHosts, sourceName: 'X' });
  const userLock = createKeyedLock();
  const coordination = store.kind === 'redis' ? await redisCoordination(config.storeUrl, logger) : store.kind === 'postgres' ? await postgresCoordination(config.storeUrl, logger) : localCoordination();
  // The X client, in layers (issue 12): the wire (v1.1 or v2, src/x/client.ts), then the breaker (writes wait while X
  // refuses the app; its state is in the store and its probe lease in the coordination), then the write budget
  // (holds a user with no calls left, spends X_DAILY_WRITE_BUDGET by priority; X's rate-limit headers go to its book
  // as well as to the metrics).
  const breaker = createBreaker({ store, coordination, logger: logger.child({ component: 'x-breaker' }), ...(options.clock ? { clock: options.clock } : {}), ...(edge.tellOperator ? { tell: edge.tellOperator } : {}) });
  const budgetNow = () => (options.clock ?? Date).now();
  const rateLimits = createRateLimitBook(store, { now: budgetNow, logger: logger.child({ component: 'x-budget' }) });
  const wire = xClientFrom(config, logger.child({ component: 'x' }), (request) => (metrics.xRequest(request), rateLimits.observe(request)), store);
  const writeBudget = config.xDailyWriteBudget === undefined ? undefined : createWriteBudget(store, config.xDailyWriteBudget, { now: budgetNow });
  const x = withWriteBudget(withBreaker(wire, breaker), { rateLimits, now: budgetNow, ...(writeBudget ? { budget: writeBudget } : {}) });
  const histories = Object.fromEntries(PROFILE_PARTS.map((part) => [part, part === 'avatar' ? history : createAvatarHistory(store, part)])) as Record<ProfilePart, AvatarHistory>;
  const pipeline = createChangePipeline({
    journal: createChangeJournal(store),
    histories,
    drivers: createPartDrivers({ x, normalizer, xImages }),
    vault,
    x,
    coordination,
    logger: logger.child({ component: 'changes' }),
    processingDelayMs: config.twitterProcessingDelayMs,
  });
  const avatars = createAvatarChanges({ store, vault, linkState, histories, pipeline, box, userLock, logger });
  const kits = createKits({ avatars, histories: { name: histories.name, bio: histories.bio }, x });
  const library = createAvatarLibrary(store);
  const consent = createConsentStore(store);
  const teamSeasons = createTeamSeasons(store, consent);
  const schedules = createScheduleStore(store);
  const locales = createLocalePreferences(store, logger.child({ component: 'locales' }));
  // Someone who left a server has withdrawn their branding consent there: found when a push or a team season reaches them.
  const isMember = async (guildId: string, userId: string): Promise<boolean> => {
    const membership = await edge.membership(guildId, userId);
    if (membership === 'left') await consent.leave(guildId, userId);
    return membership === 'member';
  };
  const scheduler = createScheduler({
    schedules,
    library,
    avatars,
    coordination,
    logger: logger.child({ component: 'scheduler' }),
    notify: async (discordUserId, record, notice) => edge.notify(discordUserId, record, notice, await locales.of(discordUserId)),
    minIntervalMs: config.scheduleMinIntervalMs,
    spreadMs: config.scheduleSpreadS * 1000,
    teams: { forMember: (userId) => teamSeasons.forMember(userId), everyMember: () => teamSeasons.everyMember(), libraryOwner: teamLibraryOwner },
    // Team seasons follow the rules of pushes: the same membership check and concurrency.
    isMember: (guildId, userId) => isMember(guildId, userId),
    teamConcurrency: config.brandingConcurrency,
    // Schedules that name a kit: its values for the user, and the name and bio X shows before it changes them.
    profiles: { valuesFor: (userId, kit, current) => kits.valuesFor(userId, kit, current), read: async (userId) => x.verifyCredentials(await avatars.requireActiveLink(userId)) },
    ...(options.clock ? { clock: options.clock } : {}),
    onFire: (_user, dueMs, startedMs) => metrics.scheduleFired((startedMs - dueMs) / 1000),
    onCatchUpChange: metrics.catchUpChange,
  });
  const pushes = createPushRunner({
    store,
    avatars,
    consent,
    kits,
    coordination,
    logger: logger.child({ component: 'branding' }),
    concurrency: config.brandingConcurrency,
    // Tests move it: an ask-mode push's deadline is on this clock.
    ...(options.clock ? { clock: options.clock } : {}),
    isMember: (guildId, userId) => isMember(guildId, userId),
    ...(edge.ownsGuild ? { ownsGuild: edge.ownsGuild } : {}),
    metrics,
    ...(writeBudget ? { writeBudget } : {}),
  });
  const links = createAccountLinks({
    store,
    vault,
    box,
    x,
    publicUrl: callbackFlowEnabled(config) ? config.publicUrl : undefined,
    tokenLock: createKeyedLock(),
    linkState,
    async forgetUser(discordUserId) {
      await avatars.forget(discordUserId);
      await library.forget(discordUserId);
      await schedules.delete(discordUserId);
      await consent.leaveEverywhere(discordUserId); // unlinking withdraws branding consent too
      await locales.forget(discordUserId);
      await scheduler.refresh(discordUserId); // every bot process drops the user's armed changes
    },
    async onLinked(discordUserId) {
      const record = await schedules.get(discordUserId);
      if (!record.suspended) return;
      await scheduler.edit(discordUserId, (draft) => void delete draft.suspended);
    },
  });
  scheduler.completeRecovered(avatars);
  // A push's change finished after a restart needs nothing more: the resumed push finds it on top of the
  // member's history (or joins it while it runs) and records the member as done.
  avatars.onRecovered('push', async () => undefined);
  // Before the scheduler and the pushes start: the changes left by a stopped process are known (and joined,
  // not uploaded again, by a catch-up or a resumed push); finishing them runs in the background.
  const recovered = options.recoverChanges === false ? 0 : await avatars.recover().catch((error: unknown) => {
    logger.error({ err: error }, 'could not list the unfinished avatar changes; they are finished at the next start');
    return 0;
  });
  if (recovered) logger.info({ changes: recovered }, 'finishing avatar changes from before a restart');
  const sweeper = createSweeper({
    store,
    namespaces: [...PREVIEW_NAMESPACES, ...PENDING_LINK_NAMESPACES],
    logger: logger.child({ component: 'sweeper' }),
    ...options.sweeper,
  });
  const scheduleUseCases = createScheduleUseCases(schedules);
  return {
    config,
    logger,
    normalizer,
    attachments,
    links,
    avatars,
    kits,
    library: createLibraryUseCases(library, scheduleUseCases),
    schedules: scheduleUseCases,
    scheduler,
    locales,
    pingStore: () => store.ping(),
    sweeper,
    branding: { consent, pushes, settings: createBrandingSettings(store), seasons: teamSeasons, writeBudget },
    metrics,
    breaker,
    async close() {
      avatars.close();
      await Promise.all([scheduler.stop(), pushes.stop(), sweeper.stop()]);
      await Promise.allSettled([x.close(), attachments.close(), xImages.close(), coordination.close()]);
      await store.close();
    },
  };
}
