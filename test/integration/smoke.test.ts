// Proves the harness itself: this runs inside a real VS Code extension host, the extension under
// development is there and activates, and every command it contributes is registered.
import * as assert from 'assert';
import * as vscode from 'vscode';

const EXTENSION_ID = 'agent-swarm.agent-swarm';

interface Manifest {
  contributes?: { commands?: { command: string; title: string }[] };
}

suite('Smoke', () => {
  test('runs inside a real VS Code extension host', () => {
    console.log(`vscode.version ${vscode.version} (${vscode.env.appName}, ${vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop'} UI)`);
    assert.match(vscode.version, /^\d+\.\d+\.\d+/);
    assert.ok(vscode.workspace.workspaceFolders?.length, 'a workspace folder is open');
  });

  test('the extension under development activates', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is loaded`);
    await extension.activate();
    assert.strictEqual(extension.isActive, true);
  });

  test('every command in contributes.commands is registered', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
    const contributed = ((extension.packageJSON as Manifest).contributes?.commands ?? []).map((entry) => entry.command);
    assert.ok(contributed.length > 0, 'package.json contributes commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((command) => !registered.has(command));
    assert.deepStrictEqual(missing, [], 'contributed commands that are not registered');
  });

  test('the workspace is a throwaway copy of the fixture', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    assert.ok(!folder.uri.fsPath.includes('/test/fixtures/'), `workspace ${folder.uri.fsPath} is not the fixture itself`);
    const board = await vscode.workspace.fs.stat(vscode.Uri.joinPath(folder.uri, '.swarm', 'board.json'));
    assert.strictEqual(board.type, vscode.FileType.File);
  });
});
