// On a real repository: a public codebase nobody here wrote, fixed by ESLint, once by hand and once
// by the swarm, timed side by side in one run and compared byte for byte.
//
//   npm run build && npm run bench:real          (node --import tsx bench/real.ts)
//   BENCH_PER_FILE=1 npm run bench:real          also one task per file (slow: hundreds of tasks)
//   BENCH_KEEP=1 npm run bench:real              keep the temporary repositories for a look
//   BENCH_TRACE=1 npm run bench:real             also where the run's time went, per phase (SWARM_TRACE)
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

const root = path.resolve(__dirname, '..');

/** The installed ESLint's version, read from its package.json (the bench runs that copy). */
function eslintVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'eslint', 'package.json'), 'utf8')) as { version: string }).version;
}

const cli = path.join(root, 'dist', 'cli.js');
const eslint = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
const lodashDir = path.join(root, 'node_modules', 'lodash');
const CHUNKS = 8;
const AGENTS = 2;

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
  // The user's uncommitted edit: the swarm's worktrees must start from it, and apply must keep it.
  fs.appendFileSync(path.join(dir, 'chunk.js'), '\nvar uncommittedNote = "an edit the user has not committed";\n');
  return { dir, files };
}

function copyOf(dir: string, suffix: string): string {
  const copy = `${dir}-${suffix}`;
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/** ESLint exits 1 when problems it cannot fix remain; its fixes are written either way. */
function eslintFix(cwd: string, files: string[]): number {
  const started = nowMs();
  const result = spawnSync(process.execPath, [eslint, '--fix', ...files], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0 && result.status !== 1) throw new Error(`eslint failed (${result.status}): ${result.stderr}`);
  return nowMs() - started;
}

function swarm(cwd: string, args: string[], input?: string, env: NodeJS.ProcessEnv = process.env): { ms: number; stdout: string } {
  const started = nowMs();
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', input, env, maxBuffer: 64 * 1024 * 1024 });
  const ms = nowMs() - started;
  if (result.status !== 0) throw new Error(`swarm ${args.join(' ')} exited with ${result.status}:\n${result.stderr}${result.stdout}`);
  return { ms, stdout: result.stdout };
}

function chunksOf<T>(items: T[], count: number): T[][] {
  const size = Math.ceil(items.length / count);
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, (index + 1) * size));
}

/** The eslint command for the swarm's agents; `--ok-exit-codes eslint` makes exit 1 (problems left, fixes written) a result. */
function executorCommand(): string {
  return `${process.execPath} ${eslint} --fix {files}`;
}

interface SwarmTimes {
  postMs: number;
  runMs: number;
  applyMs: number;
  totalMs: number;
  tasks: number;
  done: number;
  changedFiles: number;
}

function runSwarm(dir: string, groups: string[][], label: string): SwarmTimes {
  const lines = groups.map((files, index) => JSON.stringify({ title: `eslint --fix ${label} ${index + 1}/${groups.length}`, type: 'fix', files })).join('\n');
  const post = swarm(dir, ['map', `ESLint fix (${label})`, '--jsonl', '-', '--json'], lines);
  const traceFile = process.env.BENCH_TRACE === '1' ? `${dir}.trace.jsonl` : undefined;
  const traced = (phase: string): NodeJS.ProcessEnv => (traceFile ? { ...process.env, SWARM_TRACE: `${traceFile}.${phase}` } : process.env);
  const run = swarm(dir, ['run', '--agents', String(AGENTS), '--exec', executorCommand(), '--ok-exit-codes', 'eslint', '--until-empty', '--json'], undefined, traced('run'));
  const summary = JSON.parse(run.stdout) as { done: number; dead: number };
  const apply = swarm(dir, ['apply', '--all-done'], undefined, traced('apply'));
  if (traceFile) for (const phase of ['run', 'apply']) printTrace(`${label}: swarm ${phase}`, `${traceFile}.${phase}`);
  const changedFiles = git(dir, ['diff', '--name-only']).split('\n').filter(Boolean).length;
  return { postMs: post.ms, runMs: run.ms, applyMs: apply.ms, totalMs: post.ms + run.ms + apply.ms, tasks: groups.length, done: summary.done, changedFiles };
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
      .filter((name) => !name.startsWith('.git') && !name.startsWith('.swarm') && fs.statSync(path.join(dir, name)).isFile())
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

function report(label: string, plainMs: number, times: SwarmTimes, differing: string[]): void {
  console.log(`\n${label}: ${times.tasks} tasks, ${times.done} done, ${times.changedFiles} files changed by apply`);
  console.log(`  swarm map (post):          ${seconds(times.postMs)}`);
  console.log(`  swarm run --agents ${AGENTS}:     ${seconds(times.runMs)}`);
  console.log(`  swarm apply --all-done:    ${seconds(times.applyMs)}  (target < 1 s)`);
  console.log(`  swarm total:               ${seconds(times.totalMs)}`);
  console.log(`  ratio swarm / plain:       ${(times.totalMs / plainMs).toFixed(2)}  (target ≤ 1.25)`);
  console.log(`  trees identical:           ${differing.length === 0 ? 'yes' : `NO — ${differing.length} files differ: ${differing.slice(0, 5).join(', ')}`}`);
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
    const plainDir = copyOf(dir, 'plain');
    cleanup.push(plainDir);
    const plainMs = eslintFix(plainDir, files);
    console.log(`\nplain eslint --fix of every file: ${seconds(plainMs)}`);

    const chunkDir = copyOf(dir, 'chunks');
    cleanup.push(chunkDir);
    const chunked = runSwarm(chunkDir, chunksOf(files, CHUNKS), 'chunk');
    report(`swarm, ${CHUNKS} chunks`, plainMs, chunked, compareTrees(plainDir, chunkDir));

    if (process.env.BENCH_PER_FILE === '1') {
      const fileDir = copyOf(dir, 'files');
      cleanup.push(fileDir);
      const perFile = runSwarm(fileDir, files.map((file) => [file]), 'file');
      report('swarm, one task per file', plainMs, perFile, compareTrees(plainDir, fileDir));
    }
  } finally {
    if (process.env.BENCH_KEEP === '1') console.log(`\nKept: ${cleanup.join(' ')}`);
    else for (const dir of cleanup) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
