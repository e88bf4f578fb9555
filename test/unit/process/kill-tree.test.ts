import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { isProcessAlive, isProcessGroupAlive, killTree, listDescendants } from '../../../src/core/process';
import { LineCollector, ProcessJanitor, isLinux, pidRuns, waitFor } from './helpers';

const janitor = new ProcessJanitor();
afterEach(() => janitor.cleanUp());

/** A shell in the test's own process group (not detached): only a tree walk can find its children. */
async function startUngroupedShell(script: string): Promise<{ pid: number; lines: string[] }> {
  const out = new LineCollector();
  const shell = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  shell.stdout.setEncoding('utf8');
  shell.stdout.on('data', (text: string) => text.split('\n').filter(Boolean).forEach(out.push));
  const pid = shell.pid as number;
  janitor.watchPids(pid);
  return { pid, lines: out.lines };
}

describe('killTree', () => {
  it('ends a process and its grandchildren found by parent links', async () => {
    const shell = await startUngroupedShell('sh -c "sleep 100 & echo \\$!; wait" & sleep 100 & echo $!; wait');
    await waitFor(() => shell.lines.length >= 2, 10000, 'two sleeper pids');
    const sleepers = shell.lines.map(Number);
    janitor.watchPids(...sleepers);
    const descendants = await listDescendants(shell.pid);
    for (const sleeper of sleepers) assert.ok(descendants.includes(sleeper), `listDescendants finds grandchild ${sleeper}`);

    const result = await killTree(shell.pid, { graceMs: 3000 });

    assert.equal(result.escalated, false);
    for (const pid of [shell.pid, ...sleepers]) assert.equal(pidRuns(pid), false, `pid ${pid} is gone`);
  });

  it('escalates to SIGKILL for a tree that ignores SIGTERM', async () => {
    const shell = await startUngroupedShell('trap "" TERM; sleep 100 & echo $!; wait; sleep 100');
    await waitFor(() => shell.lines.length >= 1, 10000, 'the sleeper pid');
    const sleeper = Number(shell.lines[0]);
    janitor.watchPids(sleeper);

    const result = await killTree(shell.pid, { graceMs: 400 });

    assert.equal(result.escalated, true);
    assert.equal(pidRuns(shell.pid), false);
    assert.equal(pidRuns(sleeper), false);
  });

  it('never signals the calling process, even when asked to kill its own tree', async () => {
    const out = new LineCollector();
    const runner = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'kill-own-tree.ts')], {
      cwd: path.join(__dirname, '..', '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    janitor.watchPids(runner.pid as number);
    runner.stdout.setEncoding('utf8');
    runner.stdout.on('data', (text: string) => text.split('\n').filter(Boolean).forEach(out.push));
    const exit = new Promise<number | null>((resolve) => runner.once('exit', resolve));
    const [line] = await out.waitForLines(1, 30000);
    const report = JSON.parse(line as string) as { survived: boolean; signalledSelf: boolean; childAlive: boolean; childPid: number };
    janitor.watchPids(report.childPid);
    assert.deepEqual({ ...report, childPid: 0 }, { survived: true, signalledSelf: false, childAlive: false, childPid: 0 });
    assert.equal(await exit, 0);
  });
});

describe('isProcessAlive / isProcessGroupAlive', () => {
  it('tells running, exited and nonsensical pids apart', async () => {
    assert.equal(isProcessAlive(process.pid), true);
    assert.equal(isProcessAlive(0), false);
    assert.equal(isProcessAlive(-5), false);
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    const pid = child.pid as number;
    janitor.watchPids(pid);
    assert.equal(isProcessAlive(pid), true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => !isProcessAlive(pid), 5000, 'the killed pid to read as dead');
  });

  it('reads an unreaped zombie as dead although kill(pid, 0) still finds it', { skip: !isLinux }, async () => {
    // `exec sleep` replaces the shell, so nobody ever waits for the short sleeper: it stays a zombie.
    const shell = await startUngroupedShell('sleep 0.2 & echo $!; exec sleep 30');
    await waitFor(() => shell.lines.length >= 1, 10000, 'the zombie-to-be pid');
    const zombie = Number(shell.lines[0]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.doesNotThrow(() => process.kill(zombie, 0), 'the zombie still answers signal 0');
    assert.equal(isProcessAlive(zombie), false);
  });

  it('sees a detached group as alive until its last member is gone', async () => {
    const leader = spawn('sh', ['-c', 'sleep 100 & echo $!; exit 0'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const pgid = leader.pid as number;
    janitor.watchGroup(pgid);
    const leaderExited = new Promise((resolve) => leader.once('exit', resolve));
    const firstLine = await new Promise<string>((resolve) => leader.stdout.once('data', (data: Buffer) => resolve(data.toString())));
    const orphan = Number(firstLine.trim());
    await leaderExited;
    assert.equal(isProcessGroupAlive(pgid), true, 'the orphaned sleeper keeps the group alive');
    process.kill(orphan, 'SIGKILL');
    await waitFor(() => !isProcessGroupAlive(pgid), 5000, 'the group to be gone');
  });
});
