// On a real repository: a public codebase nobody here wrote, fixed by ESLint, once by hand and once
// by the swarm, timed side by side in one run and compared byte for byte.
//
//   npm run build && npm run bench:real          (node --import tsx bench/real.ts)
//   BENCH_PER_FILE=1 npm run bench:real          also one task per file (slow: hundreds of tasks)
//   BENCH_KEEP=1 npm run bench:real              keep the temporary repositories for a look
//   BENCH_TRACE=1 npm run bench:real             also where the run's time went, per phase (SWARM_TRACE)
//   BENCH_QUICK=1 npm run bench:real             each swarm row once (no second run in the same repository)
//   BENCH_ONLY=batched npm run bench:real        only the batched rows (or "unbatched", or "own": the own-cost row)
//   BENCH_PER_PROCESS=1,auto BENCH_ONLY=own npm run bench:real
//                                                the own-cost row with each --agents-per-process setting,
//                                                5 rounds alternating, medians
//   BENCH_BASE_CLI=/tmp/old/dist/cli.js npm run bench:real
//                                                also the batched rows with an older build, alternating
//                                                with this one in the same run (figures under load compare)
//
// A last row is the swarm's own cost: the same batched run with a command that only copies plain
// ESLint's output into place (one `cp`), so its CPU time is the swarm's, without ESLint's variance.
//
// The swarm runs without batches (one eslint per chunk: the baseline) and with them (each agent runs
// one eslint over its share of the chunks, docs/pool.md "Batches"), each twice on the same
// repository (restored in between): the first run checks its slots out, the second takes over the
// trees the first one parked (src/core/worktree/parked.ts).
//
// The codebase is lodash 4.17.21's modular sources (a pinned devDependency, so it comes from the npm
// registry with `npm ci`: about 630 CommonJS files). The repository gets an ESLint flat config with
// auto-fixable rules and one uncommitted edit (the swarm must start from the working state). Then:
//   plain:  `eslint --fix <every file>` in a copy of the repository;
//   swarm:  `swarm map` with 8 chunks of files, `swarm run --agents 2` with the same eslint command,
//           `swarm apply --all-done`;
// and the two trees must be identical. Targets (issue "On a real repository"): the swarm's total
// within 1.25× of the plain tool; `apply --all-done` under 1 s.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { summarizeTrace } from '../src/core/trace';
import { defaultWorktreesDir } from '../src/core/worktree/location';

const root = path.resolve(__dirname, '..');

/** The installed ESLint's version, read from its package.json (the bench runs that copy). */
function eslintVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'eslint', 'package.json'), 'utf8')) as { version: string }).version;
}

const cli = path.join(root, 'dist', 'cli.js');
const eslint = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
const lodashDir = path.join(root, 'node_modules', 'lodash');
const CHUNKS = 8;
const quick = process.env.BENCH_QUICK === '1';
const AGENTS = 2;
/** Runs of plain ESLint behind the baseline (its median): one run alone is too noisy to divide by. */
const PLAIN_RUNS = quick ? 1 : 3;

/** Rules ESLint fixes by itself; some leave problems it cannot fix, so it exits 1 with fixes written. */
const ESLINT_CONFIG = `module.exports = [
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'commonjs' },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      'no-var': 'error',
      'prefer-const': 'error',
      curly: 'error',
      'dot-notation': 'error',
      'no-else-return': 'error',
      'no-lonely-if': 'error',
      'no-unneeded-ternary': 'error',
      'no-undef-init': 'error',
      'object-shorthand': 'error',
      'operator-assignment': 'error',
      'prefer-template': 'error',
      yoda: 'error',
      'no-useless-return': 'error',
      'no-extra-boolean-cast': 'error',
    },
  },
];
`;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** The lodash sources as a git repository with an ESLint config and one uncommitted edit. */
function makeRepository(): { dir: string; files: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bench-real-'));
  // The modular sources only: lodash.js, core.js and the .min.js files are generated bundles.
  const files = fs
    .readdirSync(lodashDir)
    .filter((name) => name.endsWith('.js') && !name.endsWith('.min.js') && name !== 'lodash.js' && name !== 'core.js')
    .sort();
  for (const name of files) fs.copyFileSync(path.join(lodashDir, name), path.join(dir, name));
  fs.writeFileSync(path.join(dir, 'eslint.config.js'), ESLINT_CONFIG);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'lodash-bench', version: '4.17.21', private: true }, null, 2) + '\n');
  git(dir, ['init', '-q', '-b', 'main']);
  git(dir, ['add', '.']);
  git(dir, ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.invalid', 'commit', '-q', '-m', 'lodash 4.17.21 sources']);
  addUncommittedEdit(dir);
  return { dir, files };
}

