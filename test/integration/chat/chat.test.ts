// The swarm's language-model tools inside a real VS Code extension host: agent mode's way of calling
// them (vscode.lm.invokeTool) posts on the workspace's real board. Needs registerChatIntegrations
// wired into activate() (src/extension/integrations.ts).
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { FileBoard } from '../../../src/core/board';

const EXTENSION_ID = 'agent-swarm.agent-swarm';
const POST_TOOL = 'agentSwarm_postTasks';
const STATUS_TOOL = 'agentSwarm_status';

function boardRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a workspace folder is open');
  return path.join(folder.uri.fsPath, '.swarm');
}

function textOf(result: vscode.LanguageModelToolResult): string {
  return result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
}

suite('Chat integration', () => {
  suiteSetup(async function () {
    const lm = vscode.lm as Partial<typeof vscode.lm> | undefined;
    // engines.vscode (^1.100) guarantees the tool API: a host without it is a failure, not a skip.
    assert.strictEqual(typeof lm?.invokeTool, 'function', `this VS Code (${vscode.version}) has no vscode.lm.invokeTool`);
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
  });

  test('the swarm tools are registered with the host', () => {
    const names = vscode.lm.tools.map((tool) => tool.name);
    assert.ok(names.includes(POST_TOOL), `${POST_TOOL} among ${names.join(', ')}`);
    assert.ok(names.includes(STATUS_TOOL));
  });

  test('invokeTool posts a per-file map task on the board and status reads it back', async () => {
    const title = `From chat ${Date.now()}`;
    const posted = await vscode.lm.invokeTool(POST_TOOL, { input: { title, prompt: 'fix it', files: ['src/a.ts', 'src/b.ts'], perFile: true }, toolInvocationToken: undefined });
    assert.match(textOf(posted), /Posted a map task with 2 children/);
    const board = FileBoard.open({ root: boardRoot() });
    try {
      const parent = board.list().find((task) => task.title === title);
      assert.ok(parent, 'the map task is on the board');
      const children = board.list().filter((task) => task.parentId === parent.id);
      assert.deepStrictEqual(children.map((task) => task.files[0]).sort(), ['src/a.ts', 'src/b.ts']);
      const status = await vscode.lm.invokeTool(STATUS_TOOL, { input: { taskId: parent.id }, toolInvocationToken: undefined });
      assert.match(textOf(status), new RegExp(`Task ${parent.id.replace('.', '\\.')} "${title}" is waiting\\. 0/2 done`));
      board.cancel(parent.id);
    } finally {
      board.close();
    }
  });
});
