// Agent pool benchmark, every figure measured in this one run against a baseline from the same run:
//   (a) 1,000 no-op tasks (`true`) through `swarm run --agents 4` vs `xargs -P 4` running the same
//       1,000 commands through the same shell (`sh -c true`), as a wall-time ratio (target ≤ 1.5),
//       with two floors in the same run: a bare Node process that only spawns the commands (what
//       any pool in Node pays) and xargs running each one in the pool's bwrap sandbox;
//   (b) 8 tasks of `sleep 1` with 8 agents: wall time over one task's time (target ≤ 1.3), with
//       agentsPerProcess 1 and auto alternating, with where the time around the commands went (from
//       SWARM_TRACE: to the first command, the spread of starts, from the last end to the exit);
//       then the same cold start in a pool in this process:
//       the agent processes' CPU until the last task started (load-robust) and their RSS;
//   (c) agent spawn latency (fork of dist/agent.js → its `ready` message), p50/p99;
//   (d) host memory per idle agent (RSS and PSS of the agent processes);
//   (e) the sandbox's cost per attempt: one command spawned with and without bwrap, then the no-op
//       and the 8 × `sleep 1` workloads through `swarm run` with --sandbox off and --sandbox required,
//       alternating in the same run (target: under 20 ms per attempt).
//   npm run build && npm run bench:pool         (node --import tsx bench/pool.ts)
//   BENCH_QUICK=1 npm run bench:pool            smaller sample for a smoke run
//   BENCH_ONLY=noop npm run bench:pool          figure (a) alone
//   BENCH_ONLY=sandbox npm run bench:pool       figure (e) alone
//   BENCH_ONLY=start npm run bench:pool         figures (b) and (c): agents started on demand
//   BENCH_PER_PROCESS=auto,8                    (b) with these --agents-per-process settings (default 1,auto)
//   BENCH_AGENTS_PER_PROCESS=auto               figure (a) with that --agents-per-process
//   BENCH_BASE=/path/to/other/checkout          (b) and (c) also with that checkout's dist/ (built
//                                               there), alternating round by round: before/after
//                                               (a build of the same board format: this bench posts
//                                               with its own code; for a build before format 2, run
//                                               the bench in that checkout instead)
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard } from '../src/core/board';
import { BOARD_FORMAT_VERSION } from '../src/core/board/board';
import { runInProcessGroup } from '../src/core/executors/process';
import { forkSupervised } from '../src/core/process';
import { getKernelUnits, readProcStat } from '../src/core/process/linux-proc';
import { createCommandSandbox, DEFAULT_SANDBOX_SETTINGS, resolveSandbox } from '../src/core/sandbox';
import { AgentPool } from '../src/core/pool';
import { isPoolMessage, toAgent, toHost, type AgentInit } from '../src/core/pool/protocol';

