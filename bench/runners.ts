// Runners on other machines, end to end on the generated repository of bench/worktree.ts (20,000
// files; BENCH_QUICK=1: 2,000), with a real redis-server on loopback:
//  - post: the snapshot of an uncommitted state, its thin bundle stored on the board (time, size);
//  - per task: a runner's prepare (import + worktree slot at the snapshot) and collect (patch +
//    result bundle stored) against a local slot of the developer doing the same edits;
//  - throughput: runner processes (test/unit/remote/fixtures/board-runner.ts, the same seam) draining
//    tasks of a sleep command, with 1 and 2 runner processes, each in its own clone;
//  - result commit: the runner's result tree built from the patch's paths alone against the whole
//    snapshot read into an index (the fallback), on the same patch, in alternating order;
//  - apply: `swarm apply` of a runner's patch in the developer's clone;
//  - git processes per task (one more task, counted with GIT_TRACE): runner and local side
//    (BENCH_PRINT_GIT=1 lists them).
//   npm run build && npm run bench:runners   (node --import tsx bench/runners.ts; BENCH_THROUGHPUT=0 skips the throughput)
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openBoard } from '../src/core/board/open';
import { PATCH_ARTIFACT, type Board, type Task } from '../src/core/board';
import { resultFromPatch, type ResultTreeWay } from '../src/core/remote/result';
import { RemoteWorkspace } from '../src/core/remote/workspace';
import { snapshotForPost } from '../src/core/remote/post';
import { WorktreeIsolation } from '../src/core/worktree/worktreeIsolation';
import { startRedis } from '../test/harness/redis';
import { bytes, elapsedMs, generatedFile as file, generateRepo, git, ms, percentile, timed } from './worktree';

const quick = process.env.BENCH_QUICK === '1';
const RUNS = quick ? 5 : 9;
const SLEEP_TASKS = quick ? 12 : 24;
const SLEEP_SECONDS = 0.5;
const ROOT = path.resolve(__dirname, '..');
const TSX = require.resolve('tsx');
/** The CLI as users run it (`npm run build`): through tsx, compiling the sources would be most of what the apply row measures. */
const BUILT_CLI = path.join(ROOT, 'dist', 'cli.js');


function agentEdits(root: string, run: number): void {
  for (const i of [200, 201, 202]) fs.appendFileSync(path.join(root, file(i + run)), `// agent edit ${run}\n`);
  fs.writeFileSync(path.join(root, `src/added-${run}.ts`), `export const added${run} = ${run};\n`);
}

function line(label: string, values: number[], unit: (value: number) => string = ms): void {
  console.log(`  ${label.padEnd(52)} p50 ${unit(percentile(values, 50)).padEnd(10)} p95 ${unit(percentile(values, 95)).padEnd(10)} (${values.length} runs: ${unit(Math.min(...values))} to ${unit(Math.max(...values))})`);
}

/** The git processes `action` starts (GIT_TRACE names each one's built-in command once). */
async function countGitProcesses<T>(dir: string, action: () => Promise<T>): Promise<{ value: T; count: number }> {
  const trace = path.join(dir, `git-trace-${Date.now()}.txt`);
  process.env.GIT_TRACE = trace;
  try {
    const value = await action();
    const lines = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n') : [];
    const started = lines.filter((entry) => entry.includes('trace: built-in: git '));
    if (process.env.BENCH_PRINT_GIT === '1') for (const entry of started) console.log(`    ${entry.replace(/^.*built-in: /, '').slice(0, 160)}`);
    return { value, count: started.length };
  } finally {
    delete process.env.GIT_TRACE;
    fs.rmSync(trace, { force: true });
  }
}

