/**
 * Where branding pushes live: one record per job (`branding-jobs`, by job id), the pushed image once
 * per job (`branding-images`), each member's outcome under its own key while the job runs
 * (`branding-results`, `<jobId>:<phase>:<userId>`), and per guild the active job and the recent ones
 * (`branding-guilds`). Per-member keys make a 500-member push cost 500 small writes instead of 500
 * rewrites of a growing record; when a phase ends they are folded into the job record and deleted.
 * Knows nothing about X or Discord.
 */
import type Keyv from 'keyv';
import type { Store } from '../store/backend.js';
import type { ImageFormat, StoredImage } from '../avatar/history.js';
import type { ImagePart, ProfilePart } from '../profile/parts.js';

/** How many jobs per guild `status` shows and `revert` can reach; older ones are deleted. */
export const RECENT_JOBS = 10;

export type MemberStatus = 'pending' | 'done' | 'failed' | 'skipped';

export interface MemberResult {
  status: MemberStatus;
  /** Why the member failed or was skipped: 'not-linked', 'link-revoked', 'token-revoked', 'not-opted-in',
   *  'left-server', 'changed-since', 'rate-limited', 'transient', another error's kind, or 'internal'.
   *  Worded where it is shown, in the reader's language (src/bot/branding-report.ts). */
  kind?: string;
  /** The parameters and variant of that error's words, when it is a kind the catalogue words as an error. */
  params?: Record<string, string | number>;
  variant?: string;
  /** Records written before reasons were kinds: the English words, shown as they are. Not written any more. */
  reason?: string;
  url400?: string;
  /** Uploads (or reverts) tried for this member. */
  attempts: number;
  /** When the result last changed. */
  at?: string;
  /** Push only: the member's history entry before the push ('original' when they had none), recorded before the upload. */
  previous?: string;
  /** Push only: the history entry the push created. */
  entryId?: string;
  /** A kit push: each part of the kit, what happened to it (and to its revert). */
  parts?: Partial<Record<ProfilePart, PartResult>>;
  /** Ask mode: the member's answer, while the push is asking. */
  answer?: 'approved' | 'declined';
  /** Ask mode: the member was sent the question (it is sent once). */
  asked?: true;
}

/** One part of a member's kit push (or its revert). Kinds as MemberResult's, plus 'part-not-allowed'. */
export interface PartResult {
  status: MemberStatus;
  kind?: string;
  params?: Record<string, string | number>;
  variant?: string;
  /** The part's history entry before the push ('original' when none), recorded before the upload. */
  previous?: string;
  /** The history entry the push created. */
  entryId?: string;
  /** What X shows for the part afterwards (a URL or the text). */
  shown?: string;
}

/** What a kit push carries: its images (stored with the job) and its templates, filled per member. */
export interface JobKit {
  name: string;
  avatar?: { hash: string; format: ImageFormat };
  banner?: { hash: string; format: ImageFormat };
  nameTemplate?: string;
  bioTemplate?: string;
}

/** `consented`: the members' standing consent; `ask`: each member approves this push, until the deadline. */
export type PushMode = 'consented' | 'ask';

export type PushState = 'asking' | 'running' | 'done' | 'reverting' | 'reverted';
export type Phase = 'push' | 'revert';

export interface PushJob {
  id: string;
  guildId: string;
  adminId: string;
  /** An image push: the avatar pushed (absent for a kit push). */
  image?: { hash: string; format: ImageFormat };
  /** A kit push. */
  kit?: JobKit;
  /** Absent in records from before modes: consented. */
  mode?: PushMode;
  /** Ask mode: when asking ends and the approved members are changed. */
  deadline?: string;
  label: string;
  createdAt: string;
  /** Discord user ids, in the order they are processed. */
  targets: string[];
  results: Record<string, MemberResult>;
  state: PushState;
  /** For each member the push changed: what to restore. */
  previous?: Record<string, string>;
  /** Per member, the outcome of the revert (once one was started). */
  reverts?: Record<string, MemberResult>;
  finishedAt?: string;
  revertedBy?: string;
  revertedAt?: string;
}

type StoredJob = Omit<PushJob, 'previous'>;

interface GuildRecord {
  /** The job running or being reverted, if any. */
  active?: string;
  /** Newest first. */
  recent: string[];
}

export interface JobStore {
  /** The job with every member's latest result; undefined when it is gone. */
  get(jobId: string): Promise<PushJob | undefined>;
  /** Stores the job and its images (an image push's avatar; a kit's avatar and banner). */
  create(job: PushJob, images: Partial<Record<ImagePart, StoredImage>>): Promise<void>;
  /** Rewrite the job record (state, folded results); never called per member. */
  save(job: PushJob): Promise<void>;
  image(jobId: string, part?: ImagePart): Promise<StoredImage | undefined>;
  setResult(jobId: string, phase: Phase, userId: string, result: MemberResult): Promise<void>;
  /** One member of a running or asking job, and the job's record without the others' latest results:
   *  two reads, where get() reads every member's. */
  member(jobId: string, userId: string): Promise<{ job: PushJob; result: MemberResult | undefined } | undefined>;
  /** Write the finished job (the phase's results folded in), then drop the per-member keys. */
  finishPhase(job: PushJob, phase: Phase): Promise<void>;
  guild(guildId: string): Promise<GuildRecord>;
  /** Make the job the guild's active one (and its newest, when new); deletes jobs that fall out of the recent list. */
  activate(guildId: string, jobId: string): Promise<void>;
  /** Clear the guild's active pointer if it still names this job. */
  deactivate(guildId: string, jobId: string): Promise<void>;
  /** Every guild with an active job. */
  activeJobs(): AsyncGenerator<{ guildId: string; jobId: string }>;
}

