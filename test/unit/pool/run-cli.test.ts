// `swarm run` and `swarm agents` end to end through the built CLI (run `npm run build` first).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { cli, cliWorkspaces } from './cli-run';
import { defaultWorktreesDir } from '../../../src/core/worktree/location';
import { HOST_MARK } from '../../../src/core/process/orphans';
import { isAlive, waitFor } from './helpers';

const { workspace, swarm, removeAfter } = cliWorkspaces('swarm-run-cli-');

interface AgentsJson {
  hostPid: number;
  busy: number;
  agents: Array<{ id: string; pid?: number; state: string; currentTask?: { id: string } }>;
}

test('swarm run --until-empty runs every task, prints a line per task and a summary, exits 0', () => {
  const { dir, board } = workspace();
  const tasks = board.postMany(Array.from({ length: 6 }, (_, index) => ({ title: `write ${index}` })));
  const result = swarm(dir, ['run', '--agents', '2', '--exec', 'echo {title} > out-$SWARM_TASK_ID.txt', '--until-empty', '--isolation', 'direct']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.equal(result.stdout.split('\n').filter((line) => line.startsWith('done ')).length, 6);
  assert.match(result.stdout, /Done 6, dead 0, failed attempts 0; wall .*, task time .* \(pool mode\)\.\nParallelism \d+\.\d\d: agents were busy \d+\.\d\d× the wall time/);
  assert.doesNotMatch(result.stdout, /speedup/i, 'no speedup without a baseline');
  for (const task of tasks) {
    assert.equal(board.get(task.id)?.status, 'done');
    assert.equal(fs.readFileSync(path.join(dir, `out-${task.id}.txt`), 'utf8').trim(), task.title);
  }
});

test('the run header says once whether commands are sandboxed; without bwrap, auto says why and required refuses to start', () => {
  const { dir, board } = workspace();
  const task = board.post({ title: 'one' });
  const sandboxed = swarm(dir, ['run', '--exec', 'true', '--until-empty', '--isolation', 'none', '--no-network']);
  assert.equal(sandboxed.code, 0, sandboxed.stderr);
  assert.equal(sandboxed.stdout.split('\n').filter((line) => line.startsWith('Sandbox: ')).length, 1, sandboxed.stdout);
  assert.match(sandboxed.stdout, /^Sandbox: bubblewrap, network off; commands write only their worktree\.$/m);

  const noBwrap = { ...process.env, PATH: fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-no-bwrap-')) };
  removeAfter(noBwrap.PATH);
  assert.equal(board.get(task.id)?.status, 'done');
  const unsandboxedTask = board.post({ title: 'without bwrap' });
  const unsandboxed = swarm(dir, ['run', '--exec', 'true', '--until-empty', '--isolation', 'none'], noBwrap);
  assert.equal(unsandboxed.code, 0, unsandboxed.stderr);
  assert.match(unsandboxed.stdout, /^Sandbox: none \(bubblewrap \(bwrap\) is not installed; install it with: sudo apt-get install bubblewrap.*\)\. Commands can write outside their worktree/m);
  assert.equal(board.get(unsandboxedTask.id)?.status, 'done');

  const second = board.post({ title: 'two' });
  const refused = swarm(dir, ['run', '--exec', 'echo ran > ran.txt', '--until-empty', '--isolation', 'none', '--sandbox', 'required'], noBwrap);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /The sandbox is required .*sudo apt-get install bubblewrap.*Nothing was run/);
  assert.equal(board.get(second.id)?.status, 'pending', 'nothing was claimed');
  assert.equal(fs.existsSync(path.join(dir, 'ran.txt')), false);
});

test('outside git, swarm run refuses to work in the folder unless asked to, and says how', () => {
  const { dir, board } = workspace();
  const task = board.post({ title: 'would edit the folder' });
  const result = swarm(dir, ['run', '--agents', '1', '--exec', 'touch touched.txt', '--until-empty']);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stderr, /not inside a git repository/);
  assert.match(result.stderr, /git init/);
  assert.match(result.stderr, /--isolation direct/);
  assert.equal(board.get(task.id)?.status, 'pending', 'the task is left for a later run');
  assert.equal(fs.existsSync(path.join(dir, 'touched.txt')), false, 'nothing ran in the folder');
});

