import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createExecutor } from '../../../src/core/executors';
import { ExecutorError, classifyError } from '../../../src/core/executors/types';
import { allGone, makeContext, makeTask, readPids, tempDir, writeScript } from './helpers';

const NASTY_PROMPT = `it's "quoted" $(touch pwned1) \`touch pwned2\` $HOME ; touch pwned3
second line & | > out * ?`;

test('placeholders expand to safely quoted arguments', async () => {
  const dir = tempDir();
  writeScript(dir, 'args.js', `require('fs').writeFileSync('args.json', JSON.stringify(process.argv.slice(2)));`);
  const task = makeTask({ id: 'task-42', title: "Title with 'quotes'", prompt: NASTY_PROMPT, files: ['src/a b.ts', '-rf.ts', "it's.ts"] });
  const executor = createExecutor({ type: 'command', command: `node args.js {prompt} {id} {title} {file} {dir} -- {files}` });
  await executor.execute(makeContext(dir, task));
  const args = JSON.parse(fs.readFileSync(path.join(dir, 'args.json'), 'utf8'));
  assert.deepEqual(args, [NASTY_PROMPT, 'task-42', "Title with 'quotes'", 'src/a b.ts', dir, '--', 'src/a b.ts', './-rf.ts', "it's.ts"]);
  for (const marker of ['pwned1', 'pwned2', 'pwned3']) assert.equal(fs.existsSync(path.join(dir, marker)), false, `${marker} must not exist`);
});

test('values are also exported as SWARM_* variables for nested shells', async () => {
  const dir = tempDir();
  const task = makeTask({ prompt: NASTY_PROMPT, files: ['a.ts', 'b.ts'] });
  const executor = createExecutor({ type: 'command', command: `sh -c 'printf %s "$SWARM_PROMPT" > prompt.txt; printf %s "$SWARM_FILES" > files.txt'` });
  await executor.execute(makeContext(dir, task));
  assert.equal(fs.readFileSync(path.join(dir, 'prompt.txt'), 'utf8'), NASTY_PROMPT);
  assert.equal(fs.readFileSync(path.join(dir, 'files.txt'), 'utf8'), 'a.ts\nb.ts');
  assert.equal(fs.existsSync(path.join(dir, 'pwned1')), false);
});

test('task files outside the workspace never reach the command line (a task file crafted on the board)', async () => {
  const dir = tempDir();
  for (const file of ['../outside.txt', '/etc/hostname', 'src/../../up.txt']) {
    const executor = createExecutor({ type: 'command', command: 'touch ran.txt; echo {files}' });
    await assert.rejects(executor.execute(makeContext(dir, makeTask({ files: ['ok.ts', file] }))), (error: unknown) => {
      assert.ok(error instanceof ExecutorError);
      assert.equal(error.kind, 'permanent');
      assert.match(error.message, /not a path inside the workspace/);
      return true;
    });
    assert.equal(fs.existsSync(path.join(dir, 'ran.txt')), false, `nothing ran for ${file}`);
  }
});

test('a placeholder inside the template quotes is refused with advice', async () => {
  const dir = tempDir();
  const executor = createExecutor({ type: 'command', command: `sh -c 'echo {prompt}'` });
  await assert.rejects(executor.execute(makeContext(dir)), (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.equal(error.kind, 'permanent');
    assert.match(error.message, /inside quotes/);
    assert.match(error.message, /SWARM_PROMPT/);
    return true;
  });
});

test('output streams to the log and the command runs in cwd', async () => {
  const dir = tempDir();
  const context = makeContext(dir);
  const result = await createExecutor({ type: 'command', command: 'pwd; echo to-stderr >&2' }).execute(context);
  assert.match(context.output(), new RegExp(`${fs.realpathSync(dir)}\\n`));
  assert.match(context.output(), /to-stderr/);
  assert.match(result.summary, /to-stderr/);
});

test('a non-zero exit is a transient failure carrying the output tail', async () => {
  const dir = tempDir();
  const executor = createExecutor({ type: 'command', command: 'echo something broke; exit 3' });
  await assert.rejects(executor.execute(makeContext(dir)), (error: unknown) => {
    const failure = classifyError(error);
    assert.equal(failure.kind, 'transient');
    assert.match(failure.message, /exit 3/);
    assert.match(failure.message, /something broke/);
    return true;
  });
});

test('a command that is not found is a permanent failure', async () => {
  const dir = tempDir();
  const executor = createExecutor({ type: 'command', command: 'definitely-not-a-command-xyz --fix {files}' });
  await assert.rejects(executor.execute(makeContext(dir)), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'permanent');
    assert.match((error as Error).message, /not found/);
    return true;
  });
});

test('a missing working directory is reported without running anything', async () => {
  const executor = createExecutor({ type: 'command', command: 'true' });
  await assert.rejects(executor.execute(makeContext('/nonexistent/worktree')), /does not exist/);
});

