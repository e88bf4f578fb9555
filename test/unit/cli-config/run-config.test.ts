// `swarm run` reads swarm.config.json at the workspace root; flags override it; an invalid file
// stops the run with the file, the JSON path and what was expected (exit 2). Spawns the built CLI
// (run `npm run build` first) on temp workspaces.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, before, test } from 'node:test';
import { FileBoard } from '../../../src/core/board';
import { readResourceLog } from '../../../src/core/metrics';

const dist = path.join(__dirname, '..', '..', '..', 'dist');
const cli = path.join(dist, 'cli.js');
const dirs: string[] = [];

before(() => {
  assert.ok(fs.existsSync(cli) && fs.existsSync(path.join(dist, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
});
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function workspace(config?: unknown): { dir: string; board: FileBoard } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-cli-config-')));
  dirs.push(dir);
  if (config !== undefined) writeConfig(dir, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return { dir, board: FileBoard.open({ root: path.join(dir, '.swarm'), durable: false }) };
}

function writeConfig(dir: string, text: string): void {
  fs.writeFileSync(path.join(dir, 'swarm.config.json'), text);
}

/** Runs `swarm run` in `dir` (cwd = workspace, so the board's parent folder is found as it is by users). */
function swarmRun(dir: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'run', '--until-empty', ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, SWARM_BOARD: '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function marker(dir: string, taskId: string): string {
  return fs.readFileSync(path.join(dir, `out-${taskId}.txt`), 'utf8').trim();
}

const twoExecutors = {
  executors: {
    fromFile: { type: 'command', command: 'echo file > out-$SWARM_TASK_ID.txt' },
    other: { type: 'command', command: 'echo other > out-$SWARM_TASK_ID.txt' },
  },
  defaultExecutor: 'fromFile',
};

test('the executor named by defaultExecutor in swarm.config.json runs the tasks; --verbose names the file in force', () => {
  const { dir, board } = workspace(twoExecutors);
  const task = board.post({ title: 'one' });
  const result = swarmRun(dir, ['--isolation', 'direct', '--verbose']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.equal(board.get(task.id)?.status, 'done');
  assert.equal(marker(dir, task.id), 'file');
  assert.ok(result.stdout.includes(`Config: ${path.join(dir, 'swarm.config.json')}`), result.stdout);
  assert.match(result.stdout, /Executor: swarm\.config\.json \(fromFile\)/);
});

test('flags override the file: --exec replaces the executor, --executor picks another entry of the file', () => {
  const { dir, board } = workspace(twoExecutors);
  const first = board.post({ title: 'by exec flag' });
  const byExec = swarmRun(dir, ['--isolation', 'direct', '--exec', 'echo flag > out-$SWARM_TASK_ID.txt']);
  assert.equal(byExec.code, 0, byExec.stderr + byExec.stdout);
  assert.equal(marker(dir, first.id), 'flag');

  const second = board.post({ title: 'by executor flag' });
  const byName = swarmRun(dir, ['--isolation', 'direct', '--executor', 'other']);
  assert.equal(byName.code, 0, byName.stderr + byName.stdout);
  assert.equal(marker(dir, second.id), 'other');
});

test('pool limits come from the file and a flag overrides one field', () => {
  const { dir, board } = workspace({ ...twoExecutors, pool: { maxAgents: 1, idleTimeoutMs: 5_000 } });
  board.post({ title: 'a' });
  const fromFile = swarmRun(dir, ['--isolation', 'none', '--verbose']);
  assert.equal(fromFile.code, 0, fromFile.stderr + fromFile.stdout);
  assert.match(fromFile.stdout, /up to 1 agents/);
  assert.match(fromFile.stdout, /pool\.maxAgents \(file\)/);

  board.post({ title: 'b' });
  const overridden = swarmRun(dir, ['--isolation', 'none', '--verbose', '--agents', '3']);
  assert.equal(overridden.code, 0, overridden.stderr + overridden.stdout);
  assert.match(overridden.stdout, /up to 3 agents/);
  assert.match(overridden.stdout, /pool\.maxAgents \(flag\)/);
  assert.match(overridden.stdout, /pool\.idleTimeoutMs \(file\)/);
});

test('the file\'s verify command runs after each task; --verify overrides it', () => {
  const { dir, board } = workspace({ ...twoExecutors, verify: 'test "$(cat out-$SWARM_TASK_ID.txt)" = never' });
  const failing = board.post({ title: 'verify fails', maxAttempts: 1 });
  const failed = swarmRun(dir, ['--isolation', 'direct']);
  assert.equal(failed.code, 1, failed.stderr + failed.stdout);
  assert.equal(board.get(failing.id)?.status, 'dead', 'the verify command from the file failed the task');

  const passing = board.post({ title: 'verify passes', maxAttempts: 1 });
  const passed = swarmRun(dir, ['--isolation', 'direct', '--verify', 'test "$(cat out-$SWARM_TASK_ID.txt)" = file']);
  assert.equal(passed.code, 0, passed.stderr + passed.stdout);
  assert.equal(board.get(passing.id)?.status, 'done');
});

test('a schema error stops the run with exit 2: file, JSON path and what was expected; the board is untouched', () => {
  const { dir, board } = workspace({ ...twoExecutors, pool: { maxAgents: 'four' } });
  const task = board.post({ title: 'must stay pending' });
  const result = swarmRun(dir, ['--isolation', 'direct']);
  assert.equal(result.code, 2, result.stderr + result.stdout);
  const file = path.join(dir, 'swarm.config.json');
  assert.ok(result.stderr.includes(`${file}:`), result.stderr);
  assert.match(result.stderr, /pool\.maxAgents: expected number, found string/);
  assert.match(result.stderr, /swarm\.config\.json:\d+:\d+: pool\.maxAgents/, 'line and column of the field');
  assert.equal(board.get(task.id)?.status, 'pending');
  assert.equal(fs.existsSync(path.join(dir, `out-${task.id}.txt`)), false);
});

test('a syntax error and an unknown executor name are precise too', () => {
  const { dir, board } = workspace('{\n  "defaultExecutor": "fromFile",\n  "executors": { \n}}\n,');
  board.post({ title: 'x' });
  const syntax = swarmRun(dir, ['--isolation', 'direct']);
  assert.equal(syntax.code, 2, syntax.stderr);
  assert.match(syntax.stderr, /swarm\.config\.json:\d+:\d+: the file is not valid JSON/);

  writeConfig(dir, JSON.stringify({ ...twoExecutors, defaultExecutor: 'missing' }));
  const unknown = swarmRun(dir, ['--isolation', 'direct']);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /defaultExecutor: "missing" is neither an entry in "executors" nor an agent CLI; expected one of: fromFile, other/);
});

test('a flag that breaks the merged configuration is a usage error naming the flag', () => {
  const { dir, board } = workspace({ ...twoExecutors, pool: { minAgents: 3 } });
  board.post({ title: 'x' });
  const result = swarmRun(dir, ['--isolation', 'direct', '--agents', '2']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /pool\.minAgents: must not exceed pool\.maxAgents \(2\)/);
});

test('worktrees get the file\'s include list and setup command; the run records resource figures for swarm report', () => {
  const { dir, board } = workspace();
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
  git('init', '-q');
  git('config', 'user.email', 'test@example.com');
  git('config', 'user.name', 'Test');
  fs.writeFileSync(path.join(dir, '.gitignore'), 'local.env\n.swarm/\nswarm.config.json\n');
  fs.writeFileSync(path.join(dir, 'local.env'), 'SECRET_FLAVOUR=mint\n');
  git('add', '.gitignore');
  git('commit', '-q', '-m', 'init');
  const seen = path.join(dirs[0], '..', `seen-${path.basename(dir)}.txt`);
  dirs.push(seen);
  writeConfig(
    dir,
    JSON.stringify({
      executors: { peek: { type: 'command', command: `test -f setup-ran.txt && cat local.env > '${seen}' && sleep 1.5` } },
      worktrees: { include: ['local.env'], setupCommand: 'touch setup-ran.txt' },
    }),
  );
  const task = board.post({ title: 'look around' });
  // The command reports to a file outside its worktree, which only an unsandboxed run can write.
  const result = swarmRun(dir, ['--agents', '1', '--sandbox', 'off']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.equal(board.get(task.id)?.status, 'done');
  assert.equal(fs.readFileSync(seen, 'utf8'), 'SECRET_FLAVOUR=mint\n', 'the ignored file was made available in the worktree');
  assert.equal(fs.existsSync(path.join(dir, 'setup-ran.txt')), false, 'the setup command ran in the worktree, not in the workspace');
  assert.ok(readResourceLog(board.root).length > 0, 'swarm run wrote resource samples to the board');
});
