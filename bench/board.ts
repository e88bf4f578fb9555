// Board benchmark: claim latency and claim+complete throughput across processes, next to the cost
// of the bare file-system operations a claim is made of, all measured in this one run.
//   npm run bench:board            (node --import tsx bench/board.ts)
//   BENCH_QUICK=1 npm run bench:board   smaller sample for a smoke run
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { FileBoard } from '../src/core/board';

const quick = process.env.BENCH_QUICK === '1';

interface WorkerReport {
  latenciesMs: number[];
  completed: number;
  elapsedMs: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function fmt(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function waitUntil(epochMs: number): void {
  while (Date.now() < epochMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
}

/** Worker process: claims (and optionally completes) until it has done `limit` tasks or none are left. */
function runWorker(): void {
  const [, , , root, agent, mode, limitText, startText] = process.argv;
  const board = FileBoard.open({ root });
  const limit = Number(limitText);
  const latenciesMs: number[] = [];
  waitUntil(Number(startText));
  const began = process.hrtime.bigint();
  let completed = 0;
  while (completed < limit) {
    const start = process.hrtime.bigint();
    const claim = board.claim({ agent, leaseMs: 600_000 });
    latenciesMs.push(elapsedMs(start));
    if (!claim) break;
    if (mode === 'complete') board.complete(claim);
    if (mode === 'claim-paced') waitUntil(Date.now() + 2); // an agent works between claims
    completed++;
  }
  const report: WorkerReport = { latenciesMs, completed, elapsedMs: elapsedMs(began) };
  process.stdout.write(JSON.stringify(report));
  board.close();
}

function spawnWorker(root: string, agent: string, mode: string, limit: number, startAt: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--worker', root, agent, mode, String(limit), String(startAt)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as WorkerReport) : reject(new Error(err))));
  });
}

function freshBoard(pending: number): { root: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-'));
  const root = path.join(dir, '.swarm');
  const board = FileBoard.open({ root, durable: false, excludeFromGit: false });
  const batch = 1000;
  for (let i = 0; i < pending; i += batch) {
    board.postMany(Array.from({ length: Math.min(batch, pending - i) }, (_, j) => ({ title: `task ${i + j}`, priority: (i + j) % 3 })));
  }
  board.close();
  return { root, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function runProcesses(pending: number, processes: number, mode: 'claim' | 'claim-paced' | 'complete', perProcess: number): Promise<{ latencies: number[]; completed: number; wallMs: number }> {
  const { root, cleanup } = freshBoard(pending);
  try {
    const startAt = Date.now() + 1500 + processes * 300; // every worker is loaded before the start
    const reports = await Promise.all(Array.from({ length: processes }, (_, i) => spawnWorker(root, `bench-${i}`, mode, perProcess, startAt)));
    return {
      latencies: reports.flatMap((report) => report.latenciesMs),
      completed: reports.reduce((sum, report) => sum + report.completed, 0),
      wallMs: Math.max(...reports.map((report) => report.elapsedMs)),
    };
  } finally {
    cleanup();
  }
}

/** The bare operations a claim is made of: one rename out of pending/, one utimes for the lease. */
function measureBareOperations(entries: number): { renameMs: number; utimesMs: number; readdirMs: number; fsyncDirMs: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-fs-'));
  const from = path.join(dir, 'from');
  const to = path.join(dir, 'to');
  fs.mkdirSync(from);
  fs.mkdirSync(to);
  const samples = Math.min(entries, quick ? 500 : 2000);
  for (let i = 0; i < entries; i++) fs.writeFileSync(path.join(from, `${String(i).padStart(8, '0')}.json`), '{}');
  const renames: number[] = [];
  const utimes: number[] = [];
  for (let i = 0; i < samples; i++) {
    const name = `${String(i).padStart(8, '0')}.json`;
    let start = process.hrtime.bigint();
    fs.renameSync(path.join(from, name), path.join(to, name));
    renames.push(elapsedMs(start));
    start = process.hrtime.bigint();
    fs.utimesSync(path.join(to, name), Date.now() / 1000, Date.now() / 1000);
    utimes.push(elapsedMs(start));
  }
  const readdirs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = process.hrtime.bigint();
    fs.readdirSync(from);
    readdirs.push(elapsedMs(start));
  }
  const fsyncs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const start = process.hrtime.bigint();
    const fd = fs.openSync(to, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fsyncs.push(elapsedMs(start));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { renameMs: percentile(renames, 50), utimesMs: percentile(utimes, 50), readdirMs: percentile(readdirs, 50), fsyncDirMs: percentile(fsyncs, 50) };
}

async function main(): Promise<void> {
  const sizes = [1_000, 10_000];
  console.log(`Board benchmark on ${os.cpus().length} cores, Node ${process.version}, ${os.tmpdir()}${quick ? ' (quick)' : ''}`);
  const rows: string[] = ['| pending | processes | claims | claim p50 | claim p99 | bare rename+utimes p50 | claim p50 / bare |', '|---:|---:|---|---:|---:|---:|---:|'];
  for (const pending of sizes) {
    const bare = measureBareOperations(pending);
    const bareClaim = bare.renameMs + bare.utimesMs;
    for (const [processes, mode] of [[1, 'claim'], [4, 'claim'], [4, 'claim-paced']] as const) {
      const perProcess = Math.floor((quick ? 0.2 : mode === 'claim-paced' ? 0.25 : 0.8) * pending / processes);
      const { latencies } = await runProcesses(pending, processes, mode, perProcess);
      const p50 = percentile(latencies, 50);
      const style = mode === 'claim' ? 'back to back' : 'paced, 2 ms apart';
      rows.push(`| ${pending} | ${processes} | ${style} | ${fmt(p50)} | ${fmt(percentile(latencies, 99))} | ${fmt(bareClaim)} | ${(p50 / bareClaim).toFixed(1)}× |`);
      console.log(rows[rows.length - 1]);
    }
    console.log(`  bare ops at ${pending} entries: rename ${fmt(bare.renameMs)}, utimes ${fmt(bare.utimesMs)}, readdir ${fmt(bare.readdirMs)}, directory fsync ${fmt(bare.fsyncDirMs)}`);
  }
  const throughputRows = ['| processes | claim+complete per second (durable) | bare rename pairs per second | ratio |', '|---:|---:|---:|---:|'];
  const bare = measureBareOperations(2_000);
  const barePerSecond = 1000 / (2 * bare.renameMs + bare.utimesMs + bare.fsyncDirMs);
  for (const processes of [1, 4, 8]) {
    const total = quick ? 800 : 4_000;
    const { completed, wallMs } = await runProcesses(total, processes, 'complete', Math.ceil(total / processes));
    const perSecond = (completed / wallMs) * 1000;
    throughputRows.push(`| ${processes} | ${perSecond.toFixed(0)} | ${barePerSecond.toFixed(0)} | ${(perSecond / barePerSecond).toFixed(2)} |`);
    console.log(throughputRows[throughputRows.length - 1]);
  }
  console.log('\nClaim latency (claims only, tasks left running; back to back = every process claims in a tight loop, so 4 processes oversubscribe 2 cores):');
  console.log(rows.join('\n'));
  console.log('\nThroughput (claim + complete with fsync of done/; bare = 2 renames + utimes + directory fsync, one process):');
  console.log(throughputRows.join('\n'));
}

if (process.argv[2] === '--worker') runWorker();
else main().catch((error) => {
  console.error(error);
  process.exit(1);
});
