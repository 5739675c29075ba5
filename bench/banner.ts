/**
 * `npm run bench -- banner`: what a user waits for when making a banner, and what it costs in memory.
 *
 * One-shot `avatar-bot normalize --banner` (a fresh node process, as the CLI runs) of a generated 12 MP
 * photo vs `vipsthumbnail -s 1500x500 -m attention` on the same file (target: at most 2x its wall time),
 * and the CLI's peak RSS on that photo (target under 200 MB), read by the process itself (VmHWM) with
 * test/adversarial/report-usage.mjs preloaded, in runs apart from the timed ones.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { CLI, makePhoto, oneShotTimes, requireVipsthumbnail } from './normalize.js';
import { median, printFigures, printTable, round } from './report.js';

const REPORT_USAGE = resolve('test/adversarial/report-usage.mjs');
const ONE_SHOT_RUNS = 9;
const RSS_RUNS = 3;

/** Peak RSS and CPU time of one CLI run, as the process reports them on file descriptor 3. */
function measuredRun(args: string[]): { peakRssMb: number; cpuMs: number } {
  const result = spawnSync(process.execPath, ['--import', REPORT_USAGE, CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`avatar-bot ${args.join(' ')} failed: ${result.stderr?.toString().trim()}`);
  return JSON.parse(result.output[3]!.toString()) as { peakRssMb: number; cpuMs: number };
}

export async function run(): Promise<void> {
  requireVipsthumbnail();
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bot-bench-banner-'));
  try {
    const photo = await makePhoto(4032, 3024);
    const photoPath = join(dir, 'photo-12mp.jpg');
    writeFileSync(photoPath, photo);
    const oursPath = join(dir, 'ours-banner.jpg');
    const vipsPath = join(dir, 'vips-banner.jpg');
    const oursArgs = ['normalize', '--banner', photoPath, oursPath];
    const { ours, oursNoExtraCa, vips, nodeSharp } = oneShotTimes([CLI, ...oursArgs], [photoPath, '-s', '1500x500', '-m', 'attention', '-o', `${vipsPath}[Q=85,strip]`], ONE_SHOT_RUNS);
    const usage = Array.from({ length: RSS_RUNS }, () => measuredRun(oursArgs));

    const [oursMeta, vipsMeta] = await Promise.all([oursPath, vipsPath].map((path) => sharp(readFileSync(path)).metadata()));
    for (const [who, meta] of [['ours', oursMeta], ['vipsthumbnail', vipsMeta]] as const) {
      if (meta!.width !== 1500 || meta!.height !== 500) throw new Error(`${who} wrote ${meta!.width}x${meta!.height}, not 1500x500: the runs are not comparable`);
    }
    const figures = {
      ratio_vs_vipsthumbnail: round(median(ours) / median(vips)),
      ratio_vs_vipsthumbnail_no_extra_ca: round(median(oursNoExtraCa) / median(vips)),
      rss_mb: round(Math.max(...usage.map((u) => u.peakRssMb)), 1),
      cli_cpu_ms: round(median(usage.map((u) => u.cpuMs))),
      ours_ms: round(median(ours)),
      vipsthumbnail_ms: round(median(vips)),
      node_import_sharp_ms: round(median(nodeSharp)),
      extra_ca_set: Boolean(process.env.NODE_EXTRA_CA_CERTS),
      banner_bytes: readFileSync(oursPath).length,
      input_bytes: photo.length,
    };
    printTable(`12 MP JPEG (${(photo.length / 1e6).toFixed(1)} MB) -> 1500x500 banner, one process per run, median of ${ONE_SHOT_RUNS}`, ['tool', 'wall ms'], [
      [`avatar-bot normalize --banner (node dist/src/cli.js), environment as given${figures.extra_ca_set ? ' (NODE_EXTRA_CA_CERTS set)' : ''}`, figures.ours_ms],
      ['avatar-bot normalize --banner without NODE_EXTRA_CA_CERTS', round(median(oursNoExtraCa))],
      ['baseline: node --input-type=module -e "await import(\'sharp\')", as given', figures.node_import_sharp_ms],
      ['vipsthumbnail -s 1500x500 -m attention', figures.vipsthumbnail_ms],
      ['ratio, as given (target <= 2)', figures.ratio_vs_vipsthumbnail],
      ['ratio without NODE_EXTRA_CA_CERTS', figures.ratio_vs_vipsthumbnail_no_extra_ca],
    ]);
    printTable(`The CLI run itself (worst / median of ${RSS_RUNS})`, ['measure', 'value', 'target'], [
      ['peak RSS (MB)', figures.rss_mb, '< 200'],
      ['CPU time, libvips threads included (ms)', figures.cli_cpu_ms, ''],
      ['banner written (bytes)', figures.banner_bytes, '< 5,000,000'],
    ]);
    printFigures(figures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
