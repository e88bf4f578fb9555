// Parked slot trees on a full disk: parking and taking over a parked tree when the worktree folder's
// file system has no space (or no inodes) left. Nothing may be lost or half-done: the run reports a
// clear error or falls back, and once there is room again the next run works as if nothing happened.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { createWorktreeIsolation } from '../../src/core/worktree';
import { PARKED_DIR, listParked } from '../../src/core/worktree/parked';
import { fakeTask, git, makeRepo, type TempRepo } from '../unit/worktree/helpers';
import { fillInodesLeaving, fillLeaving, mountTmpfs, requireRoot, unmount } from './helpers';

const FILES = { '.gitignore': 'dist/\n', 'src/a.txt': 'one\ntwo\nthree\n', 'src/b.txt': 'bee\n', 'README.md': '# demo\n' };
const teardown: Array<() => void> = [];
afterEach(() => {
  for (const step of teardown.splice(0).reverse()) step();
});

function setup(): { r: TempRepo; dir: string; filler: string } {
  requireRoot();
  const r = makeRepo(FILES);
  teardown.push(() => r.cleanup());
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-parked-full-'));
  mountTmpfs(mount, 4096, 4096);
  teardown.push(() => {
    unmount(mount);
    fs.rmSync(mount, { recursive: true, force: true });
  });
  // The slots in a folder of their own on the small file system; the filler beside it.
  return { r, dir: path.join(mount, 'slots'), filler: path.join(mount, 'filler') };
}

function registered(r: TempRepo): string[] {
  return git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ') && !line.endsWith(r.root));
}

async function oneAttempt(r: TempRepo, dir: string, edit: (cwd: string) => void): Promise<{ files: Array<[string, string]> }> {
  const isolation = createWorktreeIsolation({ workspaceRoot: r.root, worktreesDir: dir });
  const task = fakeTask();
  const artifacts = path.join(r.root, '.swarm', 'artifacts', task.id);
  try {
    const prepared = await isolation.prepare(task, '1', artifacts);
    edit(prepared.cwd);
    const changes = await isolation.collect(task, '1', prepared, artifacts);
    return { files: changes.files.map((file) => [file.path, file.status]) };
  } finally {
    await isolation.release();
  }
}

const edits = (cwd: string): void => {
  fs.writeFileSync(path.join(cwd, 'src/a.txt'), 'one\nTWO\nthree\n');
  fs.mkdirSync(path.join(cwd, 'dist'));
  fs.writeFileSync(path.join(cwd, 'dist/out.js'), 'x'.repeat(20_000));
};

describe('parked trees on a full disk', () => {
  for (const full of ['space', 'inodes'] as const) {
    it(`taking a parked tree over with no ${full} left fails cleanly; with room again the next run is at the snapshot and collects only its change`, async () => {
      const { r, dir, filler } = setup();
      await oneAttempt(r, dir, edits);
      assert.equal(listParked(dir).length, 1, 'parked, though the worktree folder is on another file system than the repository (its index is copied)');
      // Committed between the runs: too big for the room left, so taking the tree over runs out of
      // space half-way through rewriting it (after the slot's lock, state and registration).
      r.write('src/b.txt', 'bee, committed between the runs\n');
      r.write('big.bin', 'b'.repeat(400_000));
      git(r.root, ['add', '-A']);
      git(r.root, ['commit', '-q', '-m', 'second']);
      if (full === 'space') fillLeaving(filler, 24);
      else fillInodesLeaving(filler, 0);
      // On the full disk the run may fail (with the file system's error) or fall back; either way
      // nothing may be left half-done.
      let failure: unknown;
      try {
        await oneAttempt(r, dir, () => undefined);
      } catch (error) {
        failure = error;
      }
      fs.rmSync(filler, { recursive: true, force: true });
      // Whatever happened on the full disk, the next run is correct and nothing is left behind.
      const { files } = await oneAttempt(r, dir, (cwd) => {
        assert.equal(fs.readFileSync(path.join(cwd, 'src/b.txt'), 'utf8'), 'bee, committed between the runs\n');
        assert.equal(fs.readFileSync(path.join(cwd, 'src/a.txt'), 'utf8'), FILES['src/a.txt']);
        assert.equal(fs.existsSync(path.join(cwd, 'dist')), false, 'no build output of the first run');
        fs.writeFileSync(path.join(cwd, 'README.md'), '# mine\n');
      });
      assert.deepEqual(files, [['README.md', 'modified']], `full-disk run: ${String((failure as Error | undefined)?.message)}`);
      assert.deepEqual(registered(r), []);
      const leftovers = fs.readdirSync(path.join(dir, PARKED_DIR)).filter((name) => !listParked(dir).some((entry) => path.basename(entry) === name));
      assert.deepEqual(leftovers, [], 'no half-made or claimed parked entries');
    });
  }

  it('parking with no inodes left removes the slot instead; the next run checks out afresh', async () => {
    const { r, dir, filler } = setup();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, worktreesDir: dir });
    const task = fakeTask();
    const artifacts = path.join(r.root, '.swarm', 'artifacts', task.id);
    const prepared = await isolation.prepare(task, '1', artifacts);
    edits(prepared.cwd);
    await isolation.collect(task, '1', prepared, artifacts);
    fillInodesLeaving(filler, 0);
    await isolation.release();
    fs.rmSync(filler, { recursive: true, force: true });
    assert.deepEqual(registered(r), []);
    const { files } = await oneAttempt(r, dir, (cwd) => {
      assert.equal(fs.readFileSync(path.join(cwd, 'src/a.txt'), 'utf8'), FILES['src/a.txt']);
      fs.writeFileSync(path.join(cwd, 'README.md'), '# mine\n');
    });
    assert.deepEqual(files, [['README.md', 'modified']]);
  });
});
