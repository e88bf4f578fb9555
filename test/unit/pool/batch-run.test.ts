// Issue 15, batches through real agent processes: `swarm run` + `swarm apply --all-done` with batch
// off and on leave the same tree (run `npm run build` first), and an agent killed with SIGKILL in
// the middle of a batch loses none of its tasks.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, before, test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { defaultWorktreesDir } from '../../../src/core/worktree/location';
import { poolFixture, waitFor, type PoolFixture } from './helpers';

const dist = path.join(__dirname, '..', '..', '..', 'dist');
const cli = path.join(dist, 'cli.js');
const dirs: string[] = [];
let fixture: PoolFixture | undefined;

before(() => {
  assert.ok(fs.existsSync(cli) && fs.existsSync(path.join(dist, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
});
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const FILES = ['src/a.js', 'src/b.js', 'lib/c.js', 'lib/d.js', 'lib/e.js', 'test/f.js', 'test/g.js', 'h.js'];
const FIX = 'sed -i s/var/let/ {files}';

function git(dir: string, ...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  const result = spawnSync('git', args, { cwd: dir, encoding: 'utf8', env });
  assert.equal(result.status, 0, `git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

function swarm(dir: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, '--board', path.join(dir, '.swarm'), ...args], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  const ended = result.error ? `\n[swarm ${args.join(' ')}: ${result.error.message}]` : '';
  return { code: result.status, stdout: result.stdout, stderr: result.stderr + ended };
}

/** A repository with eight files to fix and one uncommitted edit; four chunks of two files on its board. */
function lintWorkspace(): { dir: string; board: FileBoard; ids: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-batch-run-'));
  dirs.push(dir);
  for (const [index, file] of FILES.entries()) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), `var x${index} = ${index};\nvar same = 1;\n`);
  }
  fs.writeFileSync(path.join(dir, '.gitignore'), '.swarm/\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  fs.appendFileSync(path.join(dir, 'lib/c.js'), 'var edited = true;\n'); // the run starts from the working state
  dirs.push(defaultWorktreesDir({ topLevel: fs.realpathSync(dir), commonDir: path.join(fs.realpathSync(dir), '.git') }));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  const chunks = [0, 2, 4, 6].map((start) => FILES.slice(start, start + 2));
  const ids = board.map({ title: 'lint' }, chunks.map((files, index) => ({ title: `chunk ${index + 1}`, files }))).children.map((task) => task.id);
  return { dir, board, ids };
}

/**
 * A map of four one-file tasks (a.txt … d.txt) and a batchable command for them (it reaches the
 * task only through {files}) that waits while the file `hold` exists, then appends "done" to each.
 */
function heldMapOfFour(f: PoolFixture): { hold: string; ids: string[]; command: string } {
  const hold = path.join(f.dir, 'hold');
  fs.writeFileSync(hold, '');
  for (const name of ['a', 'b', 'c', 'd']) fs.writeFileSync(path.join(f.dir, `${name}.txt`), `${name}\n`);
  const ids = f.board.map({ title: 'lint' }, ['a', 'b', 'c', 'd'].map((name) => ({ title: name, files: [`${name}.txt`] }))).children.map((task) => task.id);
  return { hold, ids, command: `while [ -f hold ]; do sleep 0.05; done; for f in {files}; do echo done >> "$f"; done` };
}

function treeOf(dir: string): Record<string, string> {
  return Object.fromEntries(FILES.map((file) => [file, fs.readFileSync(path.join(dir, file), 'utf8')]));
}

/**
 * `swarm log` names the batch of every task that ran in one: a `batched` event after its claim and
 * its `completed` event each name the batch by its first task and size; the first task's `batched`
 * event lists the batch's tasks (with this one in it).
 */
function assertLogNamesBatches(dir: string, ids: string[]): void {
  const shown = swarm(dir, ['log', '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  type Named = { batch?: string; tasks?: number; ids?: string[] };
  const events = shown.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; taskId?: string; detail?: Named });
  for (const id of ids) {
    const named = (type: string, taskId = id): Named | undefined => events.find((event) => event.type === type && event.taskId === taskId)?.detail;
    const batched = named('batched');
    const members = batched?.batch === undefined ? undefined : named('batched', batched.batch)?.ids;
    const seen = JSON.stringify(events.filter((event) => event.taskId === id));
    assert.ok(batched && batched.tasks! > 1 && members !== undefined && members.length === batched.tasks && members[0] === batched.batch && members.includes(id), `task ${id}: its batched event names its batch: ${seen}`);
    assert.deepEqual(named('completed'), { batch: batched.batch, tasks: batched.tasks }, `task ${id}: its completed event names the same batch`);
    const claimedAt = events.findIndex((event) => event.type === 'claimed' && event.taskId === id);
    assert.ok(claimedAt !== -1 && claimedAt < events.findIndex((event) => event.type === 'batched' && event.taskId === id), 'after its claim');
  }
  const text = swarm(dir, ['log']).stdout;
  assert.match(text, new RegExp(`batched +${ids[0]} agent=\\S+ attempt=1 \\{"batch":"t`), text);
}

test('swarm run + apply --all-done: batch off and on give the same per-task patches and the same tree', () => {
  const outcomes: Array<{ tree: Record<string, string>; patches: string[]; summary: string }> = [];
  for (const batch of [false, 'auto']) {
    const { dir, board, ids } = lintWorkspace();
    // Off through the flag, on through executor JSON (the default).
    const executor = batch === false ? ['--exec', FIX, '--batch', 'off'] : ['--executor', JSON.stringify({ type: 'command', command: FIX, batch })];
    const run = swarm(dir, ['run', '--agents', '2', ...executor, '--until-empty']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const patches = ids.map((id) => fs.readFileSync(path.join(board.artifactsDir(id), 'result.patch'), 'utf8'));
    const baseRefs = git(dir, 'for-each-ref', '--format=%(refname)', 'refs/swarm-base/').split('\n').filter(Boolean).sort();
    assert.deepEqual(baseRefs, ids.map((id) => `refs/swarm-base/${id}`).sort(), 'every task with changes keeps its base for review and three-way apply');
    const applied = swarm(dir, ['apply', '--all-done']);
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    outcomes.push({ tree: treeOf(dir), patches, summary: run.stdout });
    if (batch === 'auto') {
      const shown = swarm(dir, ['show', ids[0]]);
      assert.match(shown.stdout, /Ran in one command with a batch of \d tasks: /, 'swarm show says which tasks ran together');
      const log = fs.readFileSync(path.join(board.artifactsDir(ids[0]), 'log.txt'), 'utf8');
      assert.match(log, /\[batch\] one command for a batch of \d tasks/, 'so does the task log');
      assertLogNamesBatches(dir, ids);
    }
    board.close();
  }
  const [alone, together] = outcomes;
  assert.deepEqual(together.patches, alone.patches, 'byte-identical per-task patches');
  assert.deepEqual(together.tree, alone.tree, 'the same tree after apply --all-done');
  assert.equal(alone.tree['lib/c.js'], 'let x2 = 2;\nlet same = 1;\nlet edited = true;\n', 'started from the working state');
  assert.doesNotMatch(alone.summary, /^Commands/m, 'no batch line without batches');
  assert.match(together.summary, /^Commands [23] for 4 task attempts: batches ran several tasks of a map in one command\.$/m, together.summary);
});

test('--batch: a bad value or one a template cannot serve is refused before any task is claimed (exit 2)', () => {
  const { dir, board, ids } = lintWorkspace();
  const bad = swarm(dir, ['run', '--exec', FIX, '--batch', 'yes', '--until-empty']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /batch: must be "auto", false, or the most tasks per command/);
  const unfit = swarm(dir, ['run', '--exec', 'echo {title} {files}', '--batch', '4', '--until-empty']);
  assert.equal(unfit.code, 2, unfit.stderr);
  assert.match(unfit.stderr, /"batch": 4 needs a command that depends on the task only through \{files\}, but it uses \{title\}/);
  assert.ok(ids.every((id) => board.get(id)?.status === 'pending' && board.get(id)?.attempts === 0), 'nothing was claimed');
  board.close();
});

test('an agent killed with SIGKILL in the middle of a batch: every task of the batch comes back and runs', async () => {
  fixture = poolFixture();
  const f = fixture;
  const { hold, ids, command } = heldMapOfFour(f);
  // A lease far longer than the test waits: the tasks must come back when the agent dies, not when their leases lapse.
  const pool = f.makePool({ executor: { type: 'command', command }, maxAgents: 1, leaseMs: 120_000 });
  await pool.start();
  await waitFor('the batch of four to run', () => f.board.stats().counts.running === 4, 60_000);
  const started = f.events.find((event) => event.type === 'agent-started');
  assert.ok(started?.type === 'agent-started' && started.pid !== undefined);
  process.kill(started.pid, 'SIGKILL');
  // The host ends what the dead agent left running (its command) before it reports the exit.
  await waitFor('the agent to be gone', () => f.events.some((event) => event.type === 'agent-exited'), 60_000);
  fs.rmSync(hold);
  await waitFor('every task to be done', () => ids.every((id) => f.board.get(id)?.status === 'done'), 60_000, 50).catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(ids.map((id) => [f.board.get(id)?.status, f.board.get(id)?.claimedBy, f.board.errors(id)]))}\n${f.logs.join('\n')}`);
  });
  for (const name of ['a', 'b', 'c', 'd']) assert.equal(fs.readFileSync(path.join(f.dir, `${name}.txt`), 'utf8'), `${name}\ndone\n`, `${name}.txt fixed once`);
  for (const id of ids) {
    const errors = f.board.errors(id);
    assert.equal(errors.length, 1, `one failed attempt each: ${JSON.stringify(errors)}`);
    assert.match(errors[0].message, /crashed while running the task \(signal SIGKILL\)/);
  }
  assert.equal(ids.filter((id) => /It ran in a batch with task/.test(f.board.errors(id)[0].message)).length, 3, 'the others of the batch say so');
  await pool.stop({ graceMs: 10_000 });
});

test('cancelling one task of a batch through the pool stops the command, keeps the agent, and hands the others back uncounted', async () => {
  fixture = poolFixture();
  const f = fixture;
  const { hold, ids, command } = heldMapOfFour(f);
  const pool = f.makePool({ executor: { type: 'command', command }, maxAgents: 1 });
  await pool.start();
  await waitFor('the batch of four to run', () => f.board.stats().counts.running === 4, 60_000);
  // The last task started is the one the host sees as the agent's current task.
  assert.equal(await pool.cancelTask(ids[3]), true);
  assert.equal(f.board.get(ids[3])?.status, 'cancelled');
  await waitFor('the others to be handed back', () => f.events.filter((event) => event.type === 'task-failed' && /Handed back: task .* of its batch was cancelled/.test(event.message)).length === 3, 30_000);
  fs.rmSync(hold);
  await waitFor('the other three to be done', () => [0, 1, 2].every((index) => f.board.get(ids[index])?.status === 'done'), 60_000, 50);
  for (const index of [0, 1, 2]) assert.deepEqual(f.board.errors(ids[index]), [], 'no failure recorded for the others');
  assert.equal(f.events.filter((event) => event.type === 'agent-started').length, 1, 'the agent was not stopped');
  assert.equal(fs.readFileSync(path.join(f.dir, 'd.txt'), 'utf8'), 'd\n', 'the cancelled task changed nothing');
  await pool.stop({ graceMs: 10_000 });
});

test('the command of a batch gets every task id of the batch in $SWARM_TASK_IDS, space-separated, and is still batched', async () => {
  fixture = poolFixture();
  const f = fixture;
  for (const name of ['a', 'b', 'c', 'd']) fs.writeFileSync(path.join(f.dir, `${name}.txt`), `${name}\n`);
  const ids = f.board.map({ title: 'ids' }, ['a', 'b', 'c', 'd'].map((name) => ({ title: name, files: [`${name}.txt`] }))).children.map((task) => task.id);
  const command = `for f in {files}; do printf '%s\\n' "$SWARM_TASK_IDS" >> "$f"; done`;
  const pool = f.makePool({ executor: { type: 'command', command }, maxAgents: 1 });
  await pool.start();
  await waitFor('every task to be done', () => ids.every((id) => f.board.get(id)?.status === 'done'), 60_000, 50);
  await pool.stop({ graceMs: 10_000 });
  for (const name of ['a', 'b', 'c', 'd']) assert.equal(fs.readFileSync(path.join(f.dir, `${name}.txt`), 'utf8'), `${name}\n${ids.join(' ')}\n`, `${name}.txt: one command for the four tasks, naming them all`);
});
