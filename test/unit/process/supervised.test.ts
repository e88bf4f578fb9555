import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { forkSupervised, isProcessGroupAlive, spawnSupervised } from '../../../src/core/process';
import { LineCollector, ProcessJanitor, isLinux, pidRuns, startShell, waitFor } from './helpers';

const janitor = new ProcessJanitor();
afterEach(() => janitor.cleanUp());

function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

describe('spawnSupervised', () => {
  it('delivers stdout and stderr line by line, with a merged environment, and the exit code', async () => {
    const out = new LineCollector();
    const err = new LineCollector();
    const proc = await spawnSupervised('sh', ['-c', 'echo "$SWARM_TEST_VAR"; echo "${HOME-unset}"; printf "a\\nb"; echo oops >&2; exit 3'], {
      env: { SWARM_TEST_VAR: 'from-test', HOME: undefined },
      onStdoutLine: out.push,
      onStderrLine: err.push,
    });
    janitor.watchGroup(proc.pid);
    assert.deepEqual(await proc.exited, { code: 3, signal: null });
    await proc.closed;
    // PATH came from the parent (sh found), the override was added, HOME was removed.
    assert.deepEqual(out.lines, ['from-test', 'unset', 'a', 'b']);
    assert.deepEqual(err.lines, ['oops']);
    assert.deepEqual(proc.exitInfo, { code: 3, signal: null });
  });

  it('rejects with the system error when the command does not exist', async () => {
    await assert.rejects(spawnSupervised('swarm-no-such-command-xyz', []), { code: 'ENOENT' });
  });

  it('starts the child as the leader of its own process group', { skip: !isLinux }, async () => {
    const { proc } = await startShell('sleep 100', janitor);
    assert.equal(pgidOf(proc.pid), proc.pid);
    assert.notEqual(pgidOf(proc.pid), pgidOf(process.pid));
    await proc.stop({ graceMs: 1000 });
  });

  it('stop() ends the whole process group and resolves only when every pid is gone', async () => {
    const { proc, out } = await startShell('sleep 100 & echo $!; sleep 100 & echo $!; wait', janitor);
    const sleeperPids = (await out.waitForLines(2)).map(Number);
    assert.ok(sleeperPids.every(pidRuns), 'sleepers run before stop');

    const result = await proc.stop({ graceMs: 3000 });

    assert.equal(result.escalated, false, 'sh and sleep end on SIGTERM');
    for (const pid of [proc.pid, ...sleeperPids]) assert.equal(pidRuns(pid), false, `pid ${pid} is gone when stop() resolves`);
    assert.equal(isProcessGroupAlive(proc.pid), false);
    assert.equal(result.exit.signal, 'SIGTERM');
  });

  it('SIGKILLs children that ignore SIGTERM once the grace period is over', async () => {
    // An ignored signal stays ignored across fork and exec, so the sleeper ignores SIGTERM too.
    const { proc, out } = await startShell('trap "" TERM; sleep 100 & echo $!; echo ready; wait; sleep 100', janitor);
    const [sleeper] = (await out.waitForLines(2)).map(Number);
    const startedAt = Date.now();

    const result = await proc.stop({ graceMs: 600 });

    const elapsedMs = Date.now() - startedAt;
    assert.equal(result.escalated, true);
    assert.ok(elapsedMs >= 550, `waited for the grace period (${elapsedMs} ms)`);
    assert.equal(pidRuns(proc.pid), false);
    assert.equal(pidRuns(sleeper as number), false);
    assert.equal(result.exit.signal, 'SIGKILL');
  });

  it('stop() also ends a descendant that moved to a session of its own', { skip: !isLinux }, async () => {
    const { proc, out } = await startShell('setsid sleep 100 & echo $!; wait', janitor);
    const [escaped] = (await out.waitForLines(1)).map(Number) as [number];
    janitor.watchPids(escaped);
    await waitFor(() => pgidOf(escaped) === escaped, 5000, 'setsid to take effect');

    await proc.stop({ graceMs: 2000 });

    assert.equal(pidRuns(escaped), false, 'the setsid child is gone too');
  });

  it('stop() after the leader exited still ends the orphans it left in its group', async () => {
    const { proc, out } = await startShell('sleep 100 & echo $!', janitor);
    const [orphan] = (await out.waitForLines(1)).map(Number) as [number];
    await proc.exited;
    assert.equal(pidRuns(orphan), true, 'the orphan outlives its shell');

    await proc.stop({ graceMs: 2000 });

    assert.equal(pidRuns(orphan), false);
  });

  it('stop() can be called twice, and a second call without grace does not wait for the first', async () => {
    const { proc, out } = await startShell('trap "" TERM; echo ready; while :; do sleep 1; done', janitor);
    await out.waitForLines(1);
    const startedAt = Date.now();
    const polite = proc.stop({ graceMs: 60000 });
    const forced = await proc.stop({ graceMs: 0 });
    assert.ok(Date.now() - startedAt < 20000, 'the forced stop did not wait out the minute of grace');
    assert.equal(pidRuns(proc.pid), false);
    assert.equal(forced.exit.signal, 'SIGKILL');
    assert.equal((await polite).exit.signal, 'SIGKILL');
  });
});

describe('forkSupervised', () => {
  const echoModule = path.join(__dirname, 'fixtures', 'ipc-echo.js');

  it('talks over IPC with advanced serialization and stops the forked group', async () => {
    const proc = await forkSupervised(echoModule, ['hello'], { serialization: 'advanced', env: { SWARM_ECHO_PREFIX: 'echo:' }, execArgv: [] });
    janitor.watchGroup(proc.pid);
    const reply = new Promise<unknown>((resolve) => proc.child.once('message', resolve));
    proc.child.send({ tags: new Map([['a', 1]]) });
    const message = (await reply) as { prefix: string; arg: string; tags: Map<string, number>; grandchild: number };
    assert.equal(message.prefix, 'echo:');
    assert.equal(message.arg, 'hello');
    assert.ok(message.tags instanceof Map, 'a Map survived the IPC round trip');
    assert.equal(message.tags.get('a'), 1);
    assert.ok(pidRuns(message.grandchild));

    await proc.stop({ graceMs: 2000 });

    assert.equal(pidRuns(proc.pid), false);
    assert.equal(pidRuns(message.grandchild), false);
  });
});