/** The user's uncommitted edit: the swarm's worktrees must start from it, and apply must keep it. */
function addUncommittedEdit(dir: string): void {
  fs.appendFileSync(path.join(dir, 'chunk.js'), '\nvar uncommittedNote = "an edit the user has not committed";\n');
}

/** Back to the state before the swarm ran (files, uncommitted edit, no board), for a second run in the same repository. */
function restoreRepository(dir: string): void {
  git(dir, ['checkout', '-q', '--', '.']);
  addUncommittedEdit(dir);
  fs.rmSync(path.join(dir, '.swarm'), { recursive: true, force: true });
}

function copyOf(dir: string, suffix: string): string {
  const copy = `${dir}-${suffix}`;
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/** ESLint exits 1 when problems it cannot fix remain; its fixes are written either way. */
function eslintFix(cwd: string, files: string[]): { ms: number; cpuMs?: number } {
  const started = nowMs();
  const { result, cpuMs } = inCpuGroup(process.execPath, [eslint, '--fix', ...files], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0 && result.status !== 1) throw new Error(`eslint failed (${result.status}): ${result.stderr}`);
  return { ms: nowMs() - started, cpuMs };
}

/**
 * The same chunks by hand, two at a time (`xargs -P 2`): what splitting the work costs ESLint itself
 * (a start-up per chunk, less warmed-up code), apart from anything the swarm adds.
 */
function eslintChunksByHand(cwd: string, groups: string[][]): { ms: number; cpuMs?: number } {
  const started = nowMs();
  const input = groups.map((files) => files.join(' ')).join('\n') + '\n';
  const { result, cpuMs } = inCpuGroup('xargs', ['-P', String(AGENTS), '-L', '1', process.execPath, eslint, '--fix'], { cwd, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  // xargs exits 123 when a command exited 1..125 (ESLint's "problems left").
  if (result.status !== 0 && result.status !== 123) throw new Error(`xargs eslint failed (${result.status}): ${result.stderr}`);
  return { ms: nowMs() - started, cpuMs };
}

/**
 * CPU time is what a loaded machine does not distort: wall time depends on what else runs, the CPU
 * seconds a command and every process it starts (agents, sandboxes, git) used do not. Measured with
 * a cgroup of its own (cgroup v1 cpuacct or v2 cpu.stat; needs root); undefined where none can be made.
 */
let cpuGroupCounter = 0;
function inCpuGroup(file: string, args: string[], options: Parameters<typeof spawnSync>[2] & { encoding: 'utf8' }): { result: ReturnType<typeof spawnSync> & { stdout: string; stderr: string }; cpuMs?: number } {
  const group = makeCpuGroup();
  if (!group) return { result: spawnSync(file, args, options) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string } };
  try {
    // The shell joins the group, then becomes the command: everything it starts is counted too.
    const result = spawnSync('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', path.join(group.dir, 'cgroup.procs'), file, ...args], options) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
    return { result, cpuMs: group.usageMs() };
  } finally {
    group.remove();
  }
}

function makeCpuGroup(): { dir: string; usageMs(): number; remove(): void } | undefined {
  for (const [root, usageMs] of [
    ['/sys/fs/cgroup/cpuacct', (dir: string) => Number(fs.readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e6],
    ['/sys/fs/cgroup/unified', (dir: string) => Number(/usage_usec (\d+)/.exec(fs.readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1]) / 1e3],
  ] as const) {
    const dir = path.join(root, `swarm-bench-${process.pid}-${(cpuGroupCounter += 1)}`);
    try {
      fs.mkdirSync(dir);
      usageMs(dir);
    } catch {
      try {
        fs.rmdirSync(dir);
      } catch {
        // never made
      }
      continue;
    }
    // Removable once its processes are gone (a moment after the command exits).
    const remove = (): void => {
      for (let attempt = 0; attempt < 50; attempt += 1) {
        try {
          return fs.rmdirSync(dir);
        } catch {
          spawnSync('sleep', ['0.1']);
        }
      }
      console.log(`(could not remove the cgroup ${dir}: remove it with rmdir)`);
    };
    return { dir, usageMs: () => usageMs(dir), remove };
  }
  return undefined;
}

function swarm(cwd: string, args: string[], input?: string, env: NodeJS.ProcessEnv = process.env, cliFile = cli): { ms: number; cpuMs?: number; stdout: string } {
  const started = nowMs();
  const { result, cpuMs } = inCpuGroup(process.execPath, [cliFile, ...args], { cwd, encoding: 'utf8', input, env, maxBuffer: 64 * 1024 * 1024 });
  const ms = nowMs() - started;
  if (result.status !== 0) throw new Error(`swarm ${args.join(' ')} exited with ${result.status}:\n${result.stderr}${result.stdout}`);
  return { ms, cpuMs, stdout: result.stdout };
}

function chunksOf<T>(items: T[], count: number): T[][] {
  const size = Math.ceil(items.length / count);
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, (index + 1) * size));
}

