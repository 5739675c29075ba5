/**
 * Image work runs below the main thread's priority (src/avatar/thread-priority.ts): after images are
 * normalised, every thread of the process but the main one (libuv's pool, libvips' workers) has nice 10,
 * so acknowledging interactions on a busy core comes before decoding. The main thread keeps its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createAvatarNormalizer } from '../../src/avatar/normalize.js';
import { WORKER_NICE } from '../../src/avatar/thread-priority.js';

/** nice of each thread of this process, by thread id (/proc/<pid>/task/<tid>/stat, field 19). */
function niceByThread(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const name of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${name}/stat`, 'utf8').split(') ')[1]!.split(' ');
      nice.set(Number(name), Number(fields[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return nice;
}

describe('thread priority', () => {
  it('lowers every thread but the main one while images are normalised', async () => {
    const mainBefore = niceByThread().get(process.pid);
    const normalizer = createAvatarNormalizer({ concurrency: 2 });
    const photo = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    await Promise.all(Array.from({ length: 4 }, () => normalizer.normalize(photo)));
    const nice = niceByThread();
    expect(nice.get(process.pid)).toBe(mainBefore);
    const workers = [...nice].filter(([tid]) => tid !== process.pid);
    expect(workers.length).toBeGreaterThan(2); // libuv's pool and V8's helpers at least
    expect(workers.filter(([, value]) => value < WORKER_NICE)).toEqual([]);
  });
});
