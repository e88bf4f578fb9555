// Runs in the `untrusted` run (test/integration/runs.ts): workspace trust is on and the fixture
// folder is not trusted, so VS Code is in Restricted Mode. Suites that prove nothing is spawned in
// an untrusted workspace belong in this folder.
import * as assert from 'assert';
import * as vscode from 'vscode';

describe('Restricted Mode', () => {
  it('the workspace is not trusted', () => {
    assert.strictEqual(vscode.workspace.isTrusted, false);
  });

  it('the extension still activates (it declares limited support)', async () => {
    const extension = vscode.extensions.getExtension('agent-swarm.agent-swarm');
    assert.ok(extension, 'the extension is loaded in Restricted Mode');
    await extension.activate();
    assert.strictEqual(extension.isActive, true);
  });
});
