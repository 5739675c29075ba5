/**
 * A lease that one process holds for as long as it works on something, built on the run coordinator's
 * "take this key unless someone has it" (SET NX PX on Redis). Such a key cannot be renewed by its own
 * holder, and re-taking it after it expires leaves a gap in which another process could take it. So
 * time is cut into slots and each slot has its own key: the holder takes the current slot's key and,
 * while it holds that, the next one too. Another process can only ever take a slot nobody holds, which
 * happens once the holder stopped renewing (it stopped or died): then the work moves over within about
 * two slots.
 */
import type { Coordination } from './runs.js';

export const LEASE_SLOT_MS = 30_000;

export interface Lease {
  /** True while this process holds the lease; renews it when a new slot has begun. */
  held(): Promise<boolean>;
  release(): void;
}

/** Takes the lease named `name`, or returns undefined when another process holds it. */
export async function takeLease(coordination: Coordination, name: string, slotMs = LEASE_SLOT_MS): Promise<Lease | undefined> {
  const slots = new Set<number>();
  let lost = false;
  const slotAt = (ms: number) => Math.floor(ms / slotMs);
  // A slot's key outlives the slot by half a slot, so a renewal that runs a little late still finds it ours.
  const ttlFor = (slot: number, now: number) => (slot + 1) * slotMs + slotMs / 2 - now;

  async function renew(): Promise<boolean> {
    if (lost) return false;
    const now = Date.now();
    const current = slotAt(now);
    for (const slot of slots) if (slot < current) slots.delete(slot);
    for (const slot of [current, current + 1]) {
      if (slots.has(slot)) continue;
      if (await coordination.coordinator.shouldRun(`${name}:${slot}`, ttlFor(slot, now))) slots.add(slot);
      else if (slot === current) {
        lost = true;
        return false;
      }
    }
    return true;
  }

  if (!(await renew())) return undefined;
  const timer = setInterval(() => void renew().catch(() => undefined), slotMs / 3);
  timer.unref();
  return {
    async held() {
      if (lost) return false;
      return slots.has(slotAt(Date.now())) && slots.has(slotAt(Date.now()) + 1) ? true : renew().catch(() => false);
    },
    release() {
      lost = true;
      clearInterval(timer);
    },
  };
}
