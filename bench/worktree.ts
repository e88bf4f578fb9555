// Worktree benchmark on a generated repository (20,000 files; BENCH_QUICK=1: 2,000), in one run:
//  - cold worktree creation (snapshot + `git worktree add` of a fresh slot) vs warm reuse
//    (snapshot + checkout --force + clean of an existing slot), and their ratio (target ≤ 10 %);
//  - per-task overhead of snapshot + worktree + patch on a warm slot (target < 300 ms);
//  - a run's new slot from the tree an earlier run parked, against a cold one, and the end of a
//    run (release: parking) (BENCH_ONLY=parked: the cold, warm and parked figures alone);
//  - parallel speedup of 4 agents against 1 on 8 `sleep 1` tasks with worktrees on: through the
//    real AgentPool when it is built (src/core/pool/index.ts + dist/agent.js), else with 4
//    concurrent in-process agents driving the same isolation.
//   npm run bench:worktree          (node --import tsx bench/worktree.ts)
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard, type Task } from '../src/core/board';
import { createWorktreeIsolation, type WorktreeIsolation } from '../src/core/worktree';

const quick = process.env.BENCH_QUICK === '1';
const FILE_COUNT = quick ? 2_000 : 20_000;
const COLD_RUNS = quick ? 2 : 3;
const WARM_RUNS = quick ? 5 : 12;

export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const ms = (value: number) => `${value.toFixed(0)} ms`;
export const bytes = (value: number) => (value < 10_240 ? `${value} B` : `${(value / 1024).toFixed(1)} KB`);

/** git in `cwd` with a fixed identity; its output trimmed. */
export function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } }).trim();
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { value, ms: elapsedMs(start) };
}

/** The path of generated file `i` in a repository made by generateRepo. */
export function generatedFile(i: number): string {
  return path.join('src', `pkg${i % 100}`, `mod${Math.floor(i / 100) % 20}`, `file${i}.ts`);
}

export function generateRepo(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  git(root, ['init', '-q', '-b', 'main']);
  for (let i = 0; i < FILE_COUNT; i += 1) {
    const file = generatedFile(i);
    if (i < 2000) fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), `export const value${i} = ${i};\n// ${'x'.repeat(200)}\nexport function f${i}() { return value${i} * 2; }\n`);
  }
  fs.writeFileSync(path.join(root, '.gitignore'), 'node_modules/\n');
  fs.mkdirSync(path.join(root, 'node_modules', 'dep'), { recursive: true });
  fs.writeFileSync(path.join(root, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'generated']);
  // A user's index is older than their files; a freshly written one marks every entry "racily
  // clean" and makes git re-hash all files on each snapshot. Let a second pass and refresh it once.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
  git(root, ['status', '--porcelain']);
}

let taskCounter = 0;
function task(board: FileBoard): Task {
  return board.post({ title: `bench ${taskCounter++}` });
}

async function measureColdAndWarm(root: string, board: FileBoard): Promise<{ cold: number[]; warm: number[]; overhead: number[] }> {
  const cold: number[] = [];
  for (let run = 0; run < COLD_RUNS; run += 1) {
    const isolation = createWorktreeIsolation({ workspaceRoot: root });
    const t = task(board);
    const start = process.hrtime.bigint();
    const prepared = await isolation.prepare(t, `cold${run}`, board.artifactsDir(t.id));
    cold.push(elapsedMs(start));
    await isolation.collect(t, `cold${run}`, prepared, board.artifactsDir(t.id));
  }
  const isolation = createWorktreeIsolation({ workspaceRoot: root });
  const warm: number[] = [];
  const overhead: number[] = [];
  for (let run = 0; run < WARM_RUNS; run += 1) {
    // The user keeps editing: every snapshot differs from the last.
    fs.appendFileSync(path.join(root, 'src', 'pkg1', 'mod0', 'file1.ts'), `// user edit ${run}\n`);
    const t = task(board);
    const start = process.hrtime.bigint();
    const prepared = await isolation.prepare(t, 'cold0', board.artifactsDir(t.id));
    warm.push(elapsedMs(start));
    fs.appendFileSync(path.join(prepared.cwd, 'src', 'pkg2', 'mod0', 'file2.ts'), `// agent edit ${run}\n`);
    fs.writeFileSync(path.join(prepared.cwd, `new-${run}.ts`), 'export {};\n');
    await isolation.collect(t, 'cold0', prepared, board.artifactsDir(t.id));
    overhead.push(elapsedMs(start));
  }
  return { cold, warm, overhead };
}

