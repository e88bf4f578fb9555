// Attack sweep (issue 13): every writer of results — apply (clean, three-way, markers, one file),
// undo, the editor's direct writes, follow-ups, discard — against crafted paths: "..", absolute,
// "~", .git in every spelling, the task board wherever it lives, symlinked parents, symlinks at
// the target and at the temp name, NUL, very long names, Unicode look-alikes. Each attack must end
// in a clear refusal with nothing written anywhere: not in the workspace, not in the board, not
// beside the workspace.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../src/core/board';
import {
  applyTaskPatch,
  discardTaskPatch,
  planTaskApply,
  readUndoRecord,
  undoTaskApply,
  UnsafePatchPathError,
  writeVersion,
} from '../../src/core/patch';
import { postFollowUpTask } from '../../src/core/patch/followUp';
import { git } from '../unit/worktree/helpers';
import { makeWorkspace, runTasks, type Workspace } from '../unit/patch/helpers';
import { placeOf } from '../unit/patch/place';

const made: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const item of made.splice(0).reverse()) item.cleanup();
});

interface Arena extends Workspace {
  /** The temp folder holding the workspace and a folder beside it that no writer may touch. */
  parent: string;
  outside: string;
}

function arena(files: Record<string, string> = { 'a.txt': 'a\n' }): Arena {
  const ws = makeWorkspace(files);
  made.push(ws);
  const parent = path.dirname(ws.root);
  const outside = path.join(parent, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret\n');
  return { ...ws, parent, outside };
}

/** Every file, link and folder under `dir` (repositories' .git folders and the event log left out). */
function treeState(dir: string): string {
  const hash = crypto.createHash('sha256');
  const walk = (current: string) => {
    for (const name of fs.readdirSync(current).sort()) {
      if (name === '.git' || name === 'events.jsonl') continue;
      const full = path.join(current, name);
      const stat = fs.lstatSync(full);
      hash.update(`${path.relative(dir, full)}:${stat.mode}:${stat.size}\n`);
      if (stat.isDirectory()) walk(full);
      else if (stat.isSymbolicLink()) hash.update(fs.readlinkSync(full));
      else hash.update(fs.readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/** Git's C quoting of a path in a patch header, for names with control bytes or non-ASCII. */
function quoted(prefix: string, relPath: string): string {
  const bytes = Buffer.from(`${prefix}${relPath}`, 'utf8');
  const needs = [...bytes].some((byte) => byte < 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x5c);
  if (!needs) return `${prefix}${relPath}`;
  return `"${[...bytes].map((byte) => (byte === 0x22 || byte === 0x5c ? `\\${String.fromCharCode(byte)}` : byte < 0x20 || byte >= 0x7f ? `\\${byte.toString(8).padStart(3, '0')}` : String.fromCharCode(byte))).join('')}"`;
}

function addFilePatch(relPath: string, content = 'pwned'): string {
  const a = quoted('a/', relPath);
  const b = quoted('b/', relPath);
  return `diff --git ${a} ${b}\nnew file mode 100644\n--- /dev/null\n+++ ${b}\n@@ -0,0 +1 @@\n+${content}\n`;
}

/** A done task on `board` whose result is `text` against the workspace's HEAD. */
function doneTask(board: FileBoard, root: string, text: string, title = 'crafted'): string {
  board.post({ title });
  const claim = board.claim({ agent: 'attacker' });
  assert.ok(claim);
  const dir = board.artifactsDir(claim.task.id);
  fs.mkdirSync(dir, { recursive: true });
  const patchFile = path.join(dir, 'result.patch');
  fs.writeFileSync(patchFile, text);
  board.complete(claim, { summary: 'ok', patchFile, base: git(root, ['rev-parse', 'HEAD']), files: [] });
  return claim.task.id;
}

const CRAFTED: Array<[string, string | ((a: Arena) => string), RegExp]> = [
  ['".."', '../outside/secret.txt', /contains "\.\."/],
  ['".." deeper down', 'a/../../outside/secret.txt', /contains "\.\."/],
  ['an absolute path', (a) => path.join(a.outside, 'abs.txt'), /absolute path/],
  ['"~"', '~/x.txt', /absolute path/],
  ['.git', '.git/hooks/post-checkout', /inside a \.git directory/],
  ['.GIT', '.GIT/config', /inside a \.git directory/],
  ['".git." (Windows drops the dot)', '.git./config', /inside a \.git directory/],
  ['".git " (Windows drops the space)', '.git /config', /inside a \.git directory/],
  ['a submodule\'s .git file', 'sub/.git', /inside a \.git directory/],
  ['.git with a code point HFS+ ignores', '.g\u200cit/config', /inside a \.git directory/],
  ['the NTFS short name of .git', 'GIT~1/config', /inside a \.git directory/],
  ['an NTFS stream of .git', '.git::$INDEX_ALLOCATION/config', /inside a \.git directory/],
  ['the board', '.swarm/pending/09999~00000000000000~tevil~a0.json', /task board/],
  ['the board in upper case', '.SWARM/pending/x.json', /task board/],
  ['the board with a trailing dot', '.swarm./pending/x.json', /task board/],
  ['the board in fullwidth letters', '.ｓｗａｒｍ/pending/x.json', /task board/],
  ['a NUL byte', 'a\0b.txt', /NUL byte/],
  ['a very long name', 'x'.repeat(300), /too long/],
  ['a very long path', `${'d'.repeat(200)}/`.repeat(25) + 'f', /too long/],
  ['an empty segment', 'a//b.txt', /not a plain relative path/],
];

async function assertRefused(attempt: Promise<unknown> | (() => unknown), reason: RegExp): Promise<void> {
  const run = typeof attempt === 'function' ? Promise.resolve().then(attempt) : attempt;
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof UnsafePatchPathError, `expected UnsafePatchPathError, got ${String(error)}`);
    assert.match(error.message, reason);
    assert.doesNotMatch(error.message, /\n/, 'one line');
    assert.ok(error.message.length < 600, 'a crafted name does not flood the message');
    return true;
  });
}

describe('crafted paths × every writer: refused, nothing written', () => {
  for (const [label, crafted, reason] of CRAFTED) {
    it(`${label}`, async () => {
      const a = arena({ 'a.txt': 'a\n', 'sub/keep.txt': 'k\n' });
      const relPath = typeof crafted === 'function' ? crafted(a) : crafted;
      const scope = { workspaceRoot: a.root, boardRoot: a.board.root };
      const taskId = doneTask(a.board, a.root, addFilePatch(relPath));
      // A real apply first, so that undo has a record to forge.
      const [legit] = await runTasks(a, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
      await applyTaskPatch({ ...placeOf(a.board, a.root), taskId: legit.id });
      const undo = readUndoRecord(placeOf(a.board), legit.id);
      assert.ok(undo);
      fs.writeFileSync(undo.file, JSON.stringify({ ...undo.record, entries: [{ path: relPath, afterHash: 'absent' }] }));
      const tasksBefore = a.board.list().length;
      const before = treeState(a.parent);

      for (const mode of ['auto', 'clean', 'markers'] as const) await assertRefused(applyTaskPatch({ ...placeOf(a.board, a.root), taskId, mode }), reason);
      await assertRefused(planTaskApply({ ...placeOf(a.board, a.root), taskId, paths: [relPath] }), reason);
      await assertRefused(undoTaskApply({ ...placeOf(a.board, a.root), taskId: legit.id }), reason);
      await assertRefused(() => writeVersion(scope, relPath, { content: Buffer.from('pwned\n'), mode: '100644' }), reason);
      await assertRefused(() => writeVersion(scope, relPath, {}), reason);
      await assertRefused(postFollowUpTask({ ...placeOf(a.board, a.root), taskId, comment: 'more' }), reason);

      assert.equal(treeState(a.parent), before, 'nothing written in the workspace, the board or beside them');
      assert.equal(a.board.list().length, tasksBefore, 'no follow-up posted');
      assert.equal(git(a.root, ['for-each-ref', 'refs/swarm/']), '', 'no follow-up start ref');
    });
  }

  it('three-way: a crafted path beside a file the user edited is refused before any merge', async () => {
    const a = arena({ 'a.txt': 'one\ntwo\nthree\n' });
    const [legit] = await runTasks(a, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'one\ntwo\nTHREE\n') }]);
    const patch = fs.readFileSync(path.join(a.board.artifactsDir(legit.id), 'result.patch'), 'utf8');
    a.write('a.txt', 'ONE\ntwo\nthree\n');
    const taskId = doneTask(a.board, a.root, patch + addFilePatch('.swarm/pending/x.json'));
    const before = treeState(a.parent);
    await assertRefused(applyTaskPatch({ ...placeOf(a.board, a.root), taskId }), /task board/);
    assert.equal(treeState(a.parent), before);
  });
});

