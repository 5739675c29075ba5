/**
 * Prometheus metrics, served by the bot's HTTP server at GET /metrics (text format 0.0.4, prom-client).
 * One Registry per Services (tests build many services in one process), every metric named
 * `avatar_bot_*`. Each part of the bot records through one typed function here, called at one place:
 * the interaction dispatch (bot.ts), the X client's request (an observer in XClientOptions), the
 * normaliser, the scheduler's fires and catch-up, the push worker pool; the armed timers and the gateway
 * ping are read when scraped. METRICS=off gives the no-op `NO_METRICS` and /metrics answers 404.
 *
 * No label carries an id or anything a user typed: commands and subcommands come from the registered
 * definitions (anything else is `unknown`), X endpoints are the client's own path literals, outcomes are
 * error kinds, shards are shard numbers. The exposition's size is bounded by those sets.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { UserFacingError } from './errors.js';
import type { XRequestObservation } from './x/client.js';

const PREFIX = 'avatar_bot_';

export type InteractionOutcome = 'ok' | 'user-error' | 'internal-error';
const OUTCOMES: readonly InteractionOutcome[] = ['ok', 'user-error', 'internal-error'];

/** `command` and `subcommand` from the registered definitions (a component: its command and action), else UNKNOWN. */
export interface InteractionLabels {
  type: 'command' | 'component';
  command: string;
  subcommand: string;
}

/** What Discord sent that the bot did not register: one series for all of it, whatever the name. */
export const UNKNOWN = 'unknown';

export type ImageTarget = 'avatar' | 'banner';
export type PushPhase = 'push' | 'revert';

/** Read when /metrics is scraped. */
export interface MetricSources {
  /** Scheduled changes holding a node-cron task now. */
  armedTimers?(): number;
  /** The gateway's heartbeat round trip per shard of this process, in ms (-1 before the first heartbeat). */
  gatewayPings?(): Array<{ shard: number; ping: number }>;
}

export interface Metrics {
  /** false with METRICS=off: nothing is recorded and the HTTP server has no /metrics. */
  readonly enabled: boolean;
  /** The Content-Type of the exposition. */
  readonly contentType: string;
  /** Every metric of these services and of the process (memory, CPU, event-loop lag, GC), as text. */
  exposition(): Promise<string>;
  /** A slash command or a component finished: `user-error` when its answer was a refusal with words (a UserFacingError). */
  interaction(labels: InteractionLabels, outcome: InteractionOutcome): void;
  /** Its first answer to Discord (reply, defer, modal or update) was accepted, `seconds` after Discord created it. */
  acknowledged(labels: InteractionLabels, seconds: number): void;
  /** One request to X (each retry is one). */
  xRequest(request: XRequestObservation): void;
  /** One image normalised (or refused: `error`), queue wait included. */
  normalised(target: ImageTarget, seconds: number, error: unknown): void;
  /** A schedule's timer fired, `latenessSeconds` after its instant. */
  scheduleFired(latenessSeconds: number): void;
  /** The start-up catch-up made a change that was missed while the bot was down (X accepted its upload). */
  catchUpChange(): void;
  /** A push (or revert) started running here; call the returned function when it stops. */
  pushRunning(phase: PushPhase): () => void;
  /** A member of a push (or revert) concluded. */
  pushMember(phase: PushPhase, status: 'done' | 'failed' | 'skipped'): void;
}

const nothing = () => undefined;

/** METRICS=off. */
export const NO_METRICS: Metrics = {
  enabled: false,
  contentType: 'text/plain',
  exposition: async () => '',
  interaction: nothing,
  acknowledged: nothing,
  xRequest: nothing,
  normalised: nothing,
  scheduleFired: nothing,
  catchUpChange: nothing,
  pushRunning: () => nothing,
  pushMember: nothing,
};

/**
 * prom-client's default metrics (process memory and CPU, event-loop lag, GC, handles) describe the
 * process, and collectDefaultMetrics starts an event-loop delay monitor and a GC observer that are never
 * stopped: one registry per process, shared by every Services in it, instead of one more of each per
 * Services (a test file builds dozens).
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
  }
  return processRegistry;
}

/** X's statuses worth telling apart; any other is counted by its class (`5xx`), so a server cannot make new series. */
const X_STATUSES = new Set([200, 400, 401, 403, 404, 413, 420, 429, 500, 502, 503, 504]);
const statusLabel = (status: number | undefined) => (status === undefined ? 'none' : X_STATUSES.has(status) ? String(status) : `${Math.floor(status / 100) % 10}xx`);

/** A refusal's kind (ImageError, BackgroundColourError: a fixed set in the code), anything else `error`. */
const outcomeOf = (error: unknown) => (error === undefined ? 'ok' : error instanceof UserFacingError ? error.kind : 'error');

