// "Fix with swarm" inside a real VS Code extension host: the code lens sits above lines with errors
// or warnings (and only there), follows agentSwarm.codeLens.enabled, the same action is a quick fix,
// the fix commands post tasks that carry the file, range, messages and code (unsaved edits
// included), fix-all posts a map task with one child per file; and the whole pipeline — a command
// executor in a git worktree — leaves a patch while the user's file stays as it was. Runs in the
// "fix" run: a git copy of the basic fixture.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import type { Task } from '../../../src/core/board/types';
import { readTaskPatch } from '../../../src/core/patch';
import type { FixPayload } from '../../../src/extension/logic/fixTask';
import { extensionApi as api, openBoard, waitFor, workspaceFileUri as fileUri, workspaceRoot } from '../support/workspace';
import { placeOf } from '../../unit/patch/place';

const LENS_TITLE = /^Fix with swarm/;


async function fixLenses(uri: vscode.Uri): Promise<vscode.CodeLens[]> {
  // The lens command works on open documents only ("Illegal argument" otherwise).
  await vscode.workspace.openTextDocument(uri);
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
  return lenses.filter((lens) => LENS_TITLE.test(lens.command?.title ?? ''));
}

/** Quick fixes at a position; a request VS Code cancels (the model changed under it) is asked again. */
async function quickFixes(uri: vscode.Uri, range: vscode.Range): Promise<vscode.CodeAction[]> {
  await vscode.workspace.openTextDocument(uri);
  return waitFor('an answer from the code action providers', async () => {
    try {
      return (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, range, vscode.CodeActionKind.QuickFix.value)) ?? [];
    } catch (problem) {
      if (problem instanceof Error && problem.name === 'Canceled') return undefined;
      throw problem;
    }
  });
}

function error(line: number, message: string, severity = vscode.DiagnosticSeverity.Error): vscode.Diagnostic {
  const diagnostic = new vscode.Diagnostic(new vscode.Range(line, 2, line, 20), message, severity);
  diagnostic.source = 'fixture';
  return diagnostic;
}

async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('agentSwarm').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Cancels what earlier tests left pending, so a started pool works only on the test's own task. */
function cancelOpenTasks(board: FileBoard): void {
  for (const task of board.list()) {
    if (task.status === 'pending' || task.status === 'waiting') {
      try {
        board.cancel(task.id);
      } catch {
        // Already ended (a parent whose children were cancelled first).
      }
    }
  }
}