/**
 * The swarm's executor: eslint over the task's files; okExitCodes "eslint" makes exit 1 (problems
 * left, fixes written) a result; `batch` false runs one eslint per task, "auto" one per batch.
 */
function executorJson(batch: boolean): string {
  return JSON.stringify({ type: 'command', command: `${process.execPath} ${eslint} --fix {files}`, okExitCodes: 'eslint', batch: batch ? 'auto' : false });
}

/** Where the copy of plain ESLint's output sits in a repository (ignored by git, skipped by compareTrees). */
const FIXED_DIR = '.bench-fixed';

/** The executor of the own-cost row: one `cp` of the task's files from plain ESLint's output in `fromDir`. */
function copyExecutorJson(fromDir: string): string {
  return JSON.stringify({ type: 'command', command: `sh -c 'cd "$0" && cp "$@" "$OLDPWD"' "${fromDir}" {files}`, batch: 'auto' });
}

interface SwarmTimes {
  postMs: number;
  runMs: number;
  applyMs: number;
  totalMs: number;
  /** CPU time of post + run + apply and every process they started; undefined without a cgroup. */
  cpuMs?: number;
  runCpuMs?: number;
  applyCpuMs?: number;
  tasks: number;
  done: number;
  /** Runs of eslint (a batch counts once). */
  commands: number;
  changedFiles: number;
}

function runSwarm(dir: string, groups: string[][], label: string, batch: boolean, cliFile = cli, runArgs: string[] = []): SwarmTimes {
  const lines = groups.map((files, index) => JSON.stringify({ title: `eslint --fix ${label} ${index + 1}/${groups.length}`, type: 'fix', files })).join('\n');
  const post = swarm(dir, ['map', `ESLint fix (${label})`, '--jsonl', '-', '--json'], lines, process.env, cliFile);
  const traceFile = process.env.BENCH_TRACE === '1' ? `${dir}.trace.jsonl` : undefined;
  const traced = (phase: string): NodeJS.ProcessEnv => (traceFile ? { ...process.env, SWARM_TRACE: `${traceFile}.${phase}` } : process.env);
  const copyFrom = process.env.BENCH_COPY_FROM;
  const executor = copyFrom === undefined ? executorJson(batch) : copyExecutorJson(copyFrom);
  const run = swarm(dir, ['run', '--agents', String(AGENTS), '--executor', executor, '--until-empty', '--json', ...runArgs], undefined, traced('run'), cliFile);
  const summary = JSON.parse(run.stdout) as { done: number; dead: number; commands: number };
  const apply = swarm(dir, ['apply', '--all-done'], undefined, traced('apply'), cliFile);
  if (traceFile) for (const phase of ['run', 'apply']) printTrace(`${label}: swarm ${phase}`, `${traceFile}.${phase}`);
  const changedFiles = git(dir, ['diff', '--name-only']).split('\n').filter(Boolean).length;
  const cpuMs = post.cpuMs !== undefined && run.cpuMs !== undefined && apply.cpuMs !== undefined ? post.cpuMs + run.cpuMs + apply.cpuMs : undefined;
  return { postMs: post.ms, runMs: run.ms, applyMs: apply.ms, totalMs: post.ms + run.ms + apply.ms, cpuMs, runCpuMs: run.cpuMs, applyCpuMs: apply.cpuMs, tasks: groups.length, done: summary.done, commands: summary.commands, changedFiles };
}

