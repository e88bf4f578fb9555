// Apply benchmark (issue 15): `swarm apply --all-done` of many results, the old path against the
// new one in the same run, on the same generated repository.
//  - A repository of FILES text files; TASKS done tasks, each changing FILES_PER_TASK files (one
//    of them a new file), each with its own snapshot commit as base (same tree, as when agents
//    start from a dirty working state), patches in git's own format with full blob ids.
//  - Each run puts the workspace back to the snapshot, removes the apply records, and times the
//    apply of every waiting result in process. The old path is the code of an older revision
//    (default dc1e818, before the fast path; a revision that has the batch apply is run through its
//    own applyPendingResults), unpacked with `git archive`; the new path is this checkout's. Both must leave identical files. Prints p50, files/s, CPU time (this process and
//    its git children) and git processes per run, and, as the file system's floor on this machine
//    at this moment, what `git checkout` takes to write the same files.
//   npm run bench:apply [-- --tasks 150 --files-per-task 3 --runs 5 --old-runs 3 --old-rev dc1e818 --no-old]
// With --big [--big-files 20000] [--old-rev REV | --no-old]: one small result (3 changed files and a
// new one) in a repository of that many files, applied as `swarm apply <id>` does (in process, with
// the code of REV too when it has applyTaskPatches, and as a CLI process of the built dist/cli.js):
// what an apply costs that scales with the repository instead of the patch.
import * as childProcess from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoard as AsyncFileBoard, FileBoardEngine as FileBoard } from '../src/core/board';
import { applyPendingResults, applyTaskPatches, pendingResults } from '../src/core/patch';
import { filesOfPatch } from '../src/core/worktree/diff';

interface Options {
  tasks: number;
  filesPerTask: number;
  runs: number;
  oldRuns: number;
  oldRev: string;
  old: boolean;
  big: boolean;
  bigFiles: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { tasks: 150, filesPerTask: 3, runs: 5, oldRuns: 3, oldRev: 'dc1e818', old: true, big: false, bigFiles: 20_000 };
  for (let i = 0; i < argv.length; i += 1) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--tasks': options.tasks = Number(value); i += 1; break;
      case '--files-per-task': options.filesPerTask = Math.max(1, Number(value)); i += 1; break;
      case '--runs': options.runs = Number(value); i += 1; break;
      case '--old-runs': options.oldRuns = Number(value); i += 1; break;
      case '--old-rev': options.oldRev = value; i += 1; break;
      case '--no-old': options.old = false; break;
      case '--big': options.big = true; break;
      case '--big-files': options.bigFiles = Number(value); i += 1; break;
      default: throw new Error(`Unknown option ${argv[i]}; see the header of bench/apply.ts.`);
    }
  }
  return options;
}

const LINES = 40;
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };

function git(cwd: string, args: string[], input?: string): string {
  return childProcess.execFileSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: GIT_ENV }).trim();
}

function blobId(content: string): string {
  return crypto.createHash('sha1').update(`blob ${Buffer.byteLength(content)}\0`).update(content).digest('hex');
}

function fileText(file: number, changedBy?: string): string {
  return Array.from({ length: LINES }, (_, line) => (line === 19 && changedBy ? `export const line${line} = "${changedBy}"; // file ${file}` : `export const line${line} = ${line}; // file ${file}`)).join('\n') + '\n';
}

function modifyPatch(relPath: string, file: number, taskId: string): string {
  const before = fileText(file);
  const after = fileText(file, taskId);
  const a = before.split('\n');
  const b = after.split('\n');
  const hunk = [...a.slice(16, 19).map((l) => ` ${l}`), `-${a[19]}`, `+${b[19]}`, ...a.slice(20, 23).map((l) => ` ${l}`)];
  return [`diff --git a/${relPath} b/${relPath}`, `index ${blobId(before)}..${blobId(after)} 100644`, `--- a/${relPath}`, `+++ b/${relPath}`, '@@ -17,7 +17,7 @@', ...hunk, ''].join('\n');
}

function addPatch(relPath: string, content: string): string {
  const lines = content.split('\n').slice(0, -1);
  return [`diff --git a/${relPath} b/${relPath}`, 'new file mode 100644', `index 0000000000000000000000000000000000000000..${blobId(content)}`, '--- /dev/null', `+++ b/${relPath}`, `@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`), ''].join('\n');
}

