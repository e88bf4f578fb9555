// Several runner processes on one machine share a repository cache: a lock per cache repository,
// taken over from a process killed while holding it, creation that never leaves a half-made
// repository (kill -9, full disk).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { cacheFolderName, importSnapshot, RemoteGitError, snapshotForRemote } from '../../../src/core/remote';
import { git } from '../worktree/helpers';
import { addLocalChanges, binary, makeWorld, NAMED_FILES, type World } from './machines';

const CHILD = path.join(__dirname, 'fixtures', 'runner-child.ts');
const DEADLINE_MS = 60_000;

const worlds: World[] = [];
const children: ChildProcess[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const mount of mounts.splice(0)) spawnSync('umount', [mount]);
  for (const made of worlds.splice(0)) made.cleanup();
});

interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line equal to `line`. */
  says(line: string): Promise<void>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ line: string; resolve: () => void }> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const waiter of waiters) if (stdout.split('\n').includes(waiter.line)) waiter.resolve();
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const says = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child did not say "${line}" within ${DEADLINE_MS} ms; stdout: ${stdout} stderr: ${stderr}`)), DEADLINE_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (stdout.split('\n').includes(line)) done();
      else waiters.push({ line, resolve: done });
      void exit.then(() => reject(new Error(`child exited before saying "${line}"; stdout: ${stdout} stderr: ${stderr}`)));
    });
  return { process: child, says, exit };
}

async function postTask(w: World, taskId: string): Promise<{ descriptorFile: string; bundleFile: string; descriptor: unknown; bundle: Buffer }> {
  const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId, files: NAMED_FILES });
  const descriptorFile = path.join(w.dir, `${taskId}.json`);
  const bundleFile = path.join(w.dir, `${taskId}.bundle`);
  fs.writeFileSync(descriptorFile, JSON.stringify(posted.descriptor));
  fs.writeFileSync(bundleFile, posted.bundle as Buffer);
  return { descriptorFile, bundleFile, descriptor: posted.descriptor, bundle: posted.bundle as Buffer };
}

describe('runner processes sharing a repository cache', () => {
  it('two processes prepare the same cache repository at once, after the lock holder was killed with SIGKILL', async () => {
    const w = makeWorld();
    worlds.push(w);
    addLocalChanges(w);
    const task = await postTask(w, 'task.race');
    const reposDir = path.join(w.dir, 'runner', 'repos');
    const descriptor = task.descriptor as { repository: string; snapshot: string };
    const lockFile = path.join(reposDir, `${cacheFolderName(descriptor.repository)}.lock`);

    const holder = startChild(['hold', lockFile]);
    await holder.says('locked');
    const first = startChild(['import', task.descriptorFile, task.bundleFile, reposDir]);
    const second = startChild(['import', task.descriptorFile, task.bundleFile, reposDir]);
    await Promise.all([first.says('waiting'), second.says('waiting')]);
    holder.process.kill('SIGKILL');

    const results = await Promise.all([first.exit, second.exit]);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const [a, b] = results.map((result) => JSON.parse(result.stdout.trim().split('\n').pop() as string) as { commit: string; gitDir: string });
    assert.equal(a.commit, descriptor.snapshot);
    assert.equal(b.commit, descriptor.snapshot);
    assert.equal(a.gitDir, b.gitDir);
    assert.deepEqual(fs.readdirSync(reposDir).filter((name) => !name.startsWith('.')), [path.basename(a.gitDir)], 'one cache repository, no lock or half-made folder left');
    assert.equal(git(a.gitDir, ['rev-parse', 'refs/swarm-in/task.race']), descriptor.snapshot);
    git(a.gitDir, ['fsck', '--no-progress', '--connectivity-only']);
  });

  it('waits for a live holder and gives up with a retryable error naming it', async () => {
    const w = makeWorld();
    worlds.push(w);
    addLocalChanges(w);
    const task = await postTask(w, 'task.busy');
    const reposDir = path.join(w.dir, 'runner', 'repos');
    const lockFile = path.join(reposDir, `${cacheFolderName((task.descriptor as { repository: string }).repository)}.lock`);
    const holder = startChild(['hold', lockFile]);
    await holder.says('locked');
    await assert.rejects(importSnapshot(task.descriptor, task.bundle, { reposDir, allowLocalUrls: true, lock: { timeoutMs: 300 } }), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'busy' && !error.permanent);
      assert.match(error.message, new RegExp(`^Another process \\(pid ${holder.process.pid} on .*\\) has held .*\\.lock for longer than 1 s; try again, or remove the file if no runner is working on that repository\\.$`));
      return true;
    });
  });

  it('removes a half-made cache repository left by a killed process and creates it anew', async () => {
    const w = makeWorld();
    worlds.push(w);
    addLocalChanges(w);
    const task = await postTask(w, 'task.half');
    const reposDir = path.join(w.dir, 'runner', 'repos');
    const name = cacheFolderName((task.descriptor as { repository: string }).repository);
    const deadPid = spawnSync('true').pid as number;
    const leftover = path.join(reposDir, `${name}.creating-${deadPid}`);
    fs.mkdirSync(path.join(leftover, 'objects'), { recursive: true });
    fs.writeFileSync(path.join(leftover, 'HEAD'), 'garbage');
    const imported = await importSnapshot(task.descriptor, task.bundle, { reposDir, allowLocalUrls: true });
    assert.ok(!fs.existsSync(leftover), 'the leftover is gone');
    assert.equal(git(imported.gitDir, ['rev-parse', 'refs/swarm-in/task.half']), imported.commit);
  });

  it('on a full disk fails with a clear retryable error and leaves no half-made repository', async (t) => {
    if (process.getuid?.() !== 0) assert.fail('this test mounts a small tmpfs and needs root (mount -t tmpfs)');
    const w = makeWorld({ 'big.bin': binary('big', 400_000), 'a.txt': 'a\n' });
    worlds.push(w);
    w.write(w.dev, 'a.txt', 'edited\n');
    const task = await postTask(w, 'task.full');
    const reposDir = path.join(w.dir, 'runner', 'repos');
    fs.mkdirSync(reposDir, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', reposDir], { encoding: 'utf8' });
    assert.equal(mounted.status, 0, `mount -t tmpfs failed: ${mounted.stderr}`);
    mounts.push(reposDir);
    await assert.rejects(importSnapshot(task.descriptor, task.bundle, { reposDir, allowLocalUrls: true }), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'disk-full' && !error.permanent, String(error));
      assert.match(error.message, /the disk is full .*Free space and try again\.$/);
      t.diagnostic(error.message);
      return true;
    });
    assert.deepEqual(fs.readdirSync(reposDir).filter((entry) => entry !== '.empty-template'), [], 'nothing half-made, no lock left');
    spawnSync('umount', [reposDir]);
    mounts.pop();
    t.diagnostic('with room again, the same import succeeds');
    const imported = await importSnapshot(task.descriptor, task.bundle, { reposDir, allowLocalUrls: true });
    assert.equal(git(imported.gitDir, ['rev-parse', 'refs/swarm-in/task.full']), imported.commit);
  });

  it('a full disk during an import into an existing cache writes no ref, and the import works once there is room', async () => {
    if (process.getuid?.() !== 0) assert.fail('this test mounts a small tmpfs and needs root (mount -t tmpfs)');
    const w = makeWorld();
    worlds.push(w);
    const reposDir = path.join(w.dir, 'runner', 'repos');
    fs.mkdirSync(reposDir, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', reposDir], { encoding: 'utf8' });
    assert.equal(mounted.status, 0, `mount -t tmpfs failed: ${mounted.stderr}`);
    mounts.push(reposDir);
    w.write(w.dev, 'src/a.txt', 'small edit\n');
    const small = await postTask(w, 'task.small');
    const cached = await importSnapshot(small.descriptor, small.bundle, { reposDir, allowLocalUrls: true });

    w.write(w.dev, 'new.bin', binary('new', 200_000));
    git(w.dev, ['add', 'new.bin']);
    const big = await postTask(w, 'task.big');
    const filler = path.join(reposDir, 'filler');
    const chunk = Buffer.alloc(4096, 1);
    try {
      for (;;) fs.appendFileSync(filler, chunk);
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    fs.truncateSync(filler, Math.max(0, fs.statSync(filler).size - 64 * 1024));
    await assert.rejects(importSnapshot(big.descriptor, big.bundle, { reposDir, allowLocalUrls: true }), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'disk-full' && !error.permanent, String(error));
      return true;
    });
    assert.equal(spawnSync('git', ['rev-parse', '--verify', '-q', 'refs/swarm-in/task.big'], { cwd: cached.gitDir }).status, 1, 'no ref for the failed import');
    assert.deepEqual(fs.readdirSync(path.join(cached.gitDir, 'objects', 'pack')).filter((name) => name.startsWith('tmp_')), []);
    fs.rmSync(filler);
    const imported = await importSnapshot(big.descriptor, big.bundle, { reposDir, allowLocalUrls: true });
    assert.equal(git(imported.gitDir, ['rev-parse', 'refs/swarm-in/task.big']), imported.commit);
  });
});