test('swarm run exits 1 when a task ends in the dead-letter queue', () => {
  const { dir, board } = workspace();
  board.post({ title: 'broken', maxAttempts: 1 });
  board.post({ title: 'fine' });
  const result = swarm(dir, ['run', '--agents', '1', '--exec', 'test {title} = fine', '--until-empty', '--isolation', 'none']);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, /Done 1, dead 1/);
  assert.match(result.stdout, /^failed .*broken/m);
});

test('swarm agents shows a running host; SIGKILL of the host ends its agents and frees their tasks', async () => {
  const { dir, board } = workspace();
  const tasks = board.postMany([{ title: 'long one' }, { title: 'long two' }]);
  const host = spawn(process.execPath, [cli, '--board', path.join(dir, '.swarm'), 'run', '--agents', '2', '--exec', 'sleep 60', '--isolation', 'none', '--lease-ms', '60000'], { cwd: dir, stdio: 'ignore' });
  try {
    const status = await waitFor('two busy agents in swarm agents --json', () => {
      const result = swarm(dir, ['agents', '--json']);
      if (result.code !== 0) return undefined;
      const hosts = JSON.parse(result.stdout) as AgentsJson[];
      return hosts.length === 1 && hosts[0].busy === 2 ? hosts[0] : undefined;
    }, 60_000, 200);
    assert.equal(status.hostPid, host.pid);
    assert.deepEqual(status.agents.map((agent) => agent.currentTask?.id).sort(), tasks.map((task) => task.id).sort());
    const text = swarm(dir, ['agents']).stdout;
    assert.match(text, new RegExp(`Host ${host.pid} · pool mode · none isolation`));
    const agentPids = status.agents.map((agent) => agent.pid!);
    host.kill('SIGKILL');
    await waitFor('the orphaned agents to exit', () => agentPids.every((pid) => !isAlive(pid)), 20_000);
    await waitFor('their tasks to be claimable again', () => board.stats().counts.pending === 2, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(board.stats().counts)} ${JSON.stringify(tasks.map((task) => board.errors(task.id)))}`);
    });
    assert.equal(board.stats().counts.running, 0);
    const after = swarm(dir, ['agents']).stdout;
    assert.match(after, /No pool is running/, 'the dead host is not listed as running');
    assert.match(after, new RegExp(`Host ${host.pid} · gone`), 'the dead host is shown as gone');
  } finally {
    if (host.exitCode === null) host.kill('SIGKILL');
  }
});

test('SIGTERM stops swarm run gracefully: tasks pending again, status file removed, exit 143', async () => {
  const { dir, board } = workspace();
  board.post({ title: 'long' });
  const host = spawn(process.execPath, [cli, '--board', path.join(dir, '.swarm'), 'run', '--agents', '1', '--exec', 'sleep 60', '--isolation', 'none', '--grace-ms', '200'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  host.stdout.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => host.on('exit', (code) => resolve(code)));
  await waitFor('the task to run', () => board.stats().counts.running === 1, 60_000, 100);
  host.kill('SIGTERM');
  const code = await exited;
  assert.equal(code, 143, output); // 128 + SIGTERM, as shells report it
  assert.match(output, /Stopping/);
  assert.equal(board.stats().counts.pending, 1);
  assert.equal(board.stats().counts.running, 0);
  assert.deepEqual(fs.readdirSync(path.join(dir, '.swarm', 'hosts')), []);
});

test('in a git repository: eslint exiting 1 still gives results, a failing task keeps its work visible, nothing piles up after the run', () => {
  const { dir, board } = workspace();
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).stdout.trim();
  for (const name of ['a.js', 'b.js', 'c.js']) fs.writeFileSync(path.join(dir, name), `${name}\n`);
  fs.writeFileSync(path.join(dir, '.gitignore'), '.swarm/\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
  const slots = defaultWorktreesDir({ topLevel: fs.realpathSync(dir), commonDir: path.join(fs.realpathSync(dir), '.git') });
  removeAfter(slots);
  // A stand-in for eslint: writes its fix, exits 1 (problems left) or, for c.js, 2 (it broke).
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bin-'));
  removeAfter(bin);
  fs.writeFileSync(path.join(bin, 'eslint'), '#!/bin/sh\nfor f in "$@"; do case "$f" in -*) ;; *) echo fixed >> "$f";; esac; done\ncase "$*" in *c.js*) exit 2;; esac\nexit 1\n');
  fs.chmodSync(path.join(bin, 'eslint'), 0o755);
  const [a, b, c] = ['a.js', 'b.js', 'c.js'].map((file) => board.post({ title: `lint ${file}`, files: [file], maxAttempts: 1 }));

  const run = swarm(dir, ['run', '--agents', '2', '--exec', 'eslint --fix {files}', '--until-empty'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  const seen = () => `${JSON.stringify([a, b, c].map((task) => board.get(task.id)))}\n${run.stdout}${run.stderr}`;
  assert.equal(run.code, 1, `a dead task makes the run exit 1: ${seen()}`);
  assert.deepEqual([a, b, c].map((task) => board.get(task.id)?.status), ['done', 'done', 'dead'], seen());
  assert.equal(git('worktree', 'list', '--porcelain').split('\n').filter((line) => line.startsWith('worktree ')).length, 1, 'no agent worktree left registered');
  // Only parked trees for the next run may stay (src/core/worktree/parked.ts): no slot folder, state or lock.
  assert.deepEqual(fs.existsSync(slots) ? fs.readdirSync(slots).filter((name) => name !== '.repository' && name !== 'parked') : [], [], 'no slot folder left in the cache');
  const refs = () => git('for-each-ref', '--format=%(refname)', 'refs/swarm/', 'refs/swarm-base/').split('\n').filter(Boolean).sort();
  assert.deepEqual(refs(), [`refs/swarm-base/${a.id}`, `refs/swarm-base/${b.id}`, `refs/swarm/${c.id}`].sort());

  const diff = swarm(dir, ['diff', c.id]);
  assert.match(diff.stderr, /swarm diff .* --partial/);
  const partial = swarm(dir, ['diff', c.id, '--partial']);
  assert.equal(partial.code, 0, partial.stderr);
  assert.match(partial.stdout, /^\+fixed$/m);
  const applied = swarm(dir, ['apply', '--all-done']);
  assert.equal(applied.code, 0, applied.stderr + applied.stdout);
  assert.equal(fs.readFileSync(path.join(dir, 'a.js'), 'utf8'), 'a.js\nfixed\n');
  const pruned = swarm(dir, ['worktrees', '--prune']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.deepEqual(refs(), [`refs/swarm/${c.id}`], 'applied results release their base refs; the dead task keeps its work');
});

test('a template that cannot work refuses the run before any task is claimed, exit 2, with the fix', () => {
  const { dir, board } = workspace();
  const task = board.post({ title: 'one', files: ['a.js'] });
  const cases: Array<[string, RegExp]> = [
    ['node fix.js "{files}"', /puts \{files\} inside quotes.*Remove the quotes/s],
    ['node fix.js {file_list}', /\{file_list\}, which is not a placeholder.*did you mean \{files\}/s],
    ['eslint-not-installed --fix {files}', /runs eslint-not-installed, which is not on PATH.*Install it/s],
  ];
  for (const [command, message] of cases) {
    const result = swarm(dir, ['run', '--exec', command, '--until-empty', '--isolation', 'none']);
    assert.equal(result.code, 2, `${command}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /Nothing was run; no task was claimed\./);
    assert.equal(board.get(task.id)?.status, 'pending');
    assert.equal(board.get(task.id)?.attempts, 0);
    // The agent processes boot while the check runs: the refusal ends them.
    assert.deepEqual(processesOfHost(result.pid), [], `${command}: no agent process of the refused run is left`);
  }
});

