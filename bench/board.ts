// Board benchmark: the file board and the Redis board side by side in one run, at equal durability
// (the file board fsyncs every change; redis-server runs with AOF and `appendfsync always`), with raw
// BullMQ manual processing on the same server as the floor.
//   npm run bench:board                 (node --import tsx bench/board.ts)
//   BENCH_QUICK=1 npm run bench:board   smaller samples for a smoke run
//   BENCH_ONLY=throughput,cpu           only these sections (latency, throughput, cpu, other)
//   BENCH_ROUNDS=5                      throughput rounds per process count (default 3; the median is shown)
//   BENCH_BASELINE=/path/to/checkout    also runs the Redis board of another checkout (its
//                                       src/core/board/redis/board.ts) in the same run, as "baseline"
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { FileBoard } from '../src/core/board/fileBoard';
import { RedisBoard, keyBase } from '../src/core/board/redis/board';
import { parseBoardLocation } from '../src/core/board/open';
import type { Board } from '../src/core/board/interface';
import { startRedis, type RedisServer } from '../test/harness/redis';

const quick = process.env.BENCH_QUICK === '1';
const baseline = process.env.BENCH_BASELINE;
/**
 * Throughput rounds per process count. With appendfsync always a cycle waits for fsyncs, whose time
 * depends on everything else writing to the disk: one round of the same code measured 211 and 134
 * tasks/s side by side on a shared machine, so each figure is the median of several rounds.
 */
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3)));
const sections = new Set((process.env.BENCH_ONLY ?? 'latency,throughput,cpu,other').split(',').map((name) => name.trim()));
type Kind = 'file' | 'redis' | 'bullmq' | 'baseline';
/** The Redis boards measured: this checkout's, and the baseline's when BENCH_BASELINE names one. */
const redisKinds: Kind[] = baseline ? ['redis', 'baseline'] : ['redis'];