suite('Fix with swarm', () => {
  const GREET = 'src/greet.ts';
  const EXTRA = 'src/extra.ts';
  let diagnostics: vscode.DiagnosticCollection;
  let greetText: string;

  suiteSetup(async () => {
    await api();
    greetText = fs.readFileSync(path.join(workspaceRoot(), GREET), 'utf8');
    fs.writeFileSync(path.join(workspaceRoot(), EXTRA), 'export const answer = 42;\nexport const question = "unknown";\n');
    diagnostics = vscode.languages.createDiagnosticCollection('fix-test');
    // Two problems on line 2 (one lens), none on lines 1 and 3.
    diagnostics.set(fileUri(GREET), [error(1, 'Type "number" is not assignable to type "string".'), error(1, 'Unexpected template literal.', vscode.DiagnosticSeverity.Warning)]);
    diagnostics.set(fileUri(EXTRA), [error(1, 'question is never answered')]);
    diagnostics.set(fileUri('README.md'), [error(0, 'heading style')]);
  });

  suiteTeardown(async () => {
    diagnostics?.dispose();
    await vscode.commands.executeCommand('agentSwarm.stop');
    await setSetting('executor', undefined);
    await setSetting('codeLens.enabled', undefined);
    await setSetting('codeLens.todo', undefined);
  });

  test('a "Fix with swarm" lens above the line with problems, one for both, none on clean lines', async () => {
    const lenses = await waitFor('the fix lens on src/greet.ts', async () => {
      const found = await fixLenses(fileUri(GREET));
      return found.length > 0 ? found : undefined;
    });
    assert.deepStrictEqual(
      lenses.map((lens) => lens.range.start.line),
      [1],
      'exactly one lens, on line 2; lines 1 and 3 are clean',
    );
    assert.strictEqual(lenses[0].command?.title, 'Fix with swarm (2 problems)');
    assert.strictEqual(lenses[0].command?.command, 'agentSwarm.fixProblems');
  });

  test('agentSwarm.codeLens.enabled off removes the lenses, on brings them back', async () => {
    await setSetting('codeLens.enabled', false);
    try {
      assert.deepStrictEqual(await fixLenses(fileUri(GREET)), []);
    } finally {
      await setSetting('codeLens.enabled', undefined);
    }
    assert.strictEqual((await fixLenses(fileUri(GREET))).length, 1);
  });

  test('with agentSwarm.codeLens.todo on, TODO/FIXME comments get a lens too, and it posts a task for the comment', async () => {
    const TODOS = 'src/todo.ts';
    fs.writeFileSync(path.join(workspaceRoot(), TODOS), 'export const a = 1;\n// TODO: handle empty names\nexport const b = 2;\n');
    assert.deepStrictEqual(await fixLenses(fileUri(TODOS)), [], 'no TODO lens while the setting is off (the default)');
    await setSetting('codeLens.todo', true);
    try {
      const lenses = await fixLenses(fileUri(TODOS));
      assert.deepStrictEqual(lenses.map((lens) => lens.range.start.line), [1]);
      const lens = lenses[0];
      assert.ok(lens.command?.arguments);
      const posted = await vscode.commands.executeCommand<Task | undefined>(lens.command.command, ...lens.command.arguments);
      assert.ok(posted);
      const payload = openBoard().get(posted.id)?.payload as FixPayload;
      assert.deepStrictEqual(payload.problems.map((problem) => [problem.severity, problem.message]), [['todo', 'TODO: handle empty names']]);
    } finally {
      await setSetting('codeLens.todo', undefined);
    }
  });

  test('the light bulb offers "Fix with swarm" as a quick fix for the problems under the cursor', async () => {
    const action = await waitFor('the quick fix', async () => (await quickFixes(fileUri(GREET), new vscode.Range(1, 3, 1, 3))).find((candidate) => candidate.title === 'Fix with swarm'));
    assert.strictEqual(action.kind?.value, vscode.CodeActionKind.QuickFix.value);
    assert.strictEqual(action.command?.command, 'agentSwarm.fixProblems');
    assert.strictEqual((action.command?.arguments?.[1] as unknown[] | undefined)?.length, 2, `the quick fix covers both problems on the line: ${JSON.stringify({ diagnostics: action.diagnostics, args: action.command?.arguments })}`);
    const posted = await vscode.commands.executeCommand<Task | undefined>(action.command.command, ...(action.command.arguments ?? []));
    assert.ok(posted, 'the quick fix posts a task');
    assert.deepStrictEqual((openBoard().get(posted.id)?.payload as FixPayload).range, { startLine: 1, endLine: 1 });
    const clean = await quickFixes(fileUri(GREET), new vscode.Range(2, 0, 2, 0));
    assert.strictEqual(clean.find((candidate) => candidate.title === 'Fix with swarm'), undefined, 'no quick fix on a clean line');
  });

  test('running the lens posts one task with the file, range, messages and surrounding code', async () => {
    const [lens] = await fixLenses(fileUri(GREET));
    assert.ok(lens?.command?.arguments, 'the lens carries its arguments');
    const posted = await vscode.commands.executeCommand<Task | undefined>(lens.command.command, ...lens.command.arguments);
    assert.ok(posted, 'the command returns the posted task');
    const task = openBoard().get(posted.id);
    assert.ok(task, 'the task is on the board');
    assert.strictEqual(task.status, 'pending');
    assert.strictEqual(task.type, 'fix');
    assert.deepStrictEqual(task.files, [GREET]);
    const payload = task.payload as FixPayload;
    assert.strictEqual(payload.file, GREET);
    assert.deepStrictEqual(payload.range, { startLine: 1, endLine: 1 });
    assert.deepStrictEqual(payload.problems.map((problem) => problem.message).sort(), ['Type "number" is not assignable to type "string".', 'Unexpected template literal.']);
    assert.match(payload.context.code, /return `Hello, \$\{name\}!`;/);
    assert.match(payload.context.code, /export function greet/);
    assert.match(task.prompt, /src\/greet\.ts/);
    assert.match(task.prompt, /line 2 \(error, fixture\): Type "number" is not assignable/);
    assert.match(task.prompt, /return `Hello/);
  });

  test('the quick fix posts the editor text, unsaved edits included', async () => {
    const document = await vscode.workspace.openTextDocument(fileUri(EXTRA));
    const editor = await vscode.window.showTextDocument(document);
    await editor.edit((edit) => edit.insert(new vscode.Position(document.lineCount - 1, 0), '// typed but not saved\n'));
    assert.ok(document.isDirty);
    try {
      const posted = await vscode.commands.executeCommand<Task | undefined>('agentSwarm.fixProblems', document.uri, vscode.languages.getDiagnostics(document.uri));
      assert.ok(posted);
      const payload = openBoard().get(posted.id)?.payload as FixPayload;
      assert.strictEqual(payload.file, EXTRA);
      assert.deepStrictEqual(payload.problems.map((problem) => problem.message), ['question is never answered']);
      assert.match(payload.context.code, /typed but not saved/);
      assert.doesNotMatch(fs.readFileSync(document.uri.fsPath, 'utf8'), /typed but not saved/, 'the file on disk was not saved by posting');
    } finally {
      await vscode.commands.executeCommand('workbench.action.files.revert');
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  });

  test('Fix File posts all problems of the file in one task', async () => {
    const posted = await vscode.commands.executeCommand<Task | undefined>('agentSwarm.fixFile', fileUri(GREET));
    assert.ok(posted);
    const task = openBoard().get(posted.id);
    assert.strictEqual((task?.payload as FixPayload).problems.length, 2);
    assert.deepStrictEqual(task?.files, [GREET]);
  });

  test('Fix All Problems on a folder posts a map task with one child per file with problems', async () => {
    const posted = await vscode.commands.executeCommand<Task | undefined>('agentSwarm.fixAllProblems', fileUri('src'));
    assert.ok(posted, 'a map task was posted');
    const board = openBoard();
    const parent = board.get(posted.id);
    assert.ok(parent);
    assert.strictEqual(parent.status, 'waiting');
    assert.strictEqual(parent.childCount, 2, 'src/extra.ts and src/greet.ts; README.md is outside src/');
    const children = board.list().filter((task) => task.parentId === parent.id);
    assert.deepStrictEqual(children.map((child) => child.files).sort(), [[EXTRA], [GREET]]);
    assert.ok(children.every((child) => child.type === 'fix' && (child.payload as FixPayload).problems.length > 0));
    assert.deepStrictEqual(board.progress(parent.id).total, 2);

    const whole = await vscode.commands.executeCommand<Task | undefined>('agentSwarm.fixAllProblems');
    assert.ok(whole);
    const files = openBoard().list().filter((task) => task.parentId === whole.id).flatMap((task) => task.files);
    assert.ok(['README.md', EXTRA, GREET].every((file) => files.includes(file)), `the workspace-wide fix covers README.md too (got ${files.join(', ')})`);
  });

  test('Fix All Problems on a clean folder posts nothing', async () => {
    fs.mkdirSync(path.join(workspaceRoot(), 'clean'), { recursive: true });
    const before = openBoard().list().length;
    const posted = await vscode.commands.executeCommand<Task | undefined>('agentSwarm.fixAllProblems', fileUri('clean'));
    assert.strictEqual(posted, undefined);
    assert.strictEqual(openBoard().list().length, before);
  });

  test('the pipeline: a command executor fixes the file in a worktree; the result is a patch and the user\'s file is untouched', async function () {
    this.timeout(180_000);
    cancelOpenTasks(openBoard());
    await setSetting('executor', { type: 'command', command: 'sed -i "s/Hello/Hi/" {file}' });
    const [lens] = await fixLenses(fileUri(GREET));
    assert.ok(lens?.command?.arguments);
    const posted = await vscode.commands.executeCommand<Task | undefined>(lens.command.command, ...lens.command.arguments);
    assert.ok(posted);
    await vscode.commands.executeCommand('agentSwarm.start');
    const swarm = await api();
    await waitFor('the pool to run', () => swarm.session.isRunning, 30_000);
    const done = await waitFor(
      'the fix task to end',
      () => {
        const task = openBoard().get(posted.id);
        return task && ['done', 'dead', 'cancelled'].includes(task.status) ? task : undefined;
      },
      150_000,
    );
    assert.strictEqual(done.status, 'done', `the task ended ${done.status}: ${done.lastError?.message ?? ''}`);
    const patch = (await readTaskPatch(placeOf(openBoard()), posted.id));
    assert.ok(patch, 'the result carries a patch');
    assert.deepStrictEqual(patch.files.map((file) => [file.path, file.status]), [[GREET, 'modified']]);
    assert.match(patch.text, /^-\s+return `Hello, \$\{name\}!`;$/m);
    assert.match(patch.text, /^\+\s+return `Hi, \$\{name\}!`;$/m);
    assert.strictEqual(fs.readFileSync(path.join(workspaceRoot(), GREET), 'utf8'), greetText, 'the user\'s file is unchanged until the patch is applied');
  });
});
