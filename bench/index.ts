/** `npm run bench -- <name>`: runs one benchmark. */
import { markStart } from './report.js';

const benchmarks: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  normalize: () => import('./normalize.js'),
  banner: () => import('./banner.js'),
  upload: () => import('./upload.js'),
  load: () => import('./load.js'),
  schedules: () => import('./schedules.js'),
  branding: () => import('./branding.js'),
  scale: () => import('./scale.js'),
};

const [name, ...args] = process.argv.slice(2);
const load = name === undefined ? undefined : benchmarks[name];
if (!load) {
  process.stderr.write(`error: name a benchmark: npm run bench -- <${Object.keys(benchmarks).join('|')}>\n`);
  process.exit(2);
}
const benchmark = await load();
markStart();
await benchmark.run(args);
