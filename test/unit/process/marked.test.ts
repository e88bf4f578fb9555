// Finding an attempt's daemons by their mark after a short command: only the pids handed out since
// the command started are opened (no listing of /proc), and a daemon is found however it got away.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { runInProcessGroup } from '../../../src/core/executors/process';
import { findMarkedProcesses, isProcess, pidsHandedOutAfter } from '../../../src/core/process/marked';
import { waitFor } from '../pool/helpers';
import { processesWithArgs, tempDir, uniqueSleep } from '../sandbox/helpers';

test('the pids handed out since a pid: none, a few, across the wrap at pid_max, or too many to open', () => {
  assert.deepEqual(pidsHandedOutAfter(500, 500, 32768), []);
  assert.deepEqual(pidsHandedOutAfter(499, 503, 32768), [500, 501, 502, 503]);
  assert.deepEqual(pidsHandedOutAfter(32765, 2, 32768), [32766, 32767, 1, 2]);
  assert.equal(pidsHandedOutAfter(100, 100 + 257, 32768), undefined);
  assert.equal(pidsHandedOutAfter(32700, 300, 32768), undefined);
});

test('a daemon of a short command is found among the pids handed out since, and only once (not once per thread)', { timeout: 60_000 }, async () => {
  const seconds = uniqueSleep();
  // A daemon with threads: its thread ids are pids handed out since too, and show its environment.
  const daemonArgs = ['node', '-e', 'setInterval(() => {}, 1000)', seconds];
  const first = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'latin1'));
  const mark = `marked-test-${seconds}`;
  execFileSync('/bin/sh', ['-c', `(setsid ${daemonArgs.slice(0, 2).join(' ')} '${daemonArgs[2]}' ${seconds} &); true`], { env: { ...process.env, SWARM_TEST_MARK: mark }, stdio: 'ignore', timeout: 30_000 });
  try {
    const [daemon] = await waitFor('the daemon and its threads', () => {
      const pids = processesWithArgs(daemonArgs);
      return pids.length === 1 && fs.readdirSync(`/proc/${pids[0]}/task`).length > 1 && pids;
    });
    // Its thread ids are pids too, and show its environment: only the process itself counts. (Checked
    // directly as well: when other tests fork many processes meanwhile, the search below lists /proc
    // instead of opening the pids one by one, and /proc lists no thread ids.)
    const threads = fs.readdirSync(`/proc/${daemon}/task`).map(Number).filter((tid) => tid !== daemon);
    assert.ok(threads.length > 0 && threads.every((tid) => !isProcess(tid)), `threads ${threads.join(', ')} are not processes`);
    assert.equal(isProcess(daemon), true);
    // As if the command had just started: the pids handed out since are opened one by one.
    const found = findMarkedProcesses('SWARM_TEST_MARK', mark, { newerThan: first, newerSince: performance.now() });
    assert.deepEqual(found, [daemon], 'found by its mark, once');
    assert.deepEqual(findMarkedProcesses('SWARM_TEST_MARK', mark, { newerThan: first }), [daemon], 'the listing of /proc finds the same');
  } finally {
    for (const pid of processesWithArgs(daemonArgs)) process.kill(pid, 'SIGKILL');
  }
});

test('without a sandbox, a daemon started after hundreds of other processes is still ended when the run settles', { timeout: 60_000 }, async () => {
  const seconds = uniqueSleep();
  // 300 processes first: more pids handed out than are opened one by one, so /proc is listed.
  const result = await runInProcessGroup({ script: `for i in $(seq 300); do /bin/true; done; (setsid sleep ${seconds} &); echo started`, cwd: tempDir('swarm-run-') });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(processesWithArgs(['sleep', seconds]), []);
});

test('without a sandbox, a daemon of a command that took longer than a quarter of a second is still ended', { timeout: 60_000 }, async () => {
  const seconds = uniqueSleep();
  const result = await runInProcessGroup({ script: `(setsid sleep ${seconds} &); sleep 0.5; echo started`, cwd: tempDir('swarm-run-') });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(processesWithArgs(['sleep', seconds]), []);
});