export function createMetrics(enabled: boolean, sources: MetricSources = {}): Metrics {
  if (!enabled) return NO_METRICS;
  const registry = new Registry();
  const registers = [registry];
  const interactionLabels = ['type', 'command', 'subcommand'] as const;

  const interactions = new Counter({
    name: `${PREFIX}interactions_total`,
    help: 'Slash commands and components handled, by command, subcommand (a component: its action) and outcome.',
    labelNames: [...interactionLabels, 'outcome'],
    registers,
  });
  const ack = new Histogram({
    name: `${PREFIX}interaction_ack_seconds`,
    help: "From the interaction's creation (its snowflake) to Discord accepting the bot's first answer; Discord allows 3 s.",
    labelNames: interactionLabels,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
    registers,
  });
  // The series of anything unregistered exist from the start: a forged name adds none.
  for (const type of ['command', 'component'] as const) {
    const labels = { type, command: UNKNOWN, subcommand: UNKNOWN };
    for (const outcome of OUTCOMES) interactions.inc({ ...labels, outcome }, 0);
    ack.zero(labels);
  }

  const xRequests = new Counter({ name: `${PREFIX}x_requests_total`, help: 'Requests to X by endpoint and status (none: no answer).', labelNames: ['endpoint', 'status'], registers });
  const xSeconds = new Histogram({
    name: `${PREFIX}x_request_seconds`,
    help: 'Time of a request to X, body read, by endpoint.',
    labelNames: ['endpoint'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const xRemaining = new Gauge({
    name: `${PREFIX}x_rate_limit_remaining`,
    help: "X's x-rate-limit-remaining in its last answer on the endpoint (X counts per user: this is the last user's).",
    labelNames: ['endpoint'],
    registers,
  });

  const normalisations = new Counter({ name: `${PREFIX}image_normalisations_total`, help: 'Images normalised, by target and outcome (ok or the refusal kind).', labelNames: ['target', 'outcome'], registers });
  const normaliseSeconds = new Histogram({
    name: `${PREFIX}image_normalisation_seconds`,
    help: 'Time to normalise an image, the wait for a decoding slot included.',
    labelNames: ['target'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  new Gauge({
    name: `${PREFIX}schedule_timers_armed`,
    help: 'Scheduled changes holding a timer (those due within the arm window).',
    registers,
    collect() {
      this.set(sources.armedTimers?.() ?? 0);
    },
  });
  const fires = new Counter({ name: `${PREFIX}schedule_fires_total`, help: "Schedule timers fired in this process.", registers });
  const lateness = new Histogram({
    name: `${PREFIX}schedule_fire_lateness_seconds`,
    help: 'How long after its instant a schedule timer fired.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
    registers,
  });
  const catchUps = new Counter({ name: `${PREFIX}schedule_catch_up_changes_total`, help: 'Changes missed while the bot was down and made by the start-up catch-up.', registers });

  const pushesRunning = new Gauge({ name: `${PREFIX}pushes_running`, help: 'Branding pushes (and reverts) running in this process.', labelNames: ['phase'], registers });
  const pushMembers = new Counter({ name: `${PREFIX}push_members_total`, help: 'Members of branding pushes (and reverts) concluded, by status.', labelNames: ['phase', 'status'], registers });
  for (const phase of ['push', 'revert'] as const) {
    pushesRunning.set({ phase }, 0);
    for (const status of ['done', 'failed', 'skipped'] as const) pushMembers.inc({ phase, status }, 0);
  }

  new Gauge({
    name: `${PREFIX}gateway_ping_seconds`,
    help: "The gateway's last heartbeat round trip, per shard of this process (absent before the first).",
    labelNames: ['shard'],
    registers,
    collect() {
      this.reset();
      for (const { shard, ping } of sources.gatewayPings?.() ?? []) if (ping >= 0) this.set({ shard: String(shard) }, ping / 1000);
    },
  });

  const defaults = processMetrics();
  return {
    enabled: true,
    contentType: registry.contentType,
    async exposition() {
      const [own, process] = await Promise.all([registry.metrics(), defaults.metrics()]);
      return `${own.trimEnd()}\n${process.trimEnd()}\n`;
    },
    interaction: (labels, outcome) => interactions.inc({ ...labels, outcome }),
    acknowledged: (labels, seconds) => ack.observe(labels, Math.max(0, seconds)),
    xRequest({ endpoint, status, seconds, rateLimitRemaining }) {
      xRequests.inc({ endpoint, status: statusLabel(status) });
      xSeconds.observe({ endpoint }, seconds);
      if (rateLimitRemaining !== undefined) xRemaining.set({ endpoint }, rateLimitRemaining);
    },
    normalised(target, seconds, error) {
      normalisations.inc({ target, outcome: outcomeOf(error) });
      normaliseSeconds.observe({ target }, seconds);
    },
    scheduleFired(latenessSeconds) {
      fires.inc();
      lateness.observe(Math.max(0, latenessSeconds));
    },
    catchUpChange: () => catchUps.inc(),
    pushRunning(phase) {
      pushesRunning.inc({ phase });
      let stopped = false;
      return () => {
        if (!stopped) pushesRunning.dec({ phase });
        stopped = true;
      };
    },
    pushMember: (phase, status) => pushMembers.inc({ phase, status }),
  };
}