/** Per phase of the traced command: how often, total and mean (the agents' phases overlap in wall time). */
function printTrace(title: string, file: string): void {
  if (!fs.existsSync(file)) return;
  console.log(`\n${title}, per phase (SWARM_TRACE; summed over agents):`);
  for (const row of summarizeTrace(file)) console.log(`  ${row.phase.padEnd(26)} ${String(row.count).padStart(5)} × ${row.meanMs.toFixed(1).padStart(8)} ms = ${seconds(row.totalMs)}`);
  fs.rmSync(file, { force: true });
}

/** Every file of the two trees (outside .git and .swarm) byte for byte; returns the differing paths. */
function compareTrees(a: string, b: string): string[] {
  const list = (dir: string): string[] =>
    fs
      .readdirSync(dir, { recursive: true, withFileTypes: false })
      .map(String)
      .filter((name) => !name.startsWith('.git') && !name.startsWith('.swarm') && !name.startsWith(FIXED_DIR) && fs.statSync(path.join(dir, name)).isFile())
      .sort();
  const left = list(a);
  const right = list(b);
  const differing = new Set([...left.filter((name) => !right.includes(name)), ...right.filter((name) => !left.includes(name))]);
  for (const name of left) {
    if (differing.has(name)) continue;
    if (!fs.readFileSync(path.join(a, name)).equals(fs.readFileSync(path.join(b, name)))) differing.add(name);
  }
  return [...differing].sort();
}

function report(label: string, plain: { ms: number; cpuMs?: number }, times: SwarmTimes, differing: string[]): void {
  const plainMs = plain.ms;
  console.log(`\n${label}: ${times.tasks} tasks, ${times.done} done, ${times.commands} eslint commands, ${times.changedFiles} files changed by apply`);
  console.log(`  swarm map (post):          ${seconds(times.postMs)}`);
  console.log(`  swarm run --agents ${AGENTS}:     ${seconds(times.runMs)}`);
  console.log(`  swarm apply --all-done:    ${seconds(times.applyMs)}  (target < 1 s)`);
  console.log(`  swarm total:               ${seconds(times.totalMs)}`);
  console.log(`  ratio swarm / plain:       ${(times.totalMs / plainMs).toFixed(2)}  (target ≤ 1.25)`);
  if (times.cpuMs !== undefined && plain.cpuMs !== undefined) {
    console.log(`  CPU time, swarm / plain:   ${seconds(times.cpuMs)} / ${seconds(plain.cpuMs)} = ${(times.cpuMs / plain.cpuMs).toFixed(2)}  (run ${seconds(times.runCpuMs ?? 0)}, apply ${seconds(times.applyCpuMs ?? 0)}; all processes, load-independent)`);
  }
  console.log(`  trees identical:           ${differing.length === 0 ? 'yes' : `NO — ${differing.length} files differ: ${differing.slice(0, 5).join(', ')}`}`);
}

/**
 * Plain `eslint --fix` of every file, the baseline of every ratio: PLAIN_RUNS runs, each in a fresh
 * copy, and their median. One run of ESLint alone varied from 4.7 to 6.5 s between two quiet runs of
 * this bench, which moved the ratio more than anything the swarm changed.
 */