describe('the board wherever it lives', () => {
  function boardAt(boardRoot: string): FileBoard {
    const board = FileBoard.open({ root: boardRoot, durable: false });
    made.push({ cleanup: () => board.close() });
    return board;
  }

  it('--board elsewhere in the workspace: its folder, in any case, and the default .swarm stay closed', async () => {
    const a = arena();
    const board = boardAt(path.join(a.root, 'var', 'swarm-board'));
    for (const relPath of ['var/swarm-board/pending/x.json', 'VAR/Swarm-Board/pending/x.json', 'var/swarm-board', '.swarm/pending/x.json']) {
      const taskId = doneTask(board, a.root, addFilePatch(relPath));
      const before = treeState(a.parent);
      await assertRefused(applyTaskPatch({ ...placeOf(board, a.root), taskId }), /task board/);
      assert.equal(treeState(a.parent), before, relPath);
    }
  });

  it('a board opened through a symlinked path is recognised as the same folder', async () => {
    const a = arena();
    fs.mkdirSync(path.join(a.root, 'var'));
    const alias = path.join(a.parent, 'alias');
    fs.symlinkSync(a.root, alias);
    const board = boardAt(path.join(alias, 'var', 'swarm-board'));
    const taskId = doneTask(board, a.root, addFilePatch('var/swarm-board/pending/x.json'));
    const before = treeState(a.parent);
    await assertRefused(applyTaskPatch({ ...placeOf(board, a.root), taskId }), /task board/);
    assert.equal(treeState(a.parent), before);
    // And the other way round: the workspace through the link, the board by its real path.
    const other = boardAt(path.join(a.root, 'var', 'swarm-board'));
    const second = doneTask(other, a.root, addFilePatch('var/swarm-board/pending/y.json'));
    const beforeSecond = treeState(a.parent);
    await assertRefused(applyTaskPatch({ ...placeOf(other, alias), taskId: second }), /task board/);
    assert.equal(treeState(a.parent), beforeSecond);
  });

  it('a board whose name is spelled in another Unicode normalisation', async () => {
    const a = arena();
    const board = boardAt(path.join(a.root, 'caf\u00e9'));
    const taskId = doneTask(board, a.root, addFilePatch('cafe\u0301/pending/x.json'));
    await assertRefused(applyTaskPatch({ ...placeOf(board, a.root), taskId }), /task board/);
  });
});

