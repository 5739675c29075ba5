/**
 * Image work runs at a lower CPU priority than the main thread (Linux).
 *
 * libvips decodes and encodes on its own threads and on libuv's pool. On a busy core they took the CPU
 * the main thread needed to acknowledge interactions: 100 `/avatar set` at once on one core were
 * acknowledged serially, p99 ~300 ms, against Discord's 3 s window and our 100 ms target. At nice 10
 * a worker thread gets about a tenth of the CPU weight of the main thread (CFS weights 110 vs 1024), so
 * the main thread acknowledges first and the image work takes the rest of the core.
 *
 * Linux applies setpriority(PRIO_PROCESS, tid) to one thread; every thread of the process but the main
 * one is lowered (libuv's pool, libvips' workers, V8's helpers), as they appear: libvips starts threads
 * when an image starts, so this runs before and after each image. Lowering a priority needs no privilege
 * and cannot be undone without one, which is what we want. Elsewhere it does nothing.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** A worker thread's nice value: 10 of 19. */
export const WORKER_NICE = 10;
const lowered = new Set<number>();

/** Lower every thread of this process except the main one that is not lowered yet. Cheap: one readdir. */
export function lowerWorkerThreads(): void {
  if (process.platform !== 'linux') return;
  let threads: string[];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  if (lowered.size > 4096) lowered.clear(); // thread ids are reused; the set stays small in practice
  for (const name of threads) {
    const tid = Number(name);
    if (tid === process.pid || lowered.has(tid)) continue;
    lowered.add(tid);
    try {
      setPriority(tid, WORKER_NICE);
    } catch {
      // the thread ended meanwhile, or the system refuses: image work then runs at normal priority
    }
  }
}
