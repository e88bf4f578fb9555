// Deliberately hanging: the test starts a detached process of its own (a new session, as a
// terminal would) and then never finishes. The launcher's self-test checks that the run times out
// or is interrupted, exits non-zero, and that no process it started (this one included) survives.
import { spawn } from 'child_process';
import * as vscode from 'vscode';

describe('Hanging', () => {
  it('never finishes', async function () {
    this.timeout(0);
    const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    // The workspace path in its command line lets the self-test find it if it survives.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', workspace], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    console.log(`hanging now; started pid ${child.pid}`);
    await new Promise(() => undefined);
  });
});