interface WorkerReport {
  latenciesMs: number[];
  completed: number;
  elapsedMs: number;
  /** CPU time (user + system) the worker process spent in the measured loop. */
  cpuMs: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function fmt(ms: number): string {
  if (Number.isNaN(ms)) return '–';
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(2)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ opening each kind

async function openKind(kind: Exclude<Kind, 'bullmq'>, location: string): Promise<Board> {
  if (kind === 'file') return FileBoard.open({ root: location, durable: true, excludeFromGit: false });
  const parsed = parseBoardLocation(location);
  if (parsed.kind !== 'redis') throw new Error('expected a Redis location');
  if (kind === 'baseline') {
    const module = (await import(path.resolve(baseline!, 'src/core/board/redis/board'))) as { RedisBoard: { open(options: object): Promise<Board> } };
    return module.RedisBoard.open(parsed);
  }
  return RedisBoard.open(parsed);
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function rawConnection(url: string): { host: string; port: number; db: number; maxRetriesPerRequest: null } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port), db: Number(parsed.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

// ------------------------------------------------------------------ worker processes

/** Claims (and completes) until `limit` tasks are done or none are left; prints a WorkerReport. */
async function runWorker(): Promise<void> {
  const [, , , kind, location, agent, mode, limitText, startText] = process.argv as [string, string, string, Kind, string, string, string, string, string];
  const limit = Number(limitText);
  const latenciesMs: number[] = [];
  let completed = 0;
  if (kind === 'bullmq') {
    const worker = new Worker('raw', null, { connection: rawConnection(location), prefix: '{raw}', autorun: false });
    await worker.waitUntilReady();
    await sleep(Number(startText) - Date.now());
    const began = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    while (completed < limit) {
      const token = `${agent}.${completed}`;
      const start = process.hrtime.bigint();
      const job = await worker.getNextJob(token, { block: false });
      latenciesMs.push(since(start));
      if (!job) break;
      if (mode === 'complete') await job.moveToCompleted('ok', token, false);
      completed++;
    }
    const elapsedMs = since(began);
    const cpuMs = cpuMsSince(cpu);
    await worker.close(true);
    process.stdout.write(JSON.stringify({ latenciesMs, completed, elapsedMs, cpuMs }));
    return;
  }
  const board = await openKind(kind, location);
  if (mode === 'hold') {
    const claim = await board.claim({ agent, leaseMs: Number(limitText) });
    process.stdout.write(`claimed ${claim?.task.id}\n`);
    await new Promise(() => undefined);
  }
  await sleep(Number(startText) - Date.now());
  const began = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  while (completed < limit) {
    const start = process.hrtime.bigint();
    const claim = await board.claim({ agent, leaseMs: 600_000 });
    latenciesMs.push(since(start));
    if (!claim) break;
    if (mode === 'complete') await board.complete(claim);
    completed++;
  }
  const elapsedMs = since(began);
  const cpuMs = cpuMsSince(cpu);
  await board.close();
  process.stdout.write(JSON.stringify({ latenciesMs, completed, elapsedMs, cpuMs }));
}

function spawnWorker(args: string[]): { promise: Promise<string>; kill(signal: NodeJS.Signals): void; stdout(): string } {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--worker', ...args]);
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  const promise = new Promise<string>((resolve, reject) => child.on('close', (code, signal) => (code === 0 || signal ? resolve(out) : reject(new Error(err)))));
  return { promise, kill: (signal) => child.kill(signal), stdout: () => out };
}

// ------------------------------------------------------------------ fixtures

interface Bench {
  server: RedisServer;
  scratch: string;
  counter: number;
}

/** A fresh board of the kind with `pending` tasks; returns its location. */
async function freshBoard(bench: Bench, kind: Kind, pending: number, server: RedisServer = bench.server): Promise<string> {
  const name = `b${++bench.counter}`;
  if (kind === 'bullmq') {
    const url = server.url(0);
    const queue = new Queue('raw', { connection: rawConnection(url), prefix: '{raw}' });
    await queue.obliterate({ force: true });
    for (let i = 0; i < pending; i += 1000) {
      const count = Math.min(1000, pending - i);
      await queue.addBulk(Array.from({ length: count }, (_, j) => ({ name: 'task', data: {}, opts: { priority: 10_000 - ((i + j) % 3), attempts: 1 } })));
    }
    await queue.close();
    return url;
  }
  const location = kind === 'file' ? path.join(bench.scratch, name, '.swarm') : server.url(0, name);
  const board = await openKind(kind, location);
  for (let i = 0; i < pending; i += 1000) {
    const count = Math.min(1000, pending - i);
    await board.postMany(Array.from({ length: count }, (_, j) => ({ title: `task ${i + j}`, priority: (i + j) % 3, files: [`src/f${i + j}.ts`] })));
  }
  await board.close();
  return location;
}

async function runProcesses(bench: Bench, kind: Kind, pending: number, processes: number, mode: 'claim' | 'complete', perProcess: number, server?: RedisServer) {
  const location = await freshBoard(bench, kind, pending, server);
  const aofBefore = kind === 'file' ? 0 : await aofSize(server ?? bench.server);
  const startAt = Date.now() + 2500 + processes * 400; // every worker is loaded before the start
  const reports = (await Promise.all(Array.from({ length: processes }, (_, i) => spawnWorker([kind, location, `bench-${i}`, mode, String(perProcess), String(startAt)]).promise))).map(
    (out) => JSON.parse(out) as WorkerReport,
  );
  return {
    latencies: reports.flatMap((report) => report.latenciesMs),
    completed: reports.reduce((sum, report) => sum + report.completed, 0),
    wallMs: Math.max(...reports.map((report) => report.elapsedMs)),
    cpuMs: reports.reduce((sum, report) => sum + report.cpuMs, 0),
    /** What the run added to the server's append-only file (its posts excluded). */
    aofGrowth: kind === 'file' ? 0 : (await aofSize(server ?? bench.server)) - aofBefore,
  };
}

// ------------------------------------------------------------------ measurements

async function claimLatency(bench: Bench, kind: Kind): Promise<string> {
  const pending = quick ? 500 : 2_000;
  const { latencies } = await runProcesses(bench, kind, pending, 1, 'claim', pending / 2);
  return `| ${kind} | ${pending} | ${fmt(percentile(latencies, 50))} | ${fmt(percentile(latencies, 99))} |`;
}

/** Tasks per second, and for the kinds on Redis the bytes each cycle adds to the append-only file. */
async function throughput(bench: Bench, kind: Kind, processes: number): Promise<{ perSecond: number; aofBytes?: number }> {
  const total = quick ? 600 : 3_000;
  const { completed, wallMs, aofGrowth } = await runProcesses(bench, kind, total, processes, 'complete', Math.ceil(total / processes));
  const aofBytes = kind === 'file' ? undefined : aofGrowth / completed;
  return { perSecond: (completed / wallMs) * 1000, aofBytes };
}

/** The size of the server's append-only file (INFO persistence), which every durable write grows. */
async function aofSize(server: RedisServer): Promise<number> {
  const info = await withClient(server, (client) => client.info('persistence'));
  return Number(/aof_current_size:(\d+)/.exec(info)?.[1] ?? 0);
}

async function withClient<T>(server: RedisServer, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

function median(values: number[]): number {
  return percentile(values, 50);
}

/**
 * CPU per claim+complete cycle, one process, on a server without AOF: the client's CPU (the
 * worker's process.cpuUsage) and the server's (INFO used_cpu_user + used_cpu_sys). Steadier than
 * wall-clock rates on a machine shared with other work.
 */
async function cpuPerCycle(bench: Bench, server: RedisServer, kind: Kind): Promise<{ clientUs: number; serverUs: number }> {
  const cycles = quick ? 500 : 2_000;
  const info = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    const location = await freshBoard(bench, kind, cycles, server);
    const serverBefore = serverCpuSeconds(await info.info('cpu'));
    const startAt = Date.now() + 2500;
    const report = JSON.parse(await spawnWorker([kind, location, 'cpu', 'complete', String(cycles), String(startAt)]).promise) as WorkerReport;
    const serverAfter = serverCpuSeconds(await info.info('cpu'));
    return { clientUs: (report.cpuMs * 1000) / report.completed, serverUs: ((serverAfter - serverBefore) * 1e6) / report.completed };
  } finally {
    info.disconnect();
  }
}

function serverCpuSeconds(info: string): number {
  return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
}

async function mapPost(bench: Bench, kind: Exclude<Kind, 'bullmq'>): Promise<number> {
  const location = await freshBoard(bench, kind, 0);
  const board = await openKind(kind, location);
  const start = process.hrtime.bigint();
  await board.map({ title: 'map' }, Array.from({ length: 1_000 }, (_, i) => ({ title: `child ${i}`, files: [`src/f${i}.ts`] })));
  const ms = since(start);
  await board.close();
  return ms;
}

/** A holder with a 1 s lease is killed; how long until another process claims its task. */
async function reclaimLatency(bench: Bench, kind: Exclude<Kind, 'bullmq'>): Promise<number> {
  const location = await freshBoard(bench, kind, 1);
  const holder = spawnWorker([kind, location, 'doomed', 'hold', '1000', '0']);
  while (!/claimed t/.test(holder.stdout())) await sleep(10);
  const board = await openKind(kind, location);
  holder.kill('SIGKILL');
  const start = process.hrtime.bigint();
  for (;;) {
    const claim = await board.claim({ agent: 'rescuer' });
    if (claim) break;
    await sleep(5);
  }
  const ms = since(start);
  await board.close();
  await holder.promise;
  return ms;
}

/** Time from an event's commit (its `at`) to a follower on another handle receiving it. */
async function eventLag(bench: Bench, kind: Exclude<Kind, 'bullmq'>): Promise<number[]> {
  const cycles = quick ? 50 : 200;
  const location = await freshBoard(bench, kind, cycles);
  const writer = await openKind(kind, location);
  const reader = await openKind(kind, location);
  const lags: number[] = [];
  const following = reader.follow((batch) => {
    const receivedAt = Date.now();
    for (const event of batch.events) if (event.type === 'completed') lags.push(receivedAt - event.at);
  }, { pollMs: 100 });
  await sleep(300);
  for (let i = 0; i < cycles; i++) {
    await writer.complete((await writer.claim({ agent: 'writer' }))!);
    await sleep(5);
  }
  const deadline = Date.now() + 30_000;
  while (lags.length < cycles && Date.now() < deadline) await sleep(20);
  await following.dispose();
  await writer.close();
  await reader.close();
  return lags;
}

async function readingAt10k(bench: Bench, kind: Exclude<Kind, 'bullmq'>): Promise<{ postMs: number; listMs: number; pageMs: number; statsMs: number; bytesPerTask?: number }> {
  const count = quick ? 2_000 : 10_000;
  const redisInfo = kind === 'redis' ? new Redis({ port: bench.server.port, host: '127.0.0.1' }) : undefined;
  const usedBefore = redisInfo ? usedMemory(await redisInfo.info('memory')) : 0;
  const start = process.hrtime.bigint();
  const location = await freshBoard(bench, kind, count);
  const postMs = since(start);
  const bytesPerTask = redisInfo ? (usedMemory(await redisInfo.info('memory')) - usedBefore) / count : undefined;
  redisInfo?.disconnect();
  const board = await openKind(kind, location);
  const time = async (action: () => Promise<unknown>): Promise<number> => {
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const begin = process.hrtime.bigint();
      await action();
      samples.push(since(begin));
    }
    return percentile(samples, 50);
  };
  const listMs = await time(() => board.list({ limit: 100 }));
  const middle = (await board.list({ offset: count / 2, limit: 1 })).tasks[0];
  const pageMs = await time(() => board.list({ status: 'pending', cursor: `${middle.createdAt}:${middle.id}`, limit: 100 }));
  const statsMs = await time(() => board.stats());
  await board.close();
  return { postMs, listMs, pageMs, statsMs, bytesPerTask };
}

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const server = await startRedis({ aof: true });
  // No AOF rewrite mid-run: the throughput rows read the file's growth per cycle.
  await withClient(server, (client) => client.config('SET', 'auto-aof-rewrite-percentage', '0'));
  const bench: Bench = { server, scratch: fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-')), counter: 0 };
  console.log(`Board benchmark on ${os.cpus().length} cores, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}${quick ? ' (quick)' : ''}`);
  console.log(`File board in ${os.tmpdir()} (fsync per change); redis-server ${server.port} with appendonly yes, appendfsync always; BullMQ keys ${keyBase('…')}`);
  if (baseline) console.log(`Baseline Redis board: ${path.resolve(baseline)}`);
  try {
    if (sections.has('latency')) {
      const latency = ['| board | pending | claim p50 | claim p99 |', '|---|---:|---:|---:|'];
      for (const kind of ['file', ...redisKinds, 'bullmq'] as Kind[]) latency.push(await claimLatency(bench, kind));
      console.log(`\nClaim latency, one process claiming back to back:\n${latency.join('\n')}`);
    }

    if (sections.has('throughput')) {
      const heads = ['processes', 'file board /s', 'Redis board /s', ...(baseline ? ['baseline /s'] : []), 'raw BullMQ /s', 'Redis / raw', ...(baseline ? ['baseline / raw'] : []), 'file / Redis', 'AOF B/cycle Redis / raw'];
      // Printed row by row as each is measured (a full run takes minutes), not again at the end.
      console.log(`\nClaim + complete throughput (every change durable; median of ${rounds} round${rounds === 1 ? '' : 's'}):\n| ${heads.join(' | ')} |\n|${heads.map(() => '---:').join('|')}|`);
      for (const processes of [1, 4, 8]) {
        const samples: { [K in Kind]?: number[] } = {};
        const aof: { [K in Kind]?: number[] } = {};
        // Interleaved, round after round, so that a change in the machine's load hits every kind alike.
        for (let round = 0; round < rounds; round++) {
          for (const kind of ['bullmq', ...redisKinds, 'file'] as Kind[]) {
            const { perSecond, aofBytes } = await throughput(bench, kind, processes);
            (samples[kind] ??= []).push(perSecond);
            if (aofBytes !== undefined) (aof[kind] ??= []).push(aofBytes);
          }
        }
        const figures = Object.fromEntries(Object.entries(samples).map(([kind, values]) => [kind, median(values)])) as { [K in Kind]?: number };
        const cells = [
          processes,
          figures.file!.toFixed(0),
          figures.redis!.toFixed(0),
          ...(baseline ? [figures.baseline!.toFixed(0)] : []),
          figures.bullmq!.toFixed(0),
          (figures.redis! / figures.bullmq!).toFixed(2),
          ...(baseline ? [(figures.baseline! / figures.bullmq!).toFixed(2)] : []),
          (figures.file! / figures.redis!).toFixed(2),
          `${median(aof.redis!).toFixed(0)} / ${median(aof.bullmq!).toFixed(0)}`,
        ];
        console.log(`| ${cells.join(' | ')} |`);
      }
    }

    if (sections.has('cpu')) {
      const plain = await startRedis();
      try {
        const rows = ['| round | board | client µs/cycle | server µs/cycle | total / raw BullMQ |', '|---:|---|---:|---:|---:|'];
        for (let round = 1; round <= 3; round++) {
          const raw = await cpuPerCycle(bench, plain, 'bullmq');
          rows.push(`| ${round} | raw BullMQ | ${raw.clientUs.toFixed(0)} | ${raw.serverUs.toFixed(0)} | 1.00 |`);
          for (const kind of redisKinds) {
            const figures = await cpuPerCycle(bench, plain, kind);
            const ratio = (figures.clientUs + figures.serverUs) / (raw.clientUs + raw.serverUs);
            rows.push(`| ${round} | ${kind === 'redis' ? 'Redis board' : 'baseline'} | ${figures.clientUs.toFixed(0)} | ${figures.serverUs.toFixed(0)} | ${ratio.toFixed(2)} |`);
          }
        }
        console.log(`\nCPU per claim+complete cycle, one process, server without AOF:\n${rows.join('\n')}`);
      } finally {
        await plain.stop();
      }
    }

    if (sections.has('other')) {
      const other = ['| measure | file board | Redis board |', '|---|---:|---:|'];
      other.push(`| post a map of 1,000 children | ${fmt(await mapPost(bench, 'file'))} | ${fmt(await mapPost(bench, 'redis'))} |`);
      other.push(`| reclaim after SIGKILL of a holder (lease 1 s, default sweep interval 1 s) | ${fmt(await reclaimLatency(bench, 'file'))} | ${fmt(await reclaimLatency(bench, 'redis'))} |`);
      const lags = { file: await eventLag(bench, 'file'), redis: await eventLag(bench, 'redis') };
      other.push(`| event lag p50 / p99 (commit → follower) | ${fmt(percentile(lags.file, 50))} / ${fmt(percentile(lags.file, 99))} | ${fmt(percentile(lags.redis, 50))} / ${fmt(percentile(lags.redis, 99))} |`);
      const reading = { file: await readingAt10k(bench, 'file'), redis: await readingAt10k(bench, 'redis') };
      const count = quick ? '2,000' : '10,000';
      other.push(`| post ${count} tasks (batches of 1,000) | ${fmt(reading.file.postMs)} | ${fmt(reading.redis.postMs)} |`);
      other.push(`| list first page of 100 at ${count} | ${fmt(reading.file.listMs)} | ${fmt(reading.redis.listMs)} |`);
      other.push(`| list a page of 100 pending from a cursor at ${count} | ${fmt(reading.file.pageMs)} | ${fmt(reading.redis.pageMs)} |`);
      other.push(`| stats at ${count} | ${fmt(reading.file.statsMs)} | ${fmt(reading.redis.statsMs)} |`);
      other.push(`| Redis memory per pending task | – | ${reading.redis.bytesPerTask!.toFixed(0)} B |`);
      console.log(`\nOther measures:\n${other.join('\n')}`);
    }
  } finally {
    await server.stop();
    fs.rmSync(bench.scratch, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') {
  runWorker().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