const filePath = (file: number) => `src/mod${Math.floor(file / 50)}/file${file}.ts`;

interface Setup {
  root: string;
  board: FileBoard;
  taskIds: string[];
  files: number;
  /** A commit with every task's changes: `git checkout` of it writes the same files (the floor). */
  applied: string;
}

/** The repository, and the done tasks with their patches on its board. */
function setUp(options: Options): Setup {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-apply-')), 'repo');
  const modifiedPerTask = options.filesPerTask - 1;
  const fileCount = Math.max(1, options.tasks * modifiedPerTask) + 50;
  fs.mkdirSync(root, { recursive: true });
  git(root, ['init', '-q', '-b', 'main']);
  for (let file = 0; file < fileCount; file += 1) {
    fs.mkdirSync(path.join(root, path.dirname(filePath(file))), { recursive: true });
    fs.writeFileSync(path.join(root, filePath(file)), fileText(file));
  }
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'generated']);
  const tree = git(root, ['rev-parse', 'HEAD^{tree}']);
  const head = git(root, ['rev-parse', 'HEAD']);
  const board = FileBoard.open({ root: path.join(root, '.swarm'), durable: false });
  const taskIds: string[] = [];
  const texts: string[] = [];
  // An agent's result is collected with `git add -A` in its worktree, which shares the object store:
  // the new blobs are already there when the result is applied. The same here, in one process.
  const blobsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-blobs-'));
  const blobFiles: string[] = [];
  const keepBlob = (content: string) => {
    const file = path.join(blobsDir, String(blobFiles.length));
    fs.writeFileSync(file, content);
    blobFiles.push(file);
  };
  for (let t = 0; t < options.tasks; t += 1) {
    const base = git(root, ['commit-tree', tree, '-p', head, '-m', `snapshot for task ${t}`]);
    board.post({ title: `bench task ${t}` });
    const claim = board.claim({ agent: 'bench' });
    if (!claim) throw new Error('nothing to claim');
    const sections = Array.from({ length: modifiedPerTask }, (_, i) => {
      const file = t * modifiedPerTask + i;
      keepBlob(fileText(file, claim.task.id));
      return modifyPatch(filePath(file), file, claim.task.id);
    });
    keepBlob(fileText(100_000 + t, claim.task.id));
    sections.push(addPatch(`src/new/task${t}.ts`, fileText(100_000 + t, claim.task.id)));
    const text = sections.join('');
    texts.push(text);
    const dir = board.artifactsDir(claim.task.id);
    fs.mkdirSync(dir, { recursive: true });
    const patchFile = path.join(dir, 'result.patch');
    fs.writeFileSync(patchFile, text);
    board.complete(claim, { summary: 'bench', patchFile, base, files: filesOfPatch(text) });
    taskIds.push(claim.task.id);
  }
  git(root, ['hash-object', '-w', '--no-filters', '--stdin-paths'], blobFiles.join('\n') + '\n');
  fs.rmSync(blobsDir, { recursive: true, force: true });
  const index = path.join(root, '.git', 'bench-applied.index');
  const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
  childProcess.execFileSync('git', ['read-tree', tree], { cwd: root, env });
  childProcess.execFileSync('git', ['apply', '--cached', '-'], { cwd: root, env, input: texts.join('') });
  const applied = childProcess.execFileSync('git', ['commit-tree', childProcess.execFileSync('git', ['write-tree'], { cwd: root, env, encoding: 'utf8' }).trim(), '-p', head, '-m', 'all results'], { cwd: root, env, encoding: 'utf8' }).trim();
  fs.rmSync(index);
  // A user's index is older than their files; let git's racy-clean window pass and refresh it once.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
  git(root, ['status', '--porcelain']);
  return { root, board, taskIds, files: options.tasks * options.filesPerTask, applied };
}

