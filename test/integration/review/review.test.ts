// Review in the diff editor, inside a real VS Code extension host on a git copy of the basic
// fixture: results open in the diff editor (one file) and the multi-file diff (several), Apply
// writes through an undoable edit (Edit > Undo and Undo Apply restore the file), unsaved editor text
// is merged three-way, conflicts are reported and nothing is written, Discard leaves the file
// untouched, Apply This File takes one file, and Request Changes posts a follow-up that starts from
// the result. Results are made by the real worktree isolation of the core (an edit function plays
// the agent); the full pool pipeline is proven in the fix run.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Task } from '../../../src/core/board/types';
import { applyRecord, isDiscarded, type ApplyOutcome } from '../../../src/core/patch';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { openBoard, waitFor, workspaceFileUri as fileUri, workspaceRoot } from '../support/workspace';
import { placeOf } from '../../unit/patch/place';

const GREET = 'src/greet.ts';

const readFile = (relative: string) => fs.readFileSync(path.join(workspaceRoot(), relative), 'utf8');
const writeFile = (relative: string, text: string) => fs.writeFileSync(path.join(workspaceRoot(), relative), text);

let slot = 0;
/** A done task whose result is what `edits` do in its worktree (null deletes a file), then `also`. */
async function makeResult(title: string, edits: Record<string, string | null>, also?: (cwd: string) => void): Promise<Task> {
  const board = openBoard();
  const isolation = createWorktreeIsolation({ workspaceRoot: workspaceRoot(), include: [] });
  board.post({ title, files: Object.keys(edits), priority: 9999 });
  const claim = board.claim({ agent: 'review-test' });
  assert.ok(claim, 'the posted task can be claimed');
  const name = `review-${(slot += 1)}`;
  const prepared = await isolation.prepare(claim.task, name, board.artifactsDir(claim.task.id));
  for (const [relative, text] of Object.entries(edits)) {
    const file = path.join(prepared.cwd, relative);
    if (text === null) fs.rmSync(file);
    else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
  }
  also?.(prepared.cwd);
  const changes = await isolation.collect(claim.task, name, prepared, board.artifactsDir(claim.task.id));
  return board.complete(claim, { summary: 'edited by the test', executor: 'test', durationMs: 1, ...changes });
}

const apply = (taskId: string, request?: object) => vscode.commands.executeCommand<ApplyOutcome | undefined>('agentSwarm.task.apply', taskId, request);

async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.files.revert').then(undefined, () => undefined);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Every tab's input, for finding the review editors. */
function tabInputs(): unknown[] {
  return vscode.window.tabGroups.all.flatMap((group) => group.tabs.map((tab) => tab.input));
}

