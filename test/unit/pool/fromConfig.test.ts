// The pool is assembled from configuration in one place (src/core/pool/fromConfig.ts), for the CLI
// and the extension alike: every piece swarm.config.json names reaches the pool's options, a pool
// built from it runs tasks the way the file says (executor, top-level verify, worktree include list
// and setup command, sandbox, pool size) with the host's environment and hooks, and the
// executor is chosen and given its verify by one rule with one explicit host difference.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { resolveEffectiveConfig, type SwarmConfigInput } from '../../../src/core/config';
import { buildPool, ExecutorChoiceError, poolOptionsFromConfig, resolveExecutorChoice, type PoolEvent, type TaskResult } from '../../../src/core/pool';
import { makeRepo } from '../worktree/helpers';

function effective(file: SwarmConfigInput, hostLayer?: SwarmConfigInput): ReturnType<typeof resolveEffectiveConfig> {
  const resolved = resolveEffectiveConfig({ file, ...(hostLayer && { flags: hostLayer }) });
  assert.deepEqual(resolved.errors, []);
  return resolved;
}

test('every piece the configuration names reaches the pool options; host hooks and run choices pass through', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-fromconfig-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  try {
    const { config } = effective({
      executors: { fast: { type: 'command', command: 'echo fast' }, own: { type: 'command', command: 'echo own', verify: 'true' } },
      defaultExecutor: 'fast',
      verify: 'npm test',
      pool: { minAgents: 1, maxAgents: 3, idleTimeoutMs: 7_000, leaseMs: 9_000, agentMemoryMB: 2, totalMemoryMB: 4, maxCpuPercent: 150 },
      sandbox: { mode: 'off', network: false, allowWrite: ['/tmp/x'] },
      rateLimits: { 'openai:https://api.example': { concurrency: 2, requestsPerMinute: 30 } },
    });
    const log = (): void => undefined;
    const executor = resolveExecutorChoice({ config, origins: {} })!;
    const options = poolOptionsFromConfig(config, executor, { board, workspaceRoot: dir, env: { A: '1' }, log }, { isolation: 'direct', mode: 'sequential', untilEmpty: true });
    assert.equal(options.board, board);
    assert.equal(options.workspaceRoot, dir);
    assert.deepEqual(options.executor, executor);
    assert.equal(options.minAgents, 1);
    assert.equal(options.maxAgents, 3);
    assert.equal(options.idleTimeoutMs, 7_000);
    assert.equal(options.leaseMs, 9_000);
    assert.deepEqual(options.limits, { agentMemoryBytes: 2 * 1024 * 1024, totalMemoryBytes: 4 * 1024 * 1024, maxCpuPercent: 150 });
    assert.deepEqual(options.sandbox, { mode: 'off', network: false, allowWrite: ['/tmp/x'] });
    assert.deepEqual(options.rateLimits, { 'openai:https://api.example': { concurrency: 2, intervalCap: 30, intervalMs: 60_000 } });
    assert.deepEqual(Object.keys(options.namedExecutors ?? {}).sort(), ['fast', 'own']);
    assert.equal((options.namedExecutors?.fast as { verify?: unknown }).verify, 'npm test', 'the top-level verify applies to a named executor without its own');
    assert.equal((options.namedExecutors?.own as { verify?: unknown }).verify, 'true', 'a named executor keeps its own verify');
    assert.equal(options.isolation, 'direct', 'no worktree settings: the choice goes to the pool as a name');
    assert.equal(options.mode, 'sequential');
    assert.equal(options.untilEmpty, true);
    assert.deepEqual(options.env, { A: '1' });
    assert.equal(options.log, log);

    const bare = poolOptionsFromConfig({}, executor, { board, workspaceRoot: dir });
    for (const key of ['minAgents', 'maxAgents', 'limits', 'mode', 'untilEmpty', 'env', 'log', 'hostModels', 'isolation'] as const) {
      assert.equal(bare[key], undefined, `${key}: the pool's default when neither the configuration nor the host sets it`);
    }
    // Outside git, worktree settings do not override the pool's own refusal to work in the folder.
    const outsideGit = poolOptionsFromConfig({ worktrees: { include: ['node_modules'] } }, executor, { board, workspaceRoot: dir });
    assert.equal(outsideGit.isolation, undefined);
  } finally {
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a pool built from the configuration runs tasks as the file says, with the host\'s environment and status sink', async () => {
  const repo = makeRepo({ 'README.md': '# demo\n', '.gitignore': '.env.local\nsetup-ran\n' });
  fs.writeFileSync(path.join(repo.root, '.env.local'), 'secret\n'); // ignored: reaches a worktree only through "include"
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  try {
    const { config } = effective({
      executors: { writer: { type: 'command', command: 'echo "$GREETING $(cat .env.local) $(test -e setup-ran && echo setup)" > out.txt' } },
      defaultExecutor: 'writer',
      verify: 'touch verified-$SWARM_TASK_ID',
      worktrees: { include: ['.env.local'], setupCommand: 'touch setup-ran' },
      pool: { maxAgents: 3 },
      sandbox: 'off',
    });
    const executor = resolveExecutorChoice({ config, origins: {} })!;
    const task = board.post({ title: 'write' });
    const events: PoolEvent[] = [];
    const worktreeLines: string[] = [];
    const pool = buildPool(
      config,
      executor,
      { board, workspaceRoot: repo.root, env: { GREETING: 'hi' }, onEvent: (event) => events.push(event), worktreeLog: (line) => worktreeLines.push(line) },
      // In-host (this test runs without a built agent): the same worker, isolation and executor as an agent's.
      { mode: 'sequential', untilEmpty: true },
    );
    assert.equal(pool.stats().maxAgents, 3, 'pool.maxAgents');
    await pool.start();
    await pool.whenDone();
    const done = board.get(task.id)!;
    assert.equal(done.status, 'done', JSON.stringify(board.errors(task.id)));
    const result = done.result as TaskResult;
    const patch = fs.readFileSync(result.patchFile!, 'utf8');
    assert.match(patch, /\+hi secret setup/, 'the host env, the include list and the setup command reached the attempt');
    assert.deepEqual(result.files.map((file) => file.path).sort(), ['out.txt', `verified-${task.id}`], 'the top-level verify ran after the executor');
    const sandbox = events.find((event) => event.type === 'sandbox');
    assert.ok(sandbox?.type === 'sandbox' && sandbox.status.mode === 'off', 'the sandbox mode of the file');
    assert.ok(events.some((event) => event.type === 'task-finished' && event.taskId === task.id), 'the status sink saw the task finish');
    assert.ok(worktreeLines.length > 0, 'the worktree isolation of the file logs through the host\'s worktree log');
    assert.equal(fs.existsSync(path.join(repo.root, 'out.txt')), false, 'the user\'s folder is untouched');
  } finally {
    board.close();
    repo.cleanup();
  }
});

test('the executor: the request over the file, the top-level verify for an executor without its own, a host verify over both', () => {
  const file: SwarmConfigInput = {
    executors: { plain: { type: 'command', command: 'echo plain' }, checked: { type: 'command', command: 'echo checked', verify: 'own-check' } },
    defaultExecutor: 'plain',
    verify: 'file-check',
  };
  const verifyOf = (request: Parameters<typeof resolveExecutorChoice>[1], hostLayer?: SwarmConfigInput): unknown => resolveExecutorChoice(effective(file, hostLayer), request)?.verify;
  assert.equal(resolveExecutorChoice(effective(file))?.type, 'command');
  assert.equal(verifyOf({}), 'file-check', 'the default entry gets the top-level verify');
  assert.equal(verifyOf({ executor: 'checked' }), 'own-check', 'an entry keeps its own verify over the file\'s');
  assert.equal(verifyOf({ executor: 'checked' }, { verify: 'host-check' }), 'host-check', 'a host verify beats an entry\'s own');
  assert.equal(verifyOf({ executor: 'command:echo x' }), 'file-check', 'a shorthand gets the top-level verify');
  assert.equal(verifyOf({ executor: { type: 'command', command: 'x' } }, { verify: 'host-check' }), 'host-check');
  const ownObject = { type: 'command', command: 'x', verify: 'object-check' };
  assert.equal(verifyOf({ executor: ownObject, requestKeepsOwnVerify: true }, { verify: 'host-check' }), 'object-check', 'the extension: an executor object in the setting keeps its verify');
  assert.equal(verifyOf({ executor: ownObject, requestKeepsOwnVerify: false }, { verify: 'host-check' }), 'host-check', 'the CLI: --verify beats every verify');
  assert.equal(resolveExecutorChoice(effective({}), {}), undefined, 'nothing chosen: the host decides');
  assert.throws(() => resolveExecutorChoice(effective(file), { executor: 'no-such-thing' }), (error: unknown) => error instanceof ExecutorChoiceError && error.source === 'request' && /Unknown executor "no-such-thing"/.test(error.message));
});