/** Back to the snapshot: files as committed, no apply records. */
function reset(root: string, board: FileBoard, taskIds: string[]): void {
  git(root, ['reset', '-q', '--hard', 'HEAD']);
  git(root, ['clean', '-fdq', '--', 'src']);
  for (const id of taskIds) {
    const dir = board.artifactsDir(id);
    for (const name of fs.readdirSync(dir)) if (name !== 'result.patch') fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** The workspace's files, hashed: both paths must leave the same result. */
function digest(root: string): string {
  const hash = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (fs.statSync(full).isDirectory()) walk(full);
      else hash.update(`${path.relative(root, full)}\n`).update(fs.readFileSync(full));
    }
  };
  walk(path.join(root, 'src'));
  return hash.digest('hex');
}

/** Counts the git processes started while `action` runs (both paths spawn through child_process). */
async function countingGit<T>(action: () => Promise<T>): Promise<{ value: T; processes: number }> {
  // The module object itself (the import above is a read-only view of it).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cp = require('child_process') as { spawn: typeof childProcess.spawn; spawnSync: typeof childProcess.spawnSync };
  const { spawn, spawnSync } = cp;
  let processes = 0;
  cp.spawn = ((command: string, ...rest: unknown[]) => {
    if (command === 'git') processes += 1;
    return (spawn as (...args: unknown[]) => childProcess.ChildProcess)(command, ...rest);
  }) as typeof childProcess.spawn;
  cp.spawnSync = ((command: string, ...rest: unknown[]) => {
    if (command === 'git') processes += 1;
    return (spawnSync as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof childProcess.spawnSync;
  try {
    return { value: await action(), processes };
  } finally {
    cp.spawn = spawn;
    cp.spawnSync = spawnSync;
  }
}

type ApplyAll = (root: string, board: FileBoard) => Promise<number>;

/** The old path: what `apply --all-done` did at `rev`, one task after the other. */
async function oldPath(rev: string): Promise<{ apply: ApplyAll; cleanup: () => void }> {
  const repo = path.join(__dirname, '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-old-'));
  childProcess.execFileSync('sh', ['-c', `git archive ${JSON.stringify(rev)} src | tar -x -C ${JSON.stringify(dir)}`], { cwd: repo });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  const old = (await import(path.join(dir, 'src', 'core', 'patch', 'index.ts'))) as {
    applyTaskPatch(options: { workspaceRoot: string; board: FileBoard; taskId: string }): Promise<{ status: string }>;
    applyRecord(board: FileBoard, taskId: string): unknown;
    isDiscarded(board: FileBoard, taskId: string): boolean;
    applyPendingResults?: typeof applyPendingResults;
  };
  // A revision with the batch apply (session 5 on): its own `apply --all-done`, in its own code.
  const oldBoard = old.applyPendingResults ? ((await import(path.join(dir, 'src', 'core', 'board', 'index.ts'))) as { FileBoard: typeof AsyncFileBoard }).FileBoard : undefined;
  if (old.applyPendingResults && oldBoard) return { apply: batchPath(old.applyPendingResults, oldBoard), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  const apply: ApplyAll = async (root, board) => {
    // The old CLI's pendingResults, then one applyTaskPatch per task.
    const ids = board
      .list({ status: 'done' })
      .filter((task) => !task.childCount && !old.isDiscarded(board, task.id) && !old.applyRecord(board, task.id))
      .sort((a, b) => a.updatedAt - b.updatedAt)
      .map((task) => task.id);
    for (const taskId of ids) {
      const outcome = await old.applyTaskPatch({ workspaceRoot: root, board, taskId });
      if (outcome.status !== 'applied') throw new Error(`old path: task ${taskId} ${outcome.status}`);
    }
    return ids.length;
  };
  return { apply, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const batchPath = (applyAll: typeof applyPendingResults, boards: typeof AsyncFileBoard): ApplyAll => async (root, board) => {
  const results = await applyAll({ workspaceRoot: root, board: boards.over(board) });
  for (const result of results) {
    if ('error' in result) throw result.error;
    if (result.outcome.status !== 'applied') throw new Error(`old path: task ${result.taskId} ${result.outcome.status}`);
  }
  return results.length;
};

const newPath: ApplyAll = async (root, board) => {
  const results = await applyPendingResults({ workspaceRoot: root, board: AsyncFileBoard.over(board) });
  for (const result of results) {
    if ('error' in result) throw result.error;
    if (result.outcome.status !== 'applied') throw new Error(`new path: task ${result.taskId} ${result.outcome.status}`);
  }
  return results.length;
};

/**
 * CPU time of this process and of the children it waited for (the git processes), in ms: on a
 * machine shared with other work the wall time varies a lot, the CPU time much less.
 */
function cpuMs(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    // /proc/self/stat: fields 16 and 17 (cutime, cstime) after the command name, in clock ticks.
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    children = ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    // Not Linux: this process only.
  }
  return (own.user + own.system) / 1000 + children;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** What git itself takes to write the same files right now: the file system's floor on this machine. */
const gitCheckout = (applied: string): ApplyAll => async (root, board) => {
  git(root, ['checkout', '-q', applied, '--', 'src']);
  return (await pendingResults({ workspaceRoot: root, board: AsyncFileBoard.over(board) })).length;
};

async function measure(label: string, runs: number, setup: Setup, apply: ApplyAll): Promise<{ p50: number; digest: string }> {
  const times: number[] = [];
  const cpu: number[] = [];
  let processes = 0;
  let result = '';
  for (let run = 0; run < runs; run += 1) {
    reset(setup.root, setup.board, setup.taskIds);
    const started = process.hrtime.bigint();
    const cpuBefore = cpuMs();
    const counted = await countingGit(() => apply(setup.root, setup.board));
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    cpu.push(cpuMs() - cpuBefore);
    processes = counted.processes;
    if (counted.value !== setup.taskIds.length) throw new Error(`${label}: applied ${counted.value} of ${setup.taskIds.length} tasks`);
    result = digest(setup.root);
  }
  const p50 = percentile(times, 50);
  console.log(
    `${label.padEnd(5)} p50 ${p50.toFixed(0).padStart(6)} ms  (runs: ${times.map((t) => t.toFixed(0)).join(', ')} ms)  ${Math.round(setup.files / (p50 / 1000))} files/s  ` +
      `cpu p50 ${percentile(cpu, 50).toFixed(0)} ms  ${processes} git processes per run`,
  );
  return { p50, digest: result };
}

/** applyTaskPatches of an older revision (one that has it), unpacked with `git archive`. */
async function olderApply(rev: string): Promise<{ apply: typeof applyTaskPatches; boards: typeof AsyncFileBoard; cleanup: () => void }> {
  const repo = path.join(__dirname, '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-old-'));
  childProcess.execFileSync('sh', ['-c', `git archive ${JSON.stringify(rev)} src | tar -x -C ${JSON.stringify(dir)}`], { cwd: repo });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  const patch = (await import(path.join(dir, 'src', 'core', 'patch', 'index.ts'))) as { applyTaskPatches?: typeof applyTaskPatches };
  const board = (await import(path.join(dir, 'src', 'core', 'board', 'index.ts'))) as { FileBoard: typeof AsyncFileBoard };
  if (!patch.applyTaskPatches) throw new Error(`Revision ${rev} has no applyTaskPatches; give --old-rev a later one, or --no-old.`);
  return { apply: patch.applyTaskPatches, boards: board.FileBoard, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * One result of 4 files in a repository of `bigFiles` files: `applyTaskPatches` of that one task in
 * process and `node dist/cli.js apply <id>` as a process, reset between runs; git processes counted.
 */
async function bigRepository(options: Options): Promise<void> {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-apply-big-')), 'repo');
  try {
    fs.mkdirSync(root, { recursive: true });
    git(root, ['init', '-q', '-b', 'main']);
    for (let file = 0; file < options.bigFiles; file += 1) {
      if (file % 50 === 0) fs.mkdirSync(path.join(root, path.dirname(filePath(file))), { recursive: true });
      fs.writeFileSync(path.join(root, filePath(file)), fileText(file));
    }
    git(root, ['add', '-A']);
    git(root, ['commit', '-q', '-m', 'generated']);
    const base = git(root, ['rev-parse', 'HEAD']);
    const board = FileBoard.open({ root: path.join(root, '.swarm'), durable: false });
    board.post({ title: 'one small result' });
    const claim = board.claim({ agent: 'bench' });
    if (!claim) throw new Error('nothing to claim');
    const changed = [200, 201, 202];
    const added = fileText(100_000, claim.task.id);
    const text = [...changed.map((file) => modifyPatch(filePath(file), file, claim.task.id)), addPatch('src/new/added.ts', added)].join('');
    git(root, ['hash-object', '-w', '--stdin'], added);
    for (const file of changed) git(root, ['hash-object', '-w', '--stdin'], fileText(file, claim.task.id));
    const dir = board.artifactsDir(claim.task.id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'result.patch'), text);
    board.complete(claim, { summary: 'bench', patchFile: path.join(dir, 'result.patch'), base, files: filesOfPatch(text) });
    board.close();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
    git(root, ['status', '--porcelain']);
    const taskIds = [claim.task.id];
    const older = options.old ? await olderApply(options.oldRev) : undefined;
    const inOlder: number[] = [];
    const inProcess: number[] = [];
    const cli: number[] = [];
    let processes = 0;
    const cliPath = path.join(__dirname, '..', 'dist', 'cli.js');
    const reopened = FileBoard.open({ root: path.join(root, '.swarm'), durable: false });
    try {
      for (let run = 0; run < options.runs; run += 1) {
        reset(root, reopened, taskIds);
        const started = process.hrtime.bigint();
        const counted = await countingGit(() => applyTaskPatches({ workspaceRoot: root, board: AsyncFileBoard.over(reopened), taskIds }));
        inProcess.push(Number(process.hrtime.bigint() - started) / 1e6);
        processes = counted.processes;
        const [result] = counted.value;
        if ('error' in result) throw result.error;
        if (result.outcome.status !== 'applied') throw new Error(`big: ${result.outcome.status}`);
        if (older) {
          reset(root, reopened, taskIds);
          const olderStarted = process.hrtime.bigint();
          const [before] = await older.apply({ workspaceRoot: root, board: older.boards.over(reopened), taskIds });
          inOlder.push(Number(process.hrtime.bigint() - olderStarted) / 1e6);
          if ('error' in before) throw before.error;
        }
        if (!fs.existsSync(cliPath)) continue;
        reset(root, reopened, taskIds);
        const cliStarted = process.hrtime.bigint();
        const ran = childProcess.spawnSync(process.execPath, [cliPath, 'apply', claim.task.id], { cwd: root, encoding: 'utf8' });
        cli.push(Number(process.hrtime.bigint() - cliStarted) / 1e6);
        if (ran.status !== 0) throw new Error(`swarm apply failed: ${ran.stderr}`);
      }
    } finally {
      reopened.close();
      older?.cleanup();
    }
    const runs = (values: number[]) => `p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms  (runs: ${values.map((t) => t.toFixed(0)).join(', ')} ms)`;
    console.log(`one result of 4 files in a repository of ${options.bigFiles} files; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}`);
    console.log(`in process   ${runs(inProcess)}  ${processes} git processes`);
    if (older) console.log(`${options.oldRev.padEnd(12)} ${runs(inOlder)}  (the same apply with the code of that revision, alternating)`);
    console.log(cli.length > 0 ? `CLI process  ${runs(cli)}  (node dist/cli.js apply)` : 'CLI process  skipped: dist/cli.js is not built (npm run build)');
  } finally {
    fs.rmSync(path.dirname(root), { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.big) return bigRepository(options);
  const setup = setUp(options);
  console.log(`apply --all-done: ${options.tasks} tasks × ${options.filesPerTask} files = ${setup.files} changed files, each task on its own snapshot commit; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}`);
  try {
    const floor = await measure('git', options.runs, setup, gitCheckout(setup.applied));
    const fresh = await measure('new', options.runs, setup, newPath);
    if (floor.digest !== fresh.digest) throw new Error('git checkout and the new path left different files.');
    if (options.old) {
      const old = await oldPath(options.oldRev);
      try {
        const before = await measure('old', options.oldRuns, setup, old.apply);
        if (before.digest !== fresh.digest) throw new Error('The old and the new path left different files.');
        console.log(`same files written by all three; new/old: ${((fresh.p50 / before.p50) * 100).toFixed(1)} % of the time (${(before.p50 / fresh.p50).toFixed(0)}x faster); new/git checkout: ${(fresh.p50 / floor.p50).toFixed(1)}x`);
      } finally {
        old.cleanup();
      }
    }
  } finally {
    setup.board.close();
    fs.rmSync(path.dirname(setup.root), { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exitCode = 1;
});