suite('Review in the diff editor', () => {
  let greetText = '';
  suiteSetup(() => {
    greetText = readFile(GREET);
  });
  teardown(async () => {
    await closeAllEditors();
    writeFile(GREET, greetText);
  });

  test('Review opens a one-file result in the diff editor with the snapshot and the result', async () => {
    const task = await makeResult('Shout the greeting', { [GREET]: greetText.replace('Hello', 'HELLO') });
    await vscode.commands.executeCommand('agentSwarm.task.review', task.id);
    const diff = await waitFor('the diff tab', () => tabInputs().find((input): input is vscode.TabInputTextDiff => input instanceof vscode.TabInputTextDiff && input.modified.scheme === 'swarm-result'));
    assert.strictEqual((await vscode.workspace.openTextDocument(diff.original)).getText(), greetText);
    assert.strictEqual((await vscode.workspace.openTextDocument(diff.modified)).getText(), greetText.replace('Hello', 'HELLO'));
    assert.strictEqual(readFile(GREET), greetText, 'reviewing writes nothing');
  });

  test('a result with several files opens in the multi-file diff editor', async () => {
    const task = await makeResult('Two files', { [GREET]: greetText.replace('Hello', 'Hey'), 'src/added.ts': 'export const added = 1;\n' });
    await vscode.commands.executeCommand('agentSwarm.task.review', task.id);
    const tab = await waitFor('the multi-file diff tab', () =>
      vscode.window.tabGroups.all.flatMap((group) => group.tabs).find((candidate) => {
        const input = candidate.input as { textDiffs?: unknown } | undefined;
        return typeof input === 'object' && input !== null && Array.isArray(input.textDiffs);
      }),
    );
    assert.match(tab.label, /^Swarm result: Two files \(\+2 −1\)/);
    // Pairs with two sides are listed in the tab input; the added file has no original side.
    const pairs = (tab.input as { textDiffs: Array<{ original: vscode.Uri; modified: vscode.Uri }> }).textDiffs;
    assert.deepStrictEqual(pairs.map((pair) => [pair.original.query, pair.modified.path]), [[`task=${task.id}&side=original`, `/${GREET}`]]);
  });

  test('Apply writes the result through an undoable edit; Edit > Undo restores the file', async () => {
    const task = await makeResult('Hi instead of Hello', { [GREET]: greetText.replace('Hello', 'Hi') });
    const outcome = await apply(task.id);
    assert.strictEqual(outcome?.status, 'applied', outcome?.message);
    assert.strictEqual(readFile(GREET), greetText.replace('Hello', 'Hi'), 'the file on disk holds the result (it was saved)');
    assert.strictEqual(applyRecord(placeOf(openBoard()), task.id)?.status, 'applied');
    const editor = await vscode.window.showTextDocument(fileUri(GREET));
    assert.strictEqual(editor.document.isDirty, false);
    await vscode.commands.executeCommand('undo');
    await waitFor('the undo to restore the text', () => editor.document.getText() === greetText);
  });

  test('a result of only a new file, or only a deletion, is written: Apply creates the script with the executable bit its result gives it, and removes it', async () => {
    const script = 'src/run.sh';
    const scriptPath = path.join(workspaceRoot(), script);
    const made = await makeResult('A runnable script', { [script]: '#!/bin/sh\necho run\n' }, (cwd) => fs.chmodSync(path.join(cwd, script), 0o755));
    assert.strictEqual((await apply(made.id))?.status, 'applied');
    assert.ok(fs.existsSync(scriptPath), 'the new file is on disk');
    assert.strictEqual(fs.statSync(scriptPath).mode & 0o111, 0o111, 'executable after the apply');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: workspaceRoot(), env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    git('add', script);
    git('commit', '-q', '-m', 'the script');
    const plain = await makeResult('Not runnable', { [script]: '#!/bin/sh\necho walk\n' }, (cwd) => fs.chmodSync(path.join(cwd, script), 0o644));
    assert.strictEqual((await apply(plain.id))?.status, 'applied');
    assert.strictEqual(readFile(script), '#!/bin/sh\necho walk\n');
    assert.strictEqual(fs.statSync(scriptPath).mode & 0o111, 0, 'not executable after the second apply');
    const gone = await makeResult('No script', { [script]: null });
    assert.strictEqual((await apply(gone.id))?.status, 'applied');
    assert.ok(!fs.existsSync(scriptPath), 'the deleted file is gone');
    git('rm', '-q', '--cached', script);
    git('commit', '-q', '-m', 'no script');
  });

  test('Undo Apply restores every file of a multi-file apply, new and deleted files included', async () => {
    writeFile('src/old.ts', 'export const old = true;\n');
    const task = await makeResult('Rework', { [GREET]: greetText.replace('Hello', 'Howdy'), 'src/new.ts': 'export const fresh = 1;\n', 'src/old.ts': null });
    const outcome = await apply(task.id);
    assert.strictEqual(outcome?.status, 'applied', outcome?.message);
    assert.ok(fs.existsSync(path.join(workspaceRoot(), 'src/new.ts')));
    assert.ok(!fs.existsSync(path.join(workspaceRoot(), 'src/old.ts')));
    const restored = await vscode.commands.executeCommand<string[]>('agentSwarm.task.undoApply', task.id);
    assert.deepStrictEqual([...(restored ?? [])].sort(), [GREET, 'src/new.ts', 'src/old.ts']);
    assert.strictEqual(readFile(GREET), greetText);
    assert.ok(!fs.existsSync(path.join(workspaceRoot(), 'src/new.ts')), 'the added file is gone again');
    assert.strictEqual(readFile('src/old.ts'), 'export const old = true;\n', 'the deleted file is back');
    assert.strictEqual(applyRecord(placeOf(openBoard()), task.id), undefined, 'the task is no longer marked applied');
    fs.rmSync(path.join(workspaceRoot(), 'src/old.ts'));
  });

  test('Apply and Undo Apply of results that swap a folder and a file: the folder and its files come back, then the file', async () => {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: workspaceRoot(), env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    const swap = path.join(workspaceRoot(), 'swap');
    fs.mkdirSync(path.join(swap, 'sub'), { recursive: true });
    writeFile('swap/a.txt', 'a\n');
    writeFile('swap/sub/b.txt', 'b\n');
    git('add', 'swap');
    git('commit', '-q', '-m', 'a folder');
    const toFile = await makeResult('Folder to file', {}, (cwd) => {
      fs.rmSync(path.join(cwd, 'swap'), { recursive: true });
      fs.writeFileSync(path.join(cwd, 'swap'), 'now a file\n');
    });
    assert.strictEqual((await apply(toFile.id))?.status, 'applied');
    assert.strictEqual(readFile('swap'), 'now a file\n');
    const restored = await vscode.commands.executeCommand<string[]>('agentSwarm.task.undoApply', toFile.id);
    assert.deepStrictEqual([...(restored ?? [])].sort(), ['swap', 'swap/a.txt', 'swap/sub/b.txt']);
    assert.deepStrictEqual([readFile('swap/a.txt'), readFile('swap/sub/b.txt')], ['a\n', 'b\n'], 'the folder and its files are back');

    git('rm', '-q', '-r', 'swap');
    writeFile('swap', 'a file\n');
    git('add', 'swap');
    git('commit', '-q', '-m', 'a file');
    const toFolder = await makeResult('File to folder', {}, (cwd) => {
      fs.rmSync(path.join(cwd, 'swap'));
      fs.mkdirSync(path.join(cwd, 'swap'));
      fs.writeFileSync(path.join(cwd, 'swap/x.txt'), 'x\n');
    });
    assert.strictEqual((await apply(toFolder.id))?.status, 'applied');
    assert.strictEqual(readFile('swap/x.txt'), 'x\n');
    await vscode.commands.executeCommand<string[]>('agentSwarm.task.undoApply', toFolder.id);
    assert.strictEqual(readFile('swap'), 'a file\n', 'the file is back');
    git('rm', '-q', 'swap');
    git('commit', '-q', '-m', 'no swap');
  });

  test('Apply merges with unsaved editor text three-way and keeps that editor unsaved', async () => {
    const task = await makeResult('Change the greeting', { [GREET]: greetText.replace('Hello', 'Hi') });
    const editor = await vscode.window.showTextDocument(fileUri(GREET));
    await editor.edit((builder) => builder.insert(new vscode.Position(0, 0), '// typed, not saved\n'));
    const outcome = await apply(task.id);
    assert.strictEqual(outcome?.status, 'applied-3way', outcome?.message);
    assert.strictEqual(editor.document.getText(), `// typed, not saved\n${greetText.replace('Hello', 'Hi')}`);
    assert.strictEqual(editor.document.isDirty, true, 'the user decides when to save');
    assert.strictEqual(readFile(GREET), greetText, 'the disk keeps the saved version');
  });

  test('a conflict with the user\'s edits is reported and nothing is written; markers on request', async () => {
    const task = await makeResult('Agent greeting', { [GREET]: greetText.replace('Hello', 'Agent hello') });
    const mine = greetText.replace('Hello', 'My hello');
    writeFile(GREET, mine);
    const outcome = await apply(task.id);
    assert.strictEqual(outcome?.status, 'conflict');
    assert.deepStrictEqual(outcome?.conflicts, [GREET]);
    assert.strictEqual(readFile(GREET), mine, 'nothing was written');
    assert.strictEqual(applyRecord(placeOf(openBoard()), task.id), undefined);
    const marked = await apply(task.id, { markers: true });
    assert.strictEqual(marked?.status, 'conflict');
    assert.match(readFile(GREET), /^<<<<<<< [\s\S]*My hello[\s\S]*=======[\s\S]*Agent hello[\s\S]*>>>>>>> /m);
  });

  test('of two parallel fixes to the same line, the second one conflicts after the first is applied', async () => {
    const first = await makeResult('First fix', { [GREET]: greetText.replace('Hello', 'First') });
    const second = await makeResult('Second fix', { [GREET]: greetText.replace('Hello', 'Second') });
    assert.strictEqual((await apply(first.id))?.status, 'applied');
    const outcome = await apply(second.id);
    assert.strictEqual(outcome?.status, 'conflict');
    assert.strictEqual(readFile(GREET), greetText.replace('Hello', 'First'), 'the first fix is not overwritten');
  });

  test('Discard marks the result discarded and leaves the file untouched; it can no longer be applied', async () => {
    const task = await makeResult('Unwanted', { [GREET]: greetText.replace('Hello', 'Nope') });
    await vscode.commands.executeCommand('agentSwarm.task.review', task.id);
    await vscode.commands.executeCommand('agentSwarm.task.discard', task.id);
    assert.ok(isDiscarded(placeOf(openBoard()), task.id));
    assert.strictEqual(readFile(GREET), greetText);
    await waitFor('the review tab to close', () => !tabInputs().some((input) => input instanceof vscode.TabInputTextDiff && input.modified.query.includes(task.id)));
    assert.strictEqual(await apply(task.id), undefined, 'the apply is refused');
    assert.strictEqual(readFile(GREET), greetText);
  });

  test('Apply This File applies one file of a result and opens it beside the snapshot', async () => {
    const task = await makeResult('Two changes', { [GREET]: greetText.replace('Hello', 'Yo'), 'README.md': '# changed\n' });
    const readme = readFile('README.md');
    const outcome = await vscode.commands.executeCommand<ApplyOutcome>('agentSwarm.review.applyFile', vscode.Uri.from({ scheme: 'swarm-result', path: `/${GREET}`, query: `task=${task.id}&side=result` }));
    assert.deepStrictEqual(outcome?.files, [GREET]);
    assert.strictEqual(readFile(GREET), greetText.replace('Hello', 'Yo'));
    assert.strictEqual(readFile('README.md'), readme, 'the other file is not applied');
    await waitFor('the applied-file diff', () => tabInputs().find((input) => input instanceof vscode.TabInputTextDiff && input.modified.scheme === 'file' && input.modified.fsPath === fileUri(GREET).fsPath));
  });

  test('Request Changes posts a follow-up task that starts from the result', async () => {
    const task = await makeResult('Partly right', { [GREET]: greetText.replace('Hello', 'Hallo') });
    const followUp = await vscode.commands.executeCommand<Task>('agentSwarm.review.requestChanges', task.id, 'Use English');
    assert.ok(followUp, 'a follow-up task was posted');
    assert.strictEqual(followUp.title, 'Follow-up: Use English');
    const payload = followUp.payload as { followUpOf?: string; startFrom?: string };
    assert.strictEqual(payload.followUpOf, task.id);
    assert.match(payload.startFrom ?? '', /^[0-9a-f]{40}$/);
    assert.deepStrictEqual(followUp.files, [GREET]);
    assert.strictEqual(openBoard().get(followUp.id)?.status, 'pending');
    openBoard().cancel(followUp.id);
  });
});