async function waitUntilDrained(board: Board, ids: string[]): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const tasks = (await Promise.all(ids.map((id) => board.get(id)))) as Task[];
    if (tasks.every((task) => task.status === 'done')) return;
    const dead = tasks.find((task) => task.status === 'dead');
    if (dead) throw new Error(`task ${dead.id} died: ${dead.lastError?.message}`);
    if (Date.now() > deadline) throw new Error('the runners did not drain the board in 15 minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function throughput(parent: string, board: Board, url: string, dev: string, runnerClones: string[]): Promise<number> {
  const specs = Array.from({ length: SLEEP_TASKS }, (_, index) => ({ title: `sleep ${index}` }));
  const { source } = await snapshotForPost({ board, workspaceRoot: dev, specs });
  const start = process.hrtime.bigint();
  const posted = await board.postMany(specs.map((spec) => ({ ...spec, source })));
  const runners = runnerClones.map((clone, index) => {
    const dir = fs.mkdtempSync(path.join(parent, `runner-${index}-`));
    const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'test/unit/remote/fixtures/board-runner.ts'), url, `r${index}`, dir, `sleep ${SLEEP_SECONDS}`, '--clone', clone, '--allow-local'], { cwd: clone, stdio: 'ignore' });
    return child;
  });
  try {
    await waitUntilDrained(board, posted.map((task) => task.id));
    return elapsedMs(start);
  } finally {
    for (const child of runners) child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: run npm run build first.`);
  const parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-runners-')));
  const redis = await startRedis();
  try {
    const seed = path.join(parent, 'seed');
    const origin = path.join(parent, 'origin.git');
    const dev = path.join(parent, 'dev');
    const start = process.hrtime.bigint();
    generateRepo(seed);
    git(parent, ['clone', '-q', '--bare', seed, origin]);
    git(parent, ['clone', '-q', origin, dev]);
    const clones = [0, 1].map((index) => {
      const clone = path.join(parent, `runner-clone-${index}`);
      git(parent, ['clone', '-q', origin, clone]);
      return clone;
    });
    console.log(`Generated repository: ${git(dev, ['ls-files']).split('\n').length.toLocaleString('en-US')} files in ${ms(elapsedMs(start))} (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}, git ${git(dev, ['--version']).split(' ')[2]})`);
    fs.appendFileSync(path.join(dev, file(1)), '// unpushed\n');
    git(dev, ['commit', '-q', '-am', 'unpushed']);
    fs.appendFileSync(path.join(dev, file(2)), '// staged\n');
    git(dev, ['add', file(2)]);

    const url = redis.url(0, 'bench');
    const board = await openBoard(url);
    const post: number[] = [];
    const bundleBytes: number[] = [];
    const remotePrepare: number[] = [];
    const remoteCollect: number[] = [];
    const localPrepare: number[] = [];
    const localCollect: number[] = [];
    const apply: number[] = [];
    const resultWays: Record<ResultTreeWay, number[]> = { 'changed-paths': [], 'full-index': [] };
    const remote = new RemoteWorkspace({ board, clone: clones[0], allowLocalUrls: true, runnerDir: path.join(parent, 'runner-dir'), makeIsolation: (options) => new WorktreeIsolation({ ...options, keepIdleSlots: true }) });
    const local = new WorktreeIsolation({ workspaceRoot: dev, worktreesDir: path.join(parent, 'dev-slots'), keepIdleSlots: true });
    const scratch = path.join(parent, 'scratch');
    for (let run = 0; run < RUNS; run++) {
      fs.appendFileSync(path.join(dev, file(10 + run)), `// developer edit ${run}\n`);
      const spec = { title: `edit ${run}` };
      const posted = await timed(async () => {
        const { source } = await snapshotForPost({ board, workspaceRoot: dev, specs: [spec] });
        return (await board.postMany([{ ...spec, source }]))[0];
      });
      post.push(posted.ms);
      bundleBytes.push(posted.value.source?.bundleBytes ?? 0);
      const claim = await board.claim({ agent: 'bench-runner' });
      if (claim?.task.id !== posted.value.id) throw new Error('the bench board had another task');
      const task = claim.task;
      const prepared = await timed(() => remote.prepare(task, '0', scratch));
      remotePrepare.push(prepared.ms);
      agentEdits(prepared.value.cwd, run);
      const collected = await timed(async () => {
        const changes = await remote.collect(task, '0', prepared.value, scratch);
        await board.putArtifact(task.id, PATCH_ARTIFACT, fs.readFileSync(changes.patchFile as string));
        return changes;
      });
      remoteCollect.push(collected.ms);
      await board.complete(claim, { summary: 'bench', patchArtifact: PATCH_ARTIFACT, base: collected.value.base, files: collected.value.files });
      const ways: ResultTreeWay[] = run % 2 === 0 ? ['changed-paths', 'full-index'] : ['full-index', 'changed-paths'];
      for (const way of ways) {
        const patch = fs.readFileSync(collected.value.patchFile as string);
        const gitDir = git(clones[0], ['rev-parse', '--absolute-git-dir']);
        resultWays[way].push((await timed(() => resultFromPatch({ gitDir, taskId: task.id, snapshot: collected.value.base as string, patch, treeFrom: way }))).ms);
      }
      // The same task run locally by the developer (no source: a snapshot of the working copy).
      const localTask = { ...task, source: undefined };
      const here = await timed(() => local.prepare(localTask, '0', scratch));
      localPrepare.push(here.ms);
      agentEdits(here.value.cwd, run);
      localCollect.push((await timed(() => local.collect(localTask, '0', here.value, scratch))).ms);
      // The developer applies the runner's result (a CLI process: includes starting Node).
      const applied = await timed(async () => spawnSync(process.execPath, [BUILT_CLI, '--board', url, 'apply', task.id], { cwd: dev, encoding: 'utf8' }));
      if (applied.value.status !== 0) throw new Error(`swarm apply ${task.id} failed: ${applied.value.stderr}`);
      apply.push(applied.ms);
    }
    console.log('Post (snapshot + thin bundle stored on the board + post):');
    line('post of one task', post);
    line('bundle size', bundleBytes, bytes);
    console.log('Per task, warm slots (the first run includes creating the slot):');
    line('runner: import + slot at the snapshot', remotePrepare);
    line('runner: patch + result bundle stored', remoteCollect);
    line('local: snapshot + slot', localPrepare);
    line('local: patch', localCollect);
    const overhead = remotePrepare.map((value, index) => value + remoteCollect[index] - localPrepare[index] - localCollect[index]);
    line('runner overhead over a local run', overhead);

    console.log('Result commit + bundle on the runner, same patch, alternating order:');
    line('tree from the patch\'s paths (the default)', resultWays['changed-paths']);
    line('tree from the whole snapshot in an index (fallback)', resultWays['full-index']);
    line('swarm apply of the runner\'s patch (CLI process)', apply);
    // One more task, not timed: how many git processes each side starts (the same on any load).
    const counted = { title: 'counted' };
    const { source } = await snapshotForPost({ board, workspaceRoot: dev, specs: [counted] });
    const [countedTask] = await board.postMany([{ ...counted, source }]);
    const countedClaim = await board.claim({ agent: 'bench-runner' });
    if (countedClaim?.task.id !== countedTask.id) throw new Error('the bench board had another task');
    const remoteSide = await countGitProcesses(parent, () => remote.prepare(countedClaim.task, '0', scratch));
    agentEdits(remoteSide.value.cwd, RUNS);
    const remoteCollected = await countGitProcesses(parent, () => remote.collect(countedClaim.task, '0', remoteSide.value, scratch));
    await board.complete(countedClaim, { summary: 'bench' });
    const localTask = { ...countedClaim.task, source: undefined };
    const localSide = await countGitProcesses(parent, () => local.prepare(localTask, '0', scratch));
    agentEdits(localSide.value.cwd, RUNS);
    const localCollected = await countGitProcesses(parent, () => local.collect(localTask, '0', localSide.value, scratch));
    console.log('Git processes for one task (warm slot):');
    console.log(`  runner: prepare ${remoteSide.count}, collect ${remoteCollected.count}; local: prepare ${localSide.count}, collect ${localCollected.count}`);
    console.log(`(load average now ${os.loadavg()[0].toFixed(1)})`);
    if (process.env.BENCH_THROUGHPUT !== '0') {
      console.log(`Throughput: ${SLEEP_TASKS} tasks of \`sleep ${SLEEP_SECONDS}\`, runner processes with one slot each:`);
      const one = await throughput(parent, board, url, dev, clones.slice(0, 1));
      console.log(`  1 runner                                             ${ms(one)} (${(SLEEP_TASKS / (one / 1000)).toFixed(2)} tasks/s)`);
      const two = await throughput(parent, board, url, dev, clones);
      console.log(`  2 runners                                            ${ms(two)} (${(SLEEP_TASKS / (two / 1000)).toFixed(2)} tasks/s, ${(one / two).toFixed(2)}x)`);
    }
    await remote.release();
    await local.release();
    await board.close();
  } finally {
    await redis.stop();
    fs.rmSync(parent, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