function plainBaseline(dir: string, files: string[], cleanup: string[]): { plain: { ms: number; cpuMs?: number }; plainDir: string } {
  const runs: { ms: number; cpuMs?: number }[] = [];
  let plainDir = '';
  for (let run = 0; run < PLAIN_RUNS; run++) {
    plainDir = copyOf(dir, `plain-${run}`);
    cleanup.push(plainDir);
    runs.push(eslintFix(plainDir, files));
  }
  const plain = [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
  const each = runs.length > 1 ? `, the median of ${runs.map((run) => seconds(run.ms)).join(', ')}` : '';
  console.log(`\nplain eslint --fix of every file: ${seconds(plain.ms)}${plain.cpuMs === undefined ? '' : ` (CPU ${seconds(plain.cpuMs)})`}${each}`);
  return { plain, plainDir };
}

/** Plain ESLint's output of `files`, copied into `dir`'s FIXED_DIR (git ignores it), for the own-cost row. */
function placeFixedFiles(plainDir: string, dir: string, files: string[]): void {
  fs.mkdirSync(path.join(dir, FIXED_DIR));
  for (const file of files) fs.copyFileSync(path.join(plainDir, file), path.join(dir, FIXED_DIR, file));
  fs.appendFileSync(path.join(dir, '.git', 'info', 'exclude'), `\n/${FIXED_DIR}/\n`);
}

function withEnv<T>(name: string, value: string, work: () => T): T {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return work();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

function reportOwnCost(label: string, times: SwarmTimes, differing: string[]): void {
  console.log(`\n${label}: ${times.done} of ${times.tasks} tasks done, ${times.changedFiles} files changed by apply`);
  console.log(`  post + run + apply:        ${seconds(times.postMs)} + ${seconds(times.runMs)} + ${seconds(times.applyMs)} = ${seconds(times.totalMs)}`);
  if (times.cpuMs !== undefined) console.log(`  CPU time:                  ${seconds(times.cpuMs)} (run ${seconds(times.runCpuMs ?? 0)}, apply ${seconds(times.applyCpuMs ?? 0)})`);
  console.log(`  trees identical:           ${differing.length === 0 ? 'yes' : `NO — ${differing.length} files differ: ${differing.slice(0, 5).join(', ')}`}`);
}

/**
 * The own-cost row: per build (BENCH_BASE_CLI) and --agents-per-process setting (BENCH_PER_PROCESS,
 * e.g. "1,auto"); with more than one variant, OWN_ROUNDS rounds alternating and each variant's
 * median run (by total) reported with the spread.
 */
function benchOwnCost(dir: string, plainDir: string, files: string[], cleanup: string[]): void {
  const settings = process.env.BENCH_PER_PROCESS?.split(',').map((setting) => setting.trim()).filter(Boolean) ?? [undefined];
  const variants = builds().flatMap((build) => settings.map((setting) => ({ ...build, setting })));
  const rounds = variants.length > 1 ? OWN_ROUNDS : 1;
  const runs = variants.map(() => [] as Array<{ times: SwarmTimes; differing: string[] }>);
  for (let round = 0; round < rounds; round++) {
    variants.forEach(({ cliFile, setting }, index) => {
      const ownDir = copyOf(dir, `own-${round}-${index}`);
      cleanup.push(ownDir);
      placeFixedFiles(plainDir, ownDir, files);
      const runArgs = setting === undefined ? [] : ['--agents-per-process', setting];
      const times = withEnv('BENCH_COPY_FROM', path.join(ownDir, FIXED_DIR), () => runSwarm(ownDir, chunksOf(files, CHUNKS), 'own cost', true, cliFile, runArgs));
      runs[index].push({ times, differing: compareTrees(plainDir, ownDir) });
    });
  }
  variants.forEach(({ name, setting }, index) => {
    const sorted = [...runs[index]].sort((a, b) => a.times.totalMs - b.times.totalMs);
    const median = sorted[Math.floor(sorted.length / 2)];
    const how = `${name}${setting === undefined ? '' : `, --agents-per-process ${setting}`}`;
    const ascending = (values: number[]): string => values.sort((a, b) => a - b).map(seconds).join(', ');
    const spread = rounds > 1 ? `, the run of median total of ${rounds} (each run: ${ascending(sorted.map((run) => run.times.runMs))}; its CPU: ${ascending(sorted.map((run) => run.times.runCpuMs ?? 0))})` : '';
    reportOwnCost(`the swarm's own cost (batched, a command that copies plain ESLint's output)${how}${spread}`, median.times, runs[index].flatMap((run) => run.differing));
  });
}

/** Rounds of the own-cost row when it compares variants (builds or agents-per-process settings). */
const OWN_ROUNDS = 5;

/** This build, after the older one of BENCH_BASE_CLI when it is set. */
function builds(): Array<{ cliFile: string; name: string }> {
  const base = process.env.BENCH_BASE_CLI;
  return base === undefined ? [{ cliFile: cli, name: '' }] : [{ cliFile: base, name: `, older build ${base}` }, { cliFile: cli, name: ', this build' }];
}

/**
 * The swarm rows to run: unbatched and batched (BENCH_ONLY picks one), and with BENCH_BASE_CLI each
 * batched row of this build follows one of the older build, so both see the same load.
 */
function swarmRows(): Array<{ batch: boolean; cliFile: string; name: string }> {
  const only = process.env.BENCH_ONLY;
  const base = process.env.BENCH_BASE_CLI;
  if (base !== undefined && !fs.existsSync(base)) throw new Error(`BENCH_BASE_CLI ${base} does not exist: build the older revision first.`);
  const rows: Array<{ batch: boolean; cliFile: string; name: string }> = [];
  for (const batch of [false, true]) {
    if (only !== undefined && only !== (batch ? 'batched' : 'unbatched')) continue;
    if (base !== undefined && batch) rows.push({ batch, cliFile: base, name: `, older build ${base}` });
    rows.push({ batch, cliFile: cli, name: base !== undefined && batch ? ', this build' : '' });
  }
  return rows;
}

function main(): void {
  for (const needed of [cli, eslint, lodashDir]) {
    if (!fs.existsSync(needed)) throw new Error(`${needed} is missing: run npm ci && npm run build first.`);
  }
  console.log(`Real-repository benchmark: ${os.cpus().length} cores, load ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}, Node ${process.version}`);
  const { dir, files } = makeRepository();
  const cleanup: string[] = [dir];
  try {
    console.log(`Repository: lodash 4.17.21, ${files.length} JavaScript files, ESLint ${eslintVersion()}, one uncommitted edit (${dir})`);
    const { plain, plainDir } = plainBaseline(dir, files, cleanup);

    if (process.env.BENCH_ONLY !== 'own') {
      const byHandDir = copyOf(dir, 'by-hand');
      cleanup.push(byHandDir);
      const byHand = eslintChunksByHand(byHandDir, chunksOf(files, CHUNKS));
      const byHandDiffers = compareTrees(plainDir, byHandDir).length;
      console.log(`the same ${CHUNKS} chunks by hand, ${AGENTS} at a time (xargs -P ${AGENTS}): ${seconds(byHand.ms)}${byHand.cpuMs === undefined ? '' : ` (CPU ${seconds(byHand.cpuMs)})`}${byHandDiffers ? `, ${byHandDiffers} files differ from plain` : ''}`);
    }

    for (const { batch, cliFile, name } of process.env.BENCH_ONLY === 'own' ? [] : swarmRows()) {
      const how = `${batch ? 'batched (one eslint per agent)' : 'unbatched (one eslint per chunk)'}${name}`;
      const chunkDir = copyOf(dir, `${batch ? 'batched' : 'chunks'}${cliFile === cli ? '' : '-base'}`);
      cleanup.push(chunkDir);
      const chunked = runSwarm(chunkDir, chunksOf(files, CHUNKS), 'chunk', batch, cliFile);
      report(`swarm, ${CHUNKS} chunks, ${how}`, plain, chunked, compareTrees(plainDir, chunkDir));
      if (quick) continue;
      // As a user runs it again: the slots of the first run were parked, this run's slots take them over.
      restoreRepository(chunkDir);
      const again = runSwarm(chunkDir, chunksOf(files, CHUNKS), 'chunk again', batch, cliFile);
      report(`swarm, ${CHUNKS} chunks, ${how}, a second run in the same repository`, plain, again, compareTrees(plainDir, chunkDir));
    }

    if (process.env.BENCH_ONLY !== 'unbatched') benchOwnCost(dir, plainDir, files, cleanup);

    if (process.env.BENCH_PER_FILE === '1') {
      const fileDir = copyOf(dir, 'files');
      cleanup.push(fileDir);
      const perFile = runSwarm(fileDir, files.map((file) => [file]), 'file', false);
      report('swarm, one task per file', plain, perFile, compareTrees(plainDir, fileDir));
    }
  } finally {
    if (process.env.BENCH_KEEP === '1') console.log(`\nKept: ${cleanup.join(' ')}`);
    else {
      for (const dir of cleanup) {
        fs.rmSync(dir, { recursive: true, force: true });
        // The parked slot trees of the swarm's runs, in the cache folder of worktrees.
        fs.rmSync(defaultWorktreesDir({ topLevel: dir, commonDir: path.join(dir, '.git') }), { recursive: true, force: true });
      }
    }
  }
}

main();