const quick = process.env.BENCH_QUICK === '1';
const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
const agentScript = path.join(root, 'dist', 'agent.js');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A workspace with `count` tasks posted; the board is opened the way the CLI opens it. */
function workspaceWithTasks(count: number, title: (index: number) => string, parent = os.tmpdir()): { dir: string; board: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(parent, 'swarm-bench-pool-'));
  const boardRoot = path.join(dir, '.swarm');
  const board = FileBoard.open({ root: boardRoot, durable: false, excludeFromGit: false });
  for (let start = 0; start < count; start += 1000) {
    board.postMany(Array.from({ length: Math.min(1000, count - start) }, (_, index) => ({ title: title(start + index) })));
  }
  board.close();
  return { dir, board: boardRoot, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

interface RunSummary {
  done: number;
  dead: number;
  wallMs: number;
  busyMs: number;
}

/** A build to measure: this checkout's dist/, or BENCH_BASE's for a before/after in the same run. */
interface Build {
  label: string;
  cli: string;
  agentScript: string;
}

function buildsToCompare(): Build[] {
  const here: Build = { label: 'this build', cli, agentScript };
  const base = process.env.BENCH_BASE;
  if (!base) return [here];
  const other: Build = { label: `base (${base})`, cli: path.join(base, 'dist', 'cli.js'), agentScript: path.join(base, 'dist', 'agent.js') };
  if (!fs.existsSync(other.cli) || !fs.existsSync(other.agentScript)) throw new Error(`BENCH_BASE: ${base} has no dist/cli.js and dist/agent.js; run "npm run build" there first.`);
  const version = boardFormatOf(base);
  if (version !== String(BOARD_FORMAT_VERSION)) throw new Error(`BENCH_BASE: ${base} writes board format ${version ?? '?'}, this build ${BOARD_FORMAT_VERSION}; run the bench in that checkout instead.`);
  return [other, here];
}

/** The board format a checkout writes: its constant lives in board/format.ts (board.ts before). */
function boardFormatOf(checkout: string): string | undefined {
  for (const file of ['format.ts', 'board.ts']) {
    const source = path.join(checkout, 'src', 'core', 'board', file);
    const version = fs.existsSync(source) ? /export const BOARD_FORMAT_VERSION = (\d+);/.exec(fs.readFileSync(source, 'utf8'))?.[1] : undefined;
    if (version !== undefined) return version;
  }
  return undefined;
}

/** Wall-clock milliseconds since the epoch, comparable with the `at` of SWARM_TRACE lines. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** `swarm run` as a user runs it; wall time from process start to exit (epoch times for a trace). */
function swarmRun(workspace: { dir: string; board: string }, args: string[], cliPath = cli, env: NodeJS.ProcessEnv = {}): { wallMs: number; summary: RunSummary; startedAt: number; exitedAt: number } {
  const startedAt = epochMs();
  const result = spawnSync(process.execPath, [cliPath, '--board', workspace.board, 'run', ...args, '--isolation', 'none', '--until-empty', '--json'], { cwd: workspace.dir, encoding: 'utf8', env: { ...process.env, ...env } });
  const exitedAt = epochMs();
  if (result.status !== 0) throw new Error(`swarm run failed (${result.status}): ${result.stderr}${result.stdout}`);
  return { wallMs: exitedAt - startedAt, summary: JSON.parse(result.stdout) as RunSummary, startedAt, exitedAt };
}

/** Where a run's time around its commands went, from its SWARM_TRACE `command` lines. */
interface StartPath {
  /** From the CLI's start to the first command's start: the CLI, its checks, the agents' start, a claim. */
  toFirstCommand: number;
  /** From the first command's start to the last's: what serialises the agents. */
  spread: number;
  /** From the last command's end to the CLI's exit: reporting done, noticing the end, stopping. */
  tail: number;
}

/** Undefined for a build whose trace lines carry no `at` (before it was recorded). */
function startPathOf(traceFile: string, startedAt: number, exitedAt: number): StartPath | undefined {
  if (!fs.existsSync(traceFile)) return undefined;
  const commands = fs
    .readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { phase: string; ms: number; at?: number })
    .filter((line) => line.phase === 'command' && typeof line.at === 'number');
  if (commands.length === 0) return undefined;
  const starts = commands.map((line) => (line.at as number) - line.ms);
  const lastEnd = Math.max(...commands.map((line) => line.at as number));
  return { toFirstCommand: Math.min(...starts) - startedAt, spread: Math.max(...starts) - Math.min(...starts), tail: exitedAt - lastEnd };
}

/** (e) Mean wall time of one `true` through the executors' runner, sandboxed or not, alternating. */
async function benchSandboxSpawn(dir: string, samples: number): Promise<{ plain: number; sandboxed: number }> {
  const resolved = resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, mode: 'required' });
  const sandbox = createCommandSandbox(resolved.active!, { cwd: dir, writable: [dir], protect: [] });
  const plain: number[] = [];
  const sandboxed: number[] = [];
  for (let index = 0; index < samples; index++) {
    for (const [times, options] of [[plain, {}], [sandboxed, { sandbox }]] as const) {
      const started = nowMs();
      const result = await runInProcessGroup({ script: 'true', cwd: dir, ...options });
      if (result.exitCode !== 0) throw new Error(`true failed: ${result.tail}`);
      times.push(nowMs() - started);
    }
  }
  return { plain: percentile(plain, 50), sandboxed: percentile(sandboxed, 50) };
}

