// Preloaded (`node --import`) into a child process under test: at exit it writes its own CPU time and
// peak RSS (VmHWM, which unlike getrusage's maxRSS does not inherit the parent's RSS at fork) as one
// JSON line on file descriptor 3.
import { readFileSync, writeSync } from 'node:fs';

process.on('exit', () => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const { user, system } = process.cpuUsage();
  writeSync(3, `${JSON.stringify({ cpuMs: (user + system) / 1000, peakRssMb: Number(hwm?.[1]) / 1024 })}\n`);
});
