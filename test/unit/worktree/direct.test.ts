import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { createDirectIsolation, shadowGitDir } from '../../../src/core/worktree';
import { fakeTask, makeRepo } from './helpers';
import { editRacily, makeEntryRacy } from './racy-edit';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('direct isolation (opt-in, no worktree)', () => {
  it('in a git repository: the agent edits the folder itself and the result is the diff since prepare', async () => {
    const r = makeRepo({ 'a.txt': 'a\n' });
    cleanups.push(r.cleanup);
    r.write('dirty.txt', 'already here before the task\n');
    const isolation = createDirectIsolation(r.root);
    const task = fakeTask();
    const artifacts = path.join(r.root, '.swarm', 'artifacts', task.id);
    const prepared = await isolation.prepare(task, '1', artifacts);
    assert.equal(prepared.cwd, r.root);
    fs.writeFileSync(path.join(r.root, 'a.txt'), 'b\n');
    fs.writeFileSync(path.join(r.root, 'added.txt'), 'new\n');
    const changes = await isolation.collect(task, '1', prepared, artifacts);
    assert.deepEqual(changes.files.map((f) => [f.path, f.status]), [
      ['a.txt', 'modified'],
      ['added.txt', 'added'],
    ]);
    assert.ok(changes.patchFile && fs.readFileSync(changes.patchFile, 'utf8').includes('+b'));
  });

  it('sees a same-size edit the agent makes within the timestamp granularity of the index (racy entry)', async () => {
    const r = makeRepo({ 'a.txt': 'a\n' });
    cleanups.push(r.cleanup);
    const second = makeEntryRacy(r.root, 'a.txt');
    const isolation = createDirectIsolation(r.root);
    const task = fakeTask();
    const artifacts = path.join(r.root, '.swarm', 'artifacts', task.id);
    const prepared = await isolation.prepare(task, '1', artifacts);
    editRacily(r.root, 'a.txt', 'b\n', second);
    const changes = await isolation.collect(task, '1', prepared, artifacts);
    assert.deepEqual(changes.files.map((f) => [f.path, f.status]), [['a.txt', 'modified']]);
    assert.match(fs.readFileSync(changes.patchFile!, 'utf8'), /^-a\n\+b$/m);
  });

  it('in a plain folder: snapshots go to a shadow git directory outside the folder', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-plain-'));
    const shadow = shadowGitDir(dir);
    cleanups.push(() => {
      fs.rmSync(shadow, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    });
    fs.writeFileSync(path.join(dir, 'notes.md'), 'one\n');
    const isolation = createDirectIsolation(dir);
    const task = fakeTask();
    const artifacts = path.join(dir, '.swarm', 'artifacts', task.id);
    const prepared = await isolation.prepare(task, '1', artifacts);
    fs.appendFileSync(path.join(dir, 'notes.md'), 'two\n');
    const changes = await isolation.collect(task, '1', prepared, artifacts);
    assert.deepEqual(changes.files.map((f) => [f.path, f.additions]), [['notes.md', 1]]);
    assert.ok(!fs.existsSync(path.join(dir, '.git')), 'no git directory created in the user folder');
    assert.ok(fs.existsSync(path.join(shadow, 'HEAD')), 'snapshots live in the shadow directory');
  });
});