const resultKey = (jobId: string, phase: Phase, userId: string) => `${jobId}:${phase}:${userId}`;
/** The avatar under the job's id (as before kits), the banner beside it. */
const imageKey = (jobId: string, part: ImagePart = 'avatar') => (part === 'avatar' ? jobId : `${jobId}:banner`);

/** Adds the derived `previous` map to a stored job. */
function view(job: StoredJob): PushJob {
  const previous: Record<string, string> = {};
  for (const [userId, result] of Object.entries(job.results)) if (result.status === 'done' && result.previous) previous[userId] = result.previous;
  return { ...job, previous };
}

/** Which push is running in each server (listed at start to resume them). */
const GUILDS_NAMESPACE = 'branding-guilds';

export function createJobStore(store: Store): JobStore {
  const jobs: Keyv<StoredJob> = store.namespace<StoredJob>('branding-jobs');
  const images: Keyv<{ data: string; format: ImageFormat }> = store.namespace('branding-images');
  const results: Keyv<MemberResult> = store.namespace<MemberResult>('branding-results');
  const guilds: Keyv<GuildRecord> = store.namespace<GuildRecord>(GUILDS_NAMESPACE);

  /** The per-member results written since the phase began, over the ones in the record. */
  async function overlay(job: StoredJob, phase: Phase): Promise<StoredJob> {
    const field = phase === 'push' ? 'results' : 'reverts';
    const base = job[field] ?? {};
    const members = phase === 'push' ? job.targets : Object.keys(base);
    const latest = members.length ? await results.getMany(members.map((userId) => resultKey(job.id, phase, userId))) : [];
    const merged: Record<string, MemberResult> = { ...base };
    members.forEach((userId, index) => {
      const result = latest[index];
      if (result) merged[userId] = result;
    });
    return { ...job, [field]: merged };
  }

  const strip = ({ previous: _previous, ...job }: PushJob): StoredJob => job;

  return {
    async get(jobId) {
      const job = await jobs.get(jobId);
      if (!job) return undefined;
      if (job.state === 'running' || job.state === 'asking') return view(await overlay(job, 'push'));
      if (job.state === 'reverting') return view(await overlay(job, 'revert'));
      return view(job);
    },
    async create(job, parts) {
      for (const [part, image] of Object.entries(parts) as Array<[ImagePart, StoredImage]>) {
        await images.set(imageKey(job.id, part), { data: image.data.toString('base64'), format: image.format });
      }
      await jobs.set(job.id, strip(job));
    },
    save: (job) => jobs.set(job.id, strip(job)).then(() => undefined),
    async image(jobId, part) {
      const record = await images.get(imageKey(jobId, part));
      return record ? { data: Buffer.from(record.data, 'base64'), format: record.format } : undefined;
    },
    async member(jobId, userId) {
      const job = await jobs.get(jobId);
      if (!job) return undefined;
      return { job: view(job), result: (await results.get(resultKey(jobId, 'push', userId))) ?? job.results[userId] };
    },
    setResult: (jobId, phase, userId, result) => results.set(resultKey(jobId, phase, userId), result).then(() => undefined),
    async finishPhase(job, phase) {
      await jobs.set(job.id, strip(job));
      const members = phase === 'push' ? job.targets : Object.keys(job.reverts ?? {});
      if (members.length) await results.deleteMany(members.map((userId) => resultKey(job.id, phase, userId)));
    },
    guild: async (guildId) => (await guilds.get(guildId)) ?? { recent: [] },
    activate: (guildId, jobId) =>
      store.locked(`branding-guilds:${guildId}`, async () => {
        const record = (await guilds.get(guildId)) ?? { recent: [] };
        const recent = record.recent.includes(jobId) ? record.recent : [jobId, ...record.recent];
        await guilds.set(guildId, { active: jobId, recent: recent.slice(0, RECENT_JOBS) });
        for (const dropped of recent.slice(RECENT_JOBS)) {
          await Promise.all([jobs.delete(dropped), images.delete(imageKey(dropped)), images.delete(imageKey(dropped, 'banner'))]);
        }
      }),
    deactivate: (guildId, jobId) =>
      store.locked(`branding-guilds:${guildId}`, async () => {
        const record = await guilds.get(guildId);
        if (record?.active === jobId) await guilds.set(guildId, { recent: record.recent });
      }),
    async *activeJobs() {
      // Page by page, as the change journal lists its records (keyv's iterator outlasted the deadline on a large Redis).
      for await (const page of store.pages<GuildRecord>(GUILDS_NAMESPACE)) {
        for (const [guildId, record] of page) if (record?.active) yield { guildId, jobId: record.active };
      }
    },
  };
}