/** Live processes a host with this pid started (agents and their commands carry SWARM_HOST=<pid>.<start time>). */
function processesOfHost(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').some((variable) => variable.startsWith(`${HOST_MARK}=${pid}.`));
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('the summary calls busy ÷ wall parallelism; with a baseline it gives the real ratio, slower or faster', () => {
  const { dir, board } = workspace();
  board.postMany([{ title: 'a' }, { title: 'b' }]);
  const slow = swarm(dir, ['run', '--agents', '2', '--exec', 'sleep 0.2', '--until-empty', '--isolation', 'none', '--baseline-ms', '10', '--json']);
  assert.equal(slow.code, 0, slow.stderr);
  const summary = JSON.parse(slow.stdout) as { parallelism: number; baselineMs: number; speedup: number; wallMs: number };
  assert.equal(summary.baselineMs, 10);
  assert.ok(summary.speedup < 0.1, `a 10 ms baseline beats a run of two 200 ms tasks: ${summary.speedup}`);
  assert.ok(Math.abs(summary.speedup - 10 / summary.wallMs) < 0.01);
  board.postMany([{ title: 'c' }, { title: 'd' }]);
  const text = swarm(dir, ['run', '--agents', '2', '--exec', 'sleep 0.2', '--until-empty', '--isolation', 'none', '--baseline-ms', '100000']);
  assert.match(text.stdout, /^Speedup \d+\.\d\d× against the baseline of 1 min 40 s\.$/m);
  board.post({ title: 'e' });
  const slower = swarm(dir, ['run', '--exec', 'true', '--until-empty', '--isolation', 'none', '--baseline-ms', '1']);
  assert.match(slower.stdout, /^Slower than the baseline: \d+\.\d\d× its /m);
});

test('the output and the task log show the command that ran, with a long file list shortened, not the template', () => {
  const { dir, board } = workspace();
  const files = Array.from({ length: 10 }, (_, index) => `f${index}.js`);
  for (const file of files) fs.writeFileSync(path.join(dir, file), '1;\n');
  const task = board.post({ title: 'ten files', files, maxAttempts: 1 });
  const result = swarm(dir, ['run', '--exec', 'wc -l {files} > /dev/null; exit 3', '--until-empty', '--isolation', 'none']);
  assert.equal(result.code, 1, result.stderr + result.stdout);
  const shown = 'wc -l f0.js f1.js f2.js … and 7 more files > /dev/null; exit 3';
  assert.ok(result.stdout.includes(`The command failed (exit 3): ${shown}`), result.stdout);
  assert.doesNotMatch(result.stdout, /\{files\}/);
  const log = fs.readFileSync(path.join(board.artifactsDir(task.id), 'log.txt'), 'utf8');
  assert.ok(log.includes(`$ ${shown}\n`), log);
  assert.doesNotMatch(log, /\{files\}/);
});

test('a verify command that already fails on the working state is reported once, before any task is claimed; fixed (uncommitted), the run goes on', () => {
  const { dir, board } = workspace();
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
  fs.writeFileSync(path.join(dir, '.gitignore'), '.swarm/\n');
  fs.writeFileSync(path.join(dir, 'sum.js'), 'module.exports = (a, b) => a - b;\n');
  fs.writeFileSync(path.join(dir, 'test.js'), "const sum = require('./sum');\nif (sum(2, 2) !== 4) { console.error('FAIL sum(2, 2) gave ' + sum(2, 2)); process.exit(1); }\nconsole.log('ok');\n");
  assert.equal(git('init', '-q').status, 0);
  git('add', '.');
  assert.equal(git('commit', '-qm', 'a failing test').status, 0);
  const tasks = board.postMany(Array.from({ length: 3 }, (_, index) => ({ title: `task ${index}` })));
  const verify = `${JSON.stringify(process.execPath)} test.js`;
  const failing = swarm(dir, ['run', '--agents', '2', '--exec', 'echo ran >> ran.txt', '--verify', verify, '--until-empty']);
  assert.equal(failing.code, 1, failing.stdout + failing.stderr);
  const said = failing.stderr.split('The verify command fails on your current working state before any change').length - 1;
  assert.equal(said, 1, `said once: ${failing.stderr}`);
  assert.match(failing.stderr, /FAIL sum\(2, 2\) gave 0/);
  assert.match(failing.stderr, /or drop --verify; no task was claimed/);
  assert.doesNotMatch(failing.stdout, /^failed /m);
  for (const task of tasks) assert.deepEqual([board.get(task.id)?.status, board.get(task.id)?.attempts], ['pending', 0]);
  assert.equal(fs.existsSync(path.join(dir, 'ran.txt')), false);

  // The check runs on the working state, uncommitted edits included.
  fs.writeFileSync(path.join(dir, 'sum.js'), 'module.exports = (a, b) => a + b;\n');
  const fixed = swarm(dir, ['run', '--agents', '2', '--exec', 'echo ran >> ran.txt', '--verify', verify, '--until-empty']);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  for (const task of tasks) assert.equal(board.get(task.id)?.status, 'done');
});