/**
 * Runs of one task each, as `swarm run` does them: a new isolation, one slot prepared, an edit
 * collected, release at the end (which parks the slot). The first run finds nothing parked.
 */
async function measureParked(root: string, board: FileBoard): Promise<{ first: number; parked: number[]; release: number[] }> {
  let first = 0;
  const parked: number[] = [];
  const release: number[] = [];
  for (let run = 0; run <= COLD_RUNS; run += 1) {
    fs.appendFileSync(path.join(root, 'src', 'pkg1', 'mod0', 'file1.ts'), `// user edit before run ${run}\n`);
    const isolation = createWorktreeIsolation({ workspaceRoot: root });
    const t = task(board);
    const start = process.hrtime.bigint();
    const prepared = await isolation.prepare(t, 'run', board.artifactsDir(t.id));
    if (run === 0) first = elapsedMs(start);
    else parked.push(elapsedMs(start));
    fs.appendFileSync(path.join(prepared.cwd, 'src', 'pkg2', 'mod0', 'file2.ts'), `// agent edit ${run}\n`);
    await isolation.collect(t, 'run', prepared, board.artifactsDir(t.id));
    const released = process.hrtime.bigint();
    await isolation.release();
    release.push(elapsedMs(released));
  }
  return { first, parked, release };
}

function sleepIn(cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sleep', ['1'], { cwd, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

/** 8 tasks of `sleep 1` run by `agents` concurrent in-process agents, each in its own slot worktree. */
async function inProcessRun(board: FileBoard, isolation: WorktreeIsolation, agents: number): Promise<number> {
  const tasks = Array.from({ length: 8 }, () => task(board));
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: agents }, async (_, slot) => {
      while (next < tasks.length) {
        const t = tasks[next++];
        const prepared = await isolation.prepare(t, `p${slot}`, board.artifactsDir(t.id));
        await sleepIn(prepared.cwd);
        await isolation.collect(t, `p${slot}`, prepared, board.artifactsDir(t.id));
      }
    }),
  );
  return elapsedMs(start);
}

interface PoolModule {
  AgentPool: new (options: Record<string, unknown>) => { start(): Promise<void>; whenDone(): Promise<void>; stop(): Promise<void> };
}

/** The same through the real pool (child-process agents), when it is available. */
interface PoolRun {
  /** From pool start to the pool stopping by itself. */
  wall: number;
  /** From the first claim to the last completion (agent process start-up excluded). */
  working: number;
}

async function poolRun(root: string, agents: number, run: string): Promise<PoolRun | undefined> {
  const poolFile = path.join(__dirname, '..', 'src', 'core', 'pool', 'index.ts');
  const agentScript = path.join(__dirname, '..', 'dist', 'agent.js');
  if (!fs.existsSync(poolFile) || !fs.existsSync(agentScript)) return undefined;
  const { AgentPool } = (await import(poolFile)) as PoolModule;
  const board = FileBoard.open({ root: path.join(root, `.swarm-pool-${run}`) });
  board.postMany(Array.from({ length: 8 }, (_, i) => ({ title: `sleep ${i}` })));
  const isolation = createWorktreeIsolation({ workspaceRoot: root });
  const start = process.hrtime.bigint();
  const pool = new AgentPool({ board, workspaceRoot: root, executor: { type: 'command', command: 'sleep 1' }, minAgents: agents, maxAgents: agents, isolation, untilEmpty: true, agentScript, mode: 'pool' });
  await pool.start();
  await pool.whenDone();
  const wall = elapsedMs(start);
  const done = board.list({ status: 'done' }).length;
  const events = board.events.read().events;
  const firstClaim = Math.min(...events.filter((event) => event.type === 'claimed').map((event) => event.at));
  const lastDone = Math.max(...events.filter((event) => event.type === 'completed').map((event) => event.at));
  board.close();
  if (done !== 8) throw new Error(`pool finished only ${done} of 8 tasks`);
  return { wall, working: lastDone - firstClaim };
}

