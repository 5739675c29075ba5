/** Benchmarks print a readable table, then their figures as one JSON object on the last line. */
import { loadavg } from 'node:os';

/** The 1, 5 and 15 minute load averages: other work on the machine skews every figure. */
const loadNow = () => loadavg().map((value) => value.toFixed(2)).join(' ');
let loadBefore: string | undefined;

/** Called before a benchmark runs: prints the machine's load average. */
export function markStart(): void {
  loadBefore = loadNow();
  console.log(`load average before (1/5/15 min): ${loadBefore}`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

export function printTable(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of cells.slice(1)) console.log(line(row));
}

/** The last line: the figures, with the load average before and after the run. */
export function printFigures(figures: Record<string, number | string | boolean | number[]>): void {
  const loadAfter = loadNow();
  console.log(`load average after (1/5/15 min): ${loadAfter}`);
  console.log(JSON.stringify({ ...figures, load_before: loadBefore ?? 'not taken', load_after: loadAfter }));
}

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}