describe('symbolic links', () => {
  it('a symlinked parent folder is refused by every writer', async () => {
    const a = arena();
    fs.symlinkSync(a.outside, path.join(a.root, 'link'));
    const taskId = doneTask(a.board, a.root, addFilePatch('link/x.txt'));
    const before = treeState(a.parent);
    await assertRefused(applyTaskPatch({ ...placeOf(a.board, a.root), taskId }), /symbolic link "link"/);
    await assertRefused(() => writeVersion({ workspaceRoot: a.root, boardRoot: a.board.root }, 'link/x.txt', { content: Buffer.from('x') }), /symbolic link/);
    assert.equal(treeState(a.parent), before);
  });

  it('a symlink planted at the target just before the write is replaced, its target untouched', () => {
    const a = arena();
    const scope = { workspaceRoot: a.root, boardRoot: a.board.root };
    fs.rmSync(path.join(a.root, 'a.txt'));
    fs.symlinkSync(path.join(a.outside, 'secret.txt'), path.join(a.root, 'a.txt'));
    writeVersion(scope, 'a.txt', { content: Buffer.from('written\n'), mode: '100644' });
    assert.equal(fs.readFileSync(path.join(a.outside, 'secret.txt'), 'utf8'), 'secret\n');
    assert.ok(fs.lstatSync(path.join(a.root, 'a.txt')).isFile(), 'the link itself was replaced');
    assert.equal(a.read('a.txt'), 'written\n');
    // A link written by a result (mode 120000) also replaces what is there without following it.
    fs.rmSync(path.join(a.root, 'a.txt'));
    fs.symlinkSync(path.join(a.outside, 'secret.txt'), path.join(a.root, 'a.txt'));
    writeVersion(scope, 'a.txt', { content: Buffer.from('elsewhere.txt'), mode: '120000' });
    assert.equal(fs.readlinkSync(path.join(a.root, 'a.txt')), 'elsewhere.txt');
    assert.equal(fs.readFileSync(path.join(a.outside, 'secret.txt'), 'utf8'), 'secret\n');
    // A deletion removes the link, not its target.
    writeVersion(scope, 'a.txt', {});
    assert.ok(!fs.existsSync(path.join(a.root, 'a.txt')));
    assert.equal(fs.readFileSync(path.join(a.outside, 'secret.txt'), 'utf8'), 'secret\n');
  });

  it('a symlink at a file the result changes is a conflict, never followed', async () => {
    const a = arena();
    const [task] = await runTasks(a, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
    fs.rmSync(path.join(a.root, 'a.txt'));
    fs.symlinkSync(path.join(a.outside, 'secret.txt'), path.join(a.root, 'a.txt'));
    const outcome = await applyTaskPatch({ ...placeOf(a.board, a.root), taskId: task.id });
    assert.equal(outcome.status, 'conflict');
    assert.equal(fs.readFileSync(path.join(a.outside, 'secret.txt'), 'utf8'), 'secret\n');
    assert.ok(fs.lstatSync(path.join(a.root, 'a.txt')).isSymbolicLink());
  });

  it('a symlink planted at the old predictable temp name is never written through', async () => {
    const a = arena();
    const [task] = await runTasks(a, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
    const planted = path.join(a.root, `a.txt.swarm-${process.pid}.tmp`);
    fs.symlinkSync(path.join(a.outside, 'secret.txt'), planted);
    const outcome = await applyTaskPatch({ ...placeOf(a.board, a.root), taskId: task.id });
    assert.equal(outcome.status, 'applied', outcome.message);
    assert.equal(fs.readFileSync(path.join(a.outside, 'secret.txt'), 'utf8'), 'secret\n');
    assert.ok(fs.lstatSync(path.join(a.root, 'a.txt')).isFile());
    assert.equal(a.read('a.txt'), 'b\n');
    assert.ok(fs.lstatSync(planted).isSymbolicLink(), 'the planted link is left alone');
  });

  it('the writer leaves no temp file behind, also when the write fails', async () => {
    const a = arena();
    const scope = { workspaceRoot: a.root, boardRoot: a.board.root };
    writeVersion(scope, 'dir/new.txt', { content: Buffer.from('n\n'), mode: '100755' });
    assert.deepEqual(fs.readdirSync(path.join(a.root, 'dir')), ['new.txt']);
    assert.ok(fs.statSync(path.join(a.root, 'dir/new.txt')).mode & 0o100);
    fs.mkdirSync(path.join(a.root, 'taken'));
    fs.writeFileSync(path.join(a.root, 'taken', 'x'), 'x');
    assert.throws(() => writeVersion(scope, 'taken', { content: Buffer.from('over a folder') }));
    assert.deepEqual(fs.readdirSync(a.root).filter((name) => name.includes('swarm') && name.endsWith('.tmp')), []);
  });
});

describe('records are untrusted input', () => {
  async function appliedTask(a: Arena) {
    const [task] = await runTasks(a, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
    await applyTaskPatch({ ...placeOf(a.board, a.root), taskId: task.id });
    const undo = readUndoRecord(placeOf(a.board), task.id);
    assert.ok(undo);
    return { task, undo, artifacts: a.board.artifactsDir(task.id) };
  }

  it('an apply record whose undo id climbs out of the artifacts folder is refused', async () => {
    const a = arena();
    const { task, undo, artifacts } = await appliedTask(a);
    // A forged undo folder beside the workspace, restoring a.txt from the attacker's blob.
    const forged = path.join(a.outside, 'undo');
    fs.mkdirSync(forged);
    fs.writeFileSync(path.join(forged, 'before-0'), 'forged\n');
    fs.writeFileSync(path.join(forged, 'undo.json'), JSON.stringify({ ...undo.record, entries: [{ path: 'a.txt', before: { blob: 'before-0', mode: '100644' }, afterHash: undo.record.entries[0].afterHash }] }));
    const record = JSON.parse(fs.readFileSync(path.join(artifacts, 'apply.json'), 'utf8'));
    fs.writeFileSync(path.join(artifacts, 'apply.json'), JSON.stringify({ ...record, undoId: path.relative(path.join(artifacts, 'undo'), forged) }));
    const before = treeState(a.parent);
    await assert.rejects(undoTaskApply({ ...placeOf(a.board, a.root), taskId: task.id }), /apply record of task .* is damaged/);
    assert.equal(treeState(a.parent), before);
    assert.equal(a.read('a.txt'), 'b\n');
  });

  it('undo entries: a blob path that climbs out, a blob that is a symlink, a bad mode, a bad shape', async () => {
    const a = arena();
    const { task, undo } = await appliedTask(a);
    const entry = undo.record.entries[0];
    const link = path.join(undo.dir, 'before-9');
    fs.symlinkSync(path.join(a.outside, 'secret.txt'), link);
    const forgeries: Array<[unknown, RegExp]> = [
      [{ ...undo.record, entries: [{ ...entry, before: { blob: '../../../../../../outside/secret.txt', mode: '100644' } }] }, /damaged/],
      [{ ...undo.record, entries: [{ ...entry, before: { blob: 'before-9', mode: '100644' } }] }, /damaged/],
      [{ ...undo.record, entries: [{ ...entry, before: { blob: 'before-0', mode: '040000' } }] }, /damaged/],
      [{ ...undo.record, entries: [{ ...entry, before: { data: 'not base64!', mode: '100644' } }] }, /damaged/],
      [{ ...undo.record, entries: [{ ...entry, before: { mode: '100644' } }] }, /damaged/],
      [{ ...undo.record, entries: 'a.txt' }, /damaged/],
      [{ ...undo.record, entries: [{ path: 42, afterHash: 'absent' }] }, /damaged|not a path/],
      ['not an object', /damaged/],
    ];
    for (const [record, message] of forgeries) {
      fs.writeFileSync(undo.file, JSON.stringify(record));
      const before = treeState(a.parent);
      await assert.rejects(undoTaskApply({ ...placeOf(a.board, a.root), taskId: task.id }), message);
      assert.equal(treeState(a.parent), before);
    }
    fs.writeFileSync(undo.file, '{ not json');
    await assert.rejects(undoTaskApply({ ...placeOf(a.board, a.root), taskId: task.id }), /damaged/);
    assert.equal(fs.readFileSync(path.join(a.outside, 'secret.txt'), 'utf8'), 'secret\n');
  });

  it('a crafted base in the board result never reaches git as an option', async () => {
    const a = arena();
    const index = path.join(a.outside, 'written-by-git');
    a.board.post({ title: 'crafted base' });
    const claim = a.board.claim({ agent: 'x' });
    assert.ok(claim);
    const dir = a.board.artifactsDir(claim.task.id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'result.patch'), addFilePatch('new.txt', 'n'));
    a.board.complete(claim, { summary: 'ok', patchFile: path.join(dir, 'result.patch'), base: `--index-output=${index}`, files: [] });
    await assert.rejects(applyTaskPatch({ ...placeOf(a.board, a.root), taskId: claim.task.id }), /no base snapshot/);
    // Without a valid base the follow-up starts from the current files; git is never handed the option.
    await postFollowUpTask({ ...placeOf(a.board, a.root), taskId: claim.task.id, comment: 'more' });
    assert.ok(!fs.existsSync(index), 'git wrote nothing outside');
  });

  it('records written into the board never follow a planted symlink (apply.json, discarded.json)', async () => {
    const a = arena();
    const [first, second] = await runTasks(a, [
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'c.txt'), 'c\n') },
    ]);
    const secret = path.join(a.outside, 'secret.txt');
    fs.symlinkSync(secret, path.join(a.board.artifactsDir(first.id), 'apply.json'));
    fs.symlinkSync(secret, path.join(a.board.artifactsDir(second.id), 'discarded.json'));
    // A link as the apply record is a damaged record: refused, the link's target untouched.
    await assert.rejects(applyTaskPatch({ ...placeOf(a.board, a.root), taskId: first.id }), /apply record of task .* is damaged: it is not a plain file/);
    assert.equal(a.read('a.txt'), 'a\n');
    fs.rmSync(path.join(a.board.artifactsDir(first.id), 'apply.json'));
    const outcome = await applyTaskPatch({ ...placeOf(a.board, a.root), taskId: first.id });
    assert.equal(outcome.status, 'applied');
    (await discardTaskPatch(placeOf(a.board), second.id));
    assert.equal(fs.readFileSync(secret, 'utf8'), 'secret\n');
    assert.ok(fs.lstatSync(path.join(a.board.artifactsDir(first.id), 'apply.json')).isFile());
    assert.ok(fs.lstatSync(path.join(a.board.artifactsDir(second.id), 'discarded.json')).isFile(), 'the planted link was replaced');
    // And the undo still works from the record that replaced the link.
    await undoTaskApply({ ...placeOf(a.board, a.root), taskId: first.id });
    assert.equal(a.read('a.txt'), 'a\n');
  });
});