async function main(): Promise<void> {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-wt-'));
  const root = path.join(parent, 'repo');
  try {
    const start = process.hrtime.bigint();
    generateRepo(root);
    console.log(`Generated repository: ${FILE_COUNT.toLocaleString('en-US')} files in ${ms(elapsedMs(start))} (${os.cpus().length} cores, git ${git(root, ['--version']).split(' ')[2]})`);
    const board = FileBoard.open({ root: path.join(root, '.swarm') });

    const { cold, warm, overhead } = await measureColdAndWarm(root, board);
    const coldMedian = percentile(cold, 50);
    const warmMedian = percentile(warm, 50);
    console.log('\nWorktree preparation (snapshot of the working state + slot worktree)');
    console.log(`  cold create   median ${ms(coldMedian)}   (runs: ${cold.map(ms).join(', ')})`);
    console.log(`  warm reuse    median ${ms(warmMedian)}   p90 ${ms(percentile(warm, 90))}   (${warm.length} runs)`);
    console.log(`  warm / cold   ${((warmMedian / coldMedian) * 100).toFixed(1)} %   (target ≤ 10 %) ${warmMedian / coldMedian <= 0.1 ? 'MET' : 'MISSED'}`);
    console.log('\nPer-task overhead on a warm slot: snapshot + worktree reset + patch collect');
    console.log(`  median ${ms(percentile(overhead, 50))}   p90 ${ms(percentile(overhead, 90))}   (target < 300 ms) ${percentile(overhead, 50) < 300 ? 'MET' : 'MISSED'}`);

    const parked = await measureParked(root, board);
    console.log('\nA run\'s new slot: from the tree the previous run parked, against checking it out');
    console.log(`  first run, nothing parked   ${ms(parked.first)}`);
    console.log(`  from a parked tree          median ${ms(percentile(parked.parked, 50))}   (runs: ${parked.parked.map(ms).join(', ')})`);
    console.log(`  end of run (release, park)  median ${ms(percentile(parked.release, 50))}`);
    if (process.env.BENCH_ONLY === 'parked') return board.close();

    console.log('\nParallel speedup: 8 tasks of `sleep 1`, worktrees on');
    // The first run creates the pool's four slot worktrees (cold); the measured runs reuse them, as
    // a running pool does.
    const coldFour = await poolRun(root, 4, 'warmup');
    let one: PoolRun | undefined;
    let four: PoolRun | undefined;
    let how = 'AgentPool, child-process agents';
    if (coldFour !== undefined) {
      console.log(`  first run, 4 agents creating their worktrees: ${ms(coldFour.wall)}`);
      one = await poolRun(root, 1, 'one');
      four = await poolRun(root, 4, 'four');
    } else {
      how = 'in-process agents (the pool is not built yet)';
      const isolation = createWorktreeIsolation({ workspaceRoot: root });
      // Warm the four slots first, as a running pool would have them.
      await inProcessRun(board, isolation, 4);
      const oneWall = await inProcessRun(board, isolation, 1);
      const fourWall = await inProcessRun(board, isolation, 4);
      one = { wall: oneWall, working: oneWall };
      four = { wall: fourWall, working: fourWall };
    }
    console.log(`  ${how}, warm worktrees`);
    const a = one as PoolRun;
    const b = four as PoolRun;
    console.log('             wall (pool start to stop)   first claim to last completion');
    console.log(`  1 agent   ${ms(a.wall).padEnd(28)}${ms(a.working)}`);
    console.log(`  4 agents  ${ms(b.wall).padEnd(28)}${ms(b.working)}`);
    console.log(`  speedup   ${(a.wall / b.wall).toFixed(2)}x${''.padEnd(23)}${(a.working / b.working).toFixed(2)}x   (ideal 4x; 8 × 1 s of work on ${os.cpus().length} cores)`);
    board.close();
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
}

// Other benchmarks import the generator; only running this file runs the benchmark.
if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