async function benchSandboxCost(): Promise<void> {
  console.log('\n(e) the sandbox (bubblewrap) per attempt, with and without it in the same run');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-sandbox-'));
  try {
    const spawn = await benchSandboxSpawn(scratch, quick ? 20 : 100);
    console.log(`  one command (runner, p50):  ${ms(spawn.plain)} plain, ${ms(spawn.sandboxed)} in bwrap: +${ms(spawn.sandboxed - spawn.plain)}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const count = quick ? 100 : 400;
  const noop: Record<'off' | 'required', { wall: number[]; attempt: number[] }> = { off: { wall: [], attempt: [] }, required: { wall: [], attempt: [] } };
  for (let round = 0; round < 2; round++) {
    for (const mode of ['off', 'required'] as const) {
      const workspace = workspaceWithTasks(count, (index) => `noop ${index}`);
      try {
        const { wallMs, summary } = swarmRun(workspace, ['--agents', '4', '--exec', 'true', '--sandbox', mode]);
        if (summary.done !== count) throw new Error(`only ${summary.done} of ${count} tasks done`);
        noop[mode].wall.push(wallMs);
        noop[mode].attempt.push(summary.busyMs / summary.done);
      } finally {
        workspace.cleanup();
      }
    }
  }
  const best = (values: number[]): number => Math.min(...values);
  console.log(`  ${count} no-op tasks, 4 agents: wall ${ms(best(noop.off.wall))} off, ${ms(best(noop.required.wall))} sandboxed; mean attempt ${ms(best(noop.off.attempt))} off, ${ms(best(noop.required.attempt))} sandboxed`);
  console.log(`  per attempt:                +${ms(best(noop.required.attempt) - best(noop.off.attempt))} (attempt time), +${ms(((best(noop.required.wall) - best(noop.off.wall)) / count) * 4)} (agent wall time per task)  (target < 20 ms)`);
  for (const mode of ['off', 'required'] as const) {
    const workspace = workspaceWithTasks(8, (index) => `sleep ${index}`);
    try {
      const { wallMs, summary } = swarmRun(workspace, ['--agents', '8', '--exec', 'sleep 1', '--sandbox', mode]);
      const oneTask = summary.busyMs / summary.done;
      console.log(`  8 × sleep 1, 8 agents, --sandbox ${mode.padEnd(8)}: one task ${ms(oneTask)}, wall ${ms(wallMs)} (${(wallMs / oneTask).toFixed(2)} × one task)`);
    } finally {
      workspace.cleanup();
    }
  }
}

/** xargs's input: one line per command to run. */
function xargsLines(count: number): string {
  return Array.from({ length: count }, (_, index) => String(index)).join('\n');
}

function xargsRun(count: number, parallel: number, command: string): number {
  const started = nowMs();
  const result = spawnSync('xargs', ['-P', String(parallel), '-I{}', 'sh', '-c', command], { input: xargsLines(count), encoding: 'utf8' });
  const wallMs = nowMs() - started;
  if (result.status !== 0) throw new Error(`xargs failed: ${result.stderr}`);
  return wallMs;
}

/**
 * The floor of any pool written in Node: a bare Node process that spawns each `sh -c true` in a new
 * session, `parallel` at a time, and does nothing else (no board, no supervision, no sandbox). Timed
 * inside that process, from its first spawn to its last exit, so Node's own start is not counted.
 */
function nodeSpawnFloor(count: number, parallel: number): number {
  const script = `const { spawn } = require('child_process');
let next = 0, done = 0; const started = performance.now();
function one() {
  if (next >= ${count}) return;
  next++;
  spawn('/bin/sh', ['-c', 'true'], { detached: true, stdio: 'ignore' }).on('exit', (code) => {
    if (code !== 0) process.exit(1);
    if (++done === ${count}) { console.log(performance.now() - started); return; }
    one();
  });
}
for (let i = 0; i < ${parallel}; i++) one();`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the Node spawn floor failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

/**
 * The floor of a sandbox per command: xargs running each `true` in the bubblewrap sandbox the pool
 * gives a no-op task (the same policy and arguments), with nothing of the pool around it.
 * Undefined where bubblewrap cannot run.
 */
function bwrapFloor(count: number, parallel: number, dir: string): number | undefined {
  const resolved = resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, mode: 'auto' });
  if (!resolved.active || resolved.active.tool !== 'bwrap') return undefined;
  const launch = createCommandSandbox(resolved.active, { cwd: dir, writable: [dir], protect: [] }).launch('true', dir, process.env);
  try {
    // The pool reads the namespace's init from fd 3; xargs gives the command no fd 3.
    const args = launch.args[0] === '--info-fd' ? launch.args.slice(2) : launch.args;
    const started = nowMs();
    const result = spawnSync('xargs', ['-P', String(parallel), '-n', '1', '--', 'sh', '-c', 'exec "$@"', launch.file, launch.file, ...args], { input: xargsLines(count), cwd: dir, env: launch.env, encoding: 'utf8' });
    const wallMs = nowMs() - started;
    if (result.status !== 0) throw new Error(`the bwrap floor failed: ${result.stderr}`);
    return wallMs;
  } finally {
    launch.cleanup();
  }
}

function benchNoOps(): void {
  benchNoOpsOn(os.tmpdir(), 'workspace on disk (the board fsyncs every result)');
  // tmpfs makes fsync free: the difference to the line above is the board's durability cost.
  if (fs.existsSync('/dev/shm')) benchNoOpsOn('/dev/shm', 'workspace on tmpfs (/dev/shm: fsync costs nothing)');
}

function benchNoOpsOn(parent: string, label: string): void {
  const count = quick ? 200 : 1000;
  const rounds = 2;
  const perProcess = process.env.BENCH_AGENTS_PER_PROCESS;
  console.log(`\n(a) ${count} no-op tasks (true), 4 at a time, best of ${rounds}; ${label}${perProcess ? `; --agents-per-process ${perProcess}` : ''}`);
  const swarmTimes: number[] = [];
  const xargsTimes: number[] = [];
  const nodeFloorTimes: number[] = [];
  const bwrapFloorTimes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    xargsTimes.push(xargsRun(count, 4, 'true'));
    nodeFloorTimes.push(nodeSpawnFloor(count, 4));
    const workspace = workspaceWithTasks(count, (index) => `noop ${index}`, parent);
    try {
      const bwrap = bwrapFloor(count, 4, workspace.dir);
      if (bwrap !== undefined) bwrapFloorTimes.push(bwrap);
      const { wallMs, summary } = swarmRun(workspace, ['--agents', '4', '--exec', 'true', ...(perProcess ? ['--agents-per-process', perProcess] : [])]);
      if (summary.done !== count) throw new Error(`only ${summary.done} of ${count} tasks done`);
      swarmTimes.push(wallMs);
    } finally {
      workspace.cleanup();
    }
  }
  const swarmBest = Math.min(...swarmTimes);
  const xargsBest = Math.min(...xargsTimes);
  const row = (name: string, times: number[]): void => {
    const best = Math.min(...times);
    console.log(`  ${name.padEnd(27)}${ms(best)}  (${times.map(ms).join(', ')})  ${((count / best) * 1000).toFixed(0)} tasks/s, ${(best / xargsBest).toFixed(2)} × xargs`);
  };
  console.log(`  xargs -P 4 sh -c true:     ${ms(xargsBest)}  (${xargsTimes.map(ms).join(', ')})  ${((count / xargsBest) * 1000).toFixed(0)} tasks/s`);
  // The floors: what a pool in Node, and a sandbox per command, cost before anything else.
  row('floor: Node spawns only:', nodeFloorTimes);
  if (bwrapFloorTimes.length > 0) row('floor: xargs -P 4 bwrap:', bwrapFloorTimes);
  else console.log('  floor: xargs -P 4 bwrap:   (bubblewrap cannot run here)');
  console.log(`  swarm run --agents 4:      ${ms(swarmBest)}  (${swarmTimes.map(ms).join(', ')})  ${((count / swarmBest) * 1000).toFixed(0)} tasks/s`);
  console.log(`  ratio swarm / xargs:       ${(swarmBest / xargsBest).toFixed(2)}  (target ≤ 1.5)`);
  if (bwrapFloorTimes.length > 0) console.log(`  ratio swarm / bwrap floor: ${(swarmBest / Math.min(...bwrapFloorTimes)).toFixed(2)}  (the pool's own part: board, supervision, Node)`);
  console.log(`  per-task overhead:         ${ms(((swarmBest - xargsBest) / count) * 4)} of agent time per task above xargs`);
}

interface SleepsRun {
  wallMs: number;
  poolWallMs: number;
  oneTask: number;
  path?: StartPath;
}

function parallelSleepsOnce(count: number, build: Build, extraArgs: string[] = []): SleepsRun {
  const workspace = workspaceWithTasks(count, (index) => `sleep ${index}`);
  const traceFile = path.join(workspace.dir, 'trace.jsonl');
  try {
    const { wallMs, summary, startedAt, exitedAt } = swarmRun(workspace, ['--agents', String(count), '--exec', 'sleep 1', ...extraArgs], build.cli, { SWARM_TRACE: traceFile });
    if (summary.done !== count) throw new Error(`only ${summary.done} of ${count} tasks done`);
    return { wallMs, poolWallMs: summary.wallMs, oneTask: summary.busyMs / summary.done, path: startPathOf(traceFile, startedAt, exitedAt) };
  } finally {
    workspace.cleanup();
  }
}

/** The medians of the start paths of a variant's runs, or why there are none. */
function describeStartPaths(runs: SleepsRun[]): string {
  const paths = runs.flatMap((run) => (run.path ? [run.path] : []));
  if (paths.length === 0) return 'no command times in its trace (a build before SWARM_TRACE recorded them)';
  const median = (pick: (path: StartPath) => number): string => ms(percentile(paths.map(pick), 50));
  return `CLI start → first command ${median((p) => p.toFirstCommand)}; first → last command started ${median((p) => p.spread)}; last command ended → CLI exit ${median((p) => p.tail)}`;
}

/** A build and the agents-per-process flag it runs with (none for a base build that has no such flag). */
interface SleepsVariant {
  label: string;
  build: Build;
  args: string[];
}

/** The --agents-per-process settings (b) runs this build with: BENCH_PER_PROCESS (e.g. "auto,8"), default 1 and auto. */
function perProcessSettings(): string[] {
  return (process.env.BENCH_PER_PROCESS ?? '1,auto').split(',').map((setting) => setting.trim()).filter(Boolean);
}

/** This build with agentsPerProcess 1 and auto (or BENCH_PER_PROCESS); a base build (BENCH_BASE) as it is. */
function sleepsVariants(builds: Build[]): SleepsVariant[] {
  return builds.flatMap((build) =>
    build.cli === cli
      ? perProcessSettings().map((setting) => ({ label: `${build.label}, --agents-per-process ${setting}`, build, args: ['--agents-per-process', setting] }))
      : [{ label: build.label, build, args: [] }],
  );
}

/** (b) with agents started on demand: one run per variant and round, alternating; the median ratio of each. */
function benchParallelSleeps(): void {
  const count = 8;
  const variants = sleepsVariants(buildsToCompare());
  const rounds = variants.length > 1 || !quick ? 3 : 1;
  console.log(`\n(b) ${count} tasks of sleep 1 with ${count} agents, ${rounds} run(s) per variant, alternating, median`);
  const runs = new Map<SleepsVariant, SleepsRun[]>(variants.map((variant) => [variant, []]));
  for (let round = 0; round < rounds; round++) for (const variant of variants) runs.get(variant)?.push(parallelSleepsOnce(count, variant.build, variant.args));
  for (const build of variants) {
    const all = runs.get(build) ?? [];
    const endToEnd = percentile(all.map((run) => run.wallMs / run.oneTask), 50);
    const inPool = percentile(all.map((run) => run.poolWallMs / run.oneTask), 50);
    const median = all.find((run) => run.wallMs / run.oneTask === endToEnd) as SleepsRun;
    console.log(`  ${build.label}:`);
    console.log(`    one task (mean attempt): ${ms(median.oneTask)}; swarm run wall ${ms(median.wallMs)} (process start to exit), pool wall ${ms(median.poolWallMs)}`);
    console.log(`    wall / one task:         ${endToEnd.toFixed(2)} end to end, ${inPool.toFixed(2)} inside the pool  (target ≤ 1.3; sequential would be ${count}.00)  runs: ${all.map((run) => (run.wallMs / run.oneTask).toFixed(2)).join(', ')}`);
    console.log(`    where the rest went:     ${describeStartPaths(all)}`);
  }
}

/** (b) with agents already running (minAgents, or a pool that has been up for a while, as in VS Code). */
async function benchWarmSleeps(): Promise<void> {
  const count = 8;
  const workspace = workspaceWithTasks(0, String);
  const board = FileBoard.open({ root: workspace.board, durable: true, excludeFromGit: false });
  const pool = new AgentPool({ board, workspaceRoot: workspace.dir, executor: { type: 'command', command: 'sleep 1' }, isolation: 'none', minAgents: count, maxAgents: count, agentScript, statusFile: false });
  try {
    await pool.start();
    await waitUntil(() => pool.stats().agents.filter((agent) => agent.state === 'idle').length === count);
    const durations: number[] = [];
    pool.onEvent((event) => event.type === 'task-finished' && durations.push(event.durationMs));
    const started = nowMs();
    board.postMany(Array.from({ length: count }, (_, index) => ({ title: `warm sleep ${index}` })));
    await waitUntil(() => durations.length === count);
    const wallMs = nowMs() - started;
    const oneTask = durations.reduce((sum, value) => sum + value, 0) / count;
    console.log(`  warm agents (${count} idle, then ${count} tasks posted): wall ${ms(wallMs)}, one task ${ms(oneTask)}, wall / one task ${(wallMs / oneTask).toFixed(2)}`);
  } finally {
    await pool.stop({ graceMs: 0 });
    board.close();
    workspace.cleanup();
  }
}

/**
 * (b) cold, in a pool in this process (as VS Code runs it): 8 agents started on demand for 8 tasks
 * of `sleep 1`, agentsPerProcess 1 and auto alternating. The agent processes' CPU until the last
 * task started is what starting them cost (robust under load, unlike wall time); RSS is theirs then.
 */
async function benchColdAgentsCost(): Promise<void> {
  const count = 8;
  const rounds = quick ? 1 : 3;
  const settings = [1, 'auto'] as const;
  console.log(`\n(b') ${count} tasks of sleep 1, ${count} agents started on demand in a pool in this process, ${rounds} round(s) per setting, alternating, median`);
  const results = new Map<(typeof settings)[number], Array<{ processes: number; cpuMs: number; rss: number; wallMs: number; oneTask: number }>>(settings.map((setting) => [setting, []]));
  for (let round = 0; round < rounds; round++) {
    for (const setting of settings) {
      const workspace = workspaceWithTasks(0, String);
      const board = FileBoard.open({ root: workspace.board, durable: true, excludeFromGit: false });
      const pool = new AgentPool({ board, workspaceRoot: workspace.dir, executor: { type: 'command', command: 'sleep 1' }, isolation: 'none', sandbox: { mode: 'off' }, maxAgents: count, agentsPerProcess: setting, agentScript, statusFile: false });
      try {
        await pool.start();
        let started = 0;
        const durations: number[] = [];
        pool.onEvent((event) => {
          if (event.type === 'task-started') started++;
          if (event.type === 'task-finished') durations.push(event.durationMs);
        });
        const begun = nowMs();
        board.postMany(Array.from({ length: count }, (_, index) => ({ title: `cold sleep ${index}` })));
        await waitUntil(() => started === count);
        const pids = [...new Set(pool.stats().agents.map((agent) => agent.pid).filter((pid): pid is number => pid !== undefined))];
        const cpuMs = pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
        const rss = pids.reduce((sum, pid) => sum + memoryOf(pid).rss, 0);
        await waitUntil(() => durations.length === count);
        const wallMs = nowMs() - begun;
        results.get(setting)?.push({ processes: pids.length, cpuMs, rss, wallMs, oneTask: durations.reduce((sum, value) => sum + value, 0) / count });
      } finally {
        await pool.stop({ graceMs: 0 });
        board.close();
        workspace.cleanup();
      }
    }
  }
  for (const setting of settings) {
    const all = results.get(setting) ?? [];
    const median = (values: number[]): number => percentile(values, 50);
    console.log(
      `  agentsPerProcess ${setting}: ${median(all.map((run) => run.processes))} agent processes; their CPU until the last task started ${ms(median(all.map((run) => run.cpuMs)))} (runs: ${all.map((run) => ms(run.cpuMs)).join(', ')}); their RSS ${mb(median(all.map((run) => run.rss)))}; wall / one task ${median(all.map((run) => run.wallMs / run.oneTask)).toFixed(2)} from the post`,
    );
  }
}

async function waitUntil(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** CPU time (user + system) a process has used so far, from /proc (clock-tick resolution). */
function cpuMsOf(pid: number): number {
  const stat = readProcStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return (stat.cpuTicks / getKernelUnits().clockTicksPerSecond) * 1000;
}

/** One agent forked and told to start: wall time until it reports ready, and the CPU it used until then. */
async function spawnOnce(boardRoot: string, workspace: string, script = agentScript): Promise<{ wallMs: number; cpuMs: number }> {
  const started = nowMs();
  const agent = await forkSupervised(script, [], { cwd: workspace, env: { SWARM_AGENT_ID: 'bench' }, execArgv: [] });
  const ready = new Promise<{ wallMs: number; cpuMs: number }>((resolve) => {
    agent.child.on('message', (message: unknown) => {
      if (isPoolMessage(message) && message.type === 'ready') resolve({ wallMs: nowMs() - started, cpuMs: cpuMsOf(agent.pid) });
    });
  });
  const init: AgentInit = {
    agentId: 'bench-agent',
    slot: 's1',
    board: boardRoot,
    workspaceRoot: workspace,
    executor: { type: 'command', command: 'true' },
    leaseMs: 30_000,
    isolation: 'none',
    isolationKind: 'none',
    hostModels: false,
    holdUntil: Date.now() + 60_000, // claim nothing
    maxLogBytes: 1024,
  };
  agent.child.send(toAgent({ type: 'init', init }));
  const latency = await ready;
  await agent.stop({ graceMs: 0 });
  return latency;
}

async function benchSpawnLatency(): Promise<void> {
  const samples = quick ? 5 : 30;
  const builds = buildsToCompare();
  console.log(`\n(c) agent spawn latency: fork of dist/agent.js until it reports ready, ${samples} samples${builds.length > 1 ? ' per build, alternating' : ''}`);
  const workspace = workspaceWithTasks(0, String);
  try {
    // The floor: a Node process that answers `init` with `ready` and loads nothing else.
    const floor: Build = { label: 'floor (node, IPC, no agent code)', cli, agentScript: path.join(workspace.dir, 'floor-agent.js') };
    fs.writeFileSync(floor.agentScript, `process.on('message', () => process.send(${JSON.stringify(toHost({ type: 'ready', pid: 0 }))}));\n`);
    const measured = [...builds, floor];
    const latencies = new Map<Build, Array<{ wallMs: number; cpuMs: number }>>(measured.map((build) => [build, []]));
    for (let index = 0; index < samples; index++) for (const build of measured) latencies.get(build)?.push(await spawnOnce(workspace.board, workspace.dir, build.agentScript));
    for (const build of measured) {
      const times = (latencies.get(build) ?? []).map((sample) => sample.wallMs);
      const cpu = (latencies.get(build) ?? []).map((sample) => sample.cpuMs);
      const meanCpu = cpu.reduce((sum, value) => sum + value, 0) / cpu.length;
      console.log(`  ${measured.length > 1 ? `${build.label}: ` : ''}p50 ${ms(percentile(times, 50))}   p99 ${ms(percentile(times, 99))}   min ${ms(Math.min(...times))}   max ${ms(Math.max(...times))}   CPU until ready: mean ${ms(meanCpu)}`);
    }
  } finally {
    workspace.cleanup();
  }
}

function memoryOf(pid: number): { rss: number; pss: number } {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
  return { rss: field('Rss'), pss: field('Pss') };
}

async function benchIdleMemory(): Promise<void> {
  const agents = quick ? 2 : 4;
  console.log(`\n(d) memory per idle agent (${agents} idle agents, sampled after 2 s)`);
  const workspace = workspaceWithTasks(0, String);
  const board = FileBoard.open({ root: workspace.board, durable: false, excludeFromGit: false });
  const hostBefore = process.memoryUsage().rss;
  const pool = new AgentPool({ board, workspaceRoot: workspace.dir, executor: { type: 'command', command: 'true' }, isolation: 'none', minAgents: agents, maxAgents: agents, agentScript, statusFile: false });
  try {
    await pool.start();
    const deadline = Date.now() + 30_000;
    while (pool.stats().agents.filter((agent) => agent.state === 'idle').length < agents && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const usages = pool.stats().agents.map((agent) => memoryOf(agent.pid!));
    const meanRss = usages.reduce((sum, usage) => sum + usage.rss, 0) / usages.length;
    const meanPss = usages.reduce((sum, usage) => sum + usage.pss, 0) / usages.length;
    const hostDelta = process.memoryUsage().rss - hostBefore;
    console.log(`  per agent: RSS ${mb(meanRss)}, PSS ${mb(meanPss)} (shared pages split between processes)`);
    console.log(`  host process growth for the pool: ${mb(hostDelta)} (${mb(hostDelta / agents)} per agent)`);
  } finally {
    await pool.stop({ graceMs: 0 });
    board.close();
    workspace.cleanup();
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(cli) || !fs.existsSync(agentScript)) throw new Error('Build first: npm run build (dist/cli.js and dist/agent.js are benchmarked).');
  console.log(`Agent pool benchmark${quick ? ' (quick)' : ''}: ${os.cpus().length} cores, load ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}, Node ${process.version}`);
  const sandbox = resolveSandbox(DEFAULT_SANDBOX_SETTINGS).status;
  console.log(`(a)-(d) run with the default sandbox mode: ${sandbox.active ? `sandboxed (${sandbox.tool})` : `no sandbox (${sandbox.reason})`}`);
  // BENCH_ONLY=noop runs figure (a) alone, start (b) and (c), sandbox (e).
  if (process.env.BENCH_ONLY === 'noop') return benchNoOps();
  if (process.env.BENCH_ONLY === 'start') {
    benchParallelSleeps();
    await benchColdAgentsCost();
    await benchWarmSleeps();
    return benchSpawnLatency();
  }
  if (process.env.BENCH_ONLY !== 'sandbox') {
    benchNoOps();
    benchParallelSleeps();
    await benchColdAgentsCost();
    await benchWarmSleeps();
    await benchSpawnLatency();
    await benchIdleMemory();
  }
  await benchSandboxCost();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