test('timeout kills the whole process group, children included', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const executor = createExecutor({
    type: 'command',
    command: `sh -c 'sleep 100 & echo $! >> pids; sleep 100 & echo $! >> pids; echo $$ >> pids; wait'`,
    timeoutMs: 1_000,
    graceMs: 1_000,
  });
  const started = Date.now();
  const run = executor.execute(makeContext(dir));
  const pids = await readPids(path.join(dir, 'pids'), 3);
  assert.equal(allGone(pids), false, 'the children run before the timeout');
  await assert.rejects(run, (error: unknown) => {
    assert.equal(classifyError(error).kind, 'transient');
    assert.match((error as Error).message, /did not finish within 1 s/);
    return true;
  });
  assert.ok(allGone(pids), `all of ${pids} are gone when execute settles`);
  assert.ok(Date.now() - started < 20_000);
});

test('processes that ignore SIGTERM are killed after the grace period', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  // An ignored signal stays ignored across exec, so the sleeps ignore SIGTERM too.
  const executor = createExecutor({ type: 'command', command: `trap '' TERM; sleep 100 & echo $! >> pids; echo $$ >> pids; wait`, timeoutMs: 500, graceMs: 700 });
  const run = executor.execute(makeContext(dir));
  const pids = await readPids(path.join(dir, 'pids'), 2);
  await assert.rejects(run, /did not finish/);
  assert.ok(allGone(pids), 'SIGKILL finished them');
});

test('abort kills the group at once and reports a cancellation', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const context = makeContext(dir);
  const run = createExecutor({ type: 'command', command: `sleep 100 & echo $! >> pids; echo $$ >> pids; echo started; wait` }).execute(context);
  const pids = await readPids(path.join(dir, 'pids'), 2);
  const abortedAt = Date.now();
  context.controller.abort();
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof ExecutorError);
    assert.equal(error.cancelled, true);
    return true;
  });
  assert.ok(Date.now() - abortedAt < 10_000, 'SIGTERM is enough for sleep; no need to wait for the grace period');
  assert.ok(allGone(pids));
});

test('background jobs left behind by a successful command are cleaned up', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  await createExecutor({ type: 'command', command: 'sleep 100 & echo $! > bg.pid; echo done' }).execute(makeContext(dir));
  const [pid] = await readPids(path.join(dir, 'bg.pid'), 1);
  assert.ok(allGone([pid]));
});

test('verify passes after the command', async () => {
  const dir = tempDir();
  const executor = createExecutor({ type: 'command', command: 'echo ok > made.txt', verify: 'test -f made.txt' });
  const context = makeContext(dir);
  await executor.execute(context);
  assert.match(context.output(), /\$ verify: test -f made.txt/);
});

test('a failing verify fails the attempt with the tail of its output', async () => {
  const dir = tempDir();
  const executor = createExecutor({ type: 'command', command: 'true', verify: { command: 'echo 2 tests failed >&2; exit 1', timeoutMs: 30_000 } });
  await assert.rejects(executor.execute(makeContext(dir)), (error: unknown) => {
    assert.equal(classifyError(error).kind, 'transient');
    assert.match((error as Error).message, /verify command failed \(exit 1\)/);
    assert.match((error as Error).message, /2 tests failed/);
    return true;
  });
});

test('the log and the failure show the command that ran: files expanded, a long list shortened, a long prompt cut', async () => {
  const dir = tempDir();
  const few = makeTask({ files: ['a.js', 'b c.js'] });
  const fewContext = makeContext(dir, few);
  await createExecutor({ type: 'command', command: 'true {files}' }).execute(fewContext);
  assert.match(fewContext.output(), /^\$ true a\.js 'b c\.js'$/m);

  const many = makeTask({ files: Array.from({ length: 12 }, (_, index) => `src/f${index}.js`), prompt: `${'word '.repeat(200)}\nsecond line` });
  const manyContext = makeContext(dir, many);
  await assert.rejects(createExecutor({ type: 'command', command: 'echo {prompt} > /dev/null; exit 3 {files}', verify: 'true {file}' }).execute(manyContext), (error: unknown) => {
    const { message } = classifyError(error);
    assert.match(message, /^The command failed \(exit 3\): echo 'word word .*… \(\d+ characters\) > \/dev\/null; exit 3 src\/f0\.js src\/f1\.js src\/f2\.js … and 9 more files$/m);
    assert.doesNotMatch(message, /\{files\}|\{prompt\}|src\/f3\.js/);
    return true;
  });
  assert.match(manyContext.output(), /^\$ echo 'word .*… \(\d+ characters\) > \/dev\/null; exit 3 src\/f0\.js src\/f1\.js src\/f2\.js … and 9 more files$/m);
  assert.doesNotMatch(manyContext.output(), /\{files\}/);
});

test('the verify line of the log shows the verify command that ran, not its template', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'made.txt'), '');
  const context = makeContext(dir, makeTask({ files: ['made.txt'] }));
  await createExecutor({ type: 'command', command: 'true', verify: 'test -f {file}' }).execute(context);
  assert.match(context.output(), /^\$ verify: test -f made\.txt$/m);
});
