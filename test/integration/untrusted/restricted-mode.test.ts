// Runs in the `untrusted` run (test/integration/runs.ts): workspace trust is on and the fixture
// folder is not trusted, so VS Code is in Restricted Mode. Suites that prove nothing is spawned in
// an untrusted workspace belong in this folder.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { descendantProcesses, waitFor, workspaceRoot } from '../support/workspace';

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

// ---------------------------------------------------------------------------------------------
// Nothing starts, and swarm.config.json (which names commands) is not honoured, until trust.

interface RestrictedSession {
  isRunning: boolean;
  resolveExecutor(): unknown;
  projectConfig: { honoured: boolean; config: Record<string, unknown> };
}

type Shown = { message: string; items: string[] };

async function restrictedSession(): Promise<RestrictedSession> {
  const extension = vscode.extensions.getExtension<{ session: RestrictedSession }>('agent-swarm.agent-swarm');
  assert.ok(extension);
  return (await extension.activate()).session;
}

describe('Restricted Mode: no agents, no project configuration', function () {
  this.timeout(60_000);
  const errors: Shown[] = [];
  const infos: Shown[] = [];
  const original = { error: vscode.window.showErrorMessage, info: vscode.window.showInformationMessage };
  const marker = (): string => path.join(workspaceRoot(), 'config-command-ran.txt');
  const configFile = (): string => path.join(workspaceRoot(), 'swarm.config.json');

  before(async () => {
    // This module shares the extension's vscode API object, so the messages it shows land here.
    const capture = (into: Shown[]) => (message: string, ...items: unknown[]) => {
      into.push({ message, items: items.filter((item): item is string => typeof item === 'string') });
      return Promise.resolve(undefined);
    };
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = capture(errors);
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = capture(infos);
    await restrictedSession();
    fs.writeFileSync(
      configFile(),
      JSON.stringify({ executors: { touch: { type: 'command', command: `touch '${marker()}'` } }, defaultExecutor: 'touch', worktrees: { setupCommand: `touch '${marker()}'` } }),
    );
  });

  after(async () => {
    const settings = vscode.workspace.getConfiguration('agentSwarm');
    await settings.update('executor', undefined, vscode.ConfigurationTarget.Global);
    await settings.update('isolation', undefined, vscode.ConfigurationTarget.Global);
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = original.error;
    (vscode.window as { showInformationMessage: unknown }).showInformationMessage = original.info;
    fs.rmSync(configFile(), { force: true });
    fs.rmSync(marker(), { force: true });
  });

  it('swarm.config.json is ignored, and the user is told so once', async () => {
    const session = await restrictedSession();
    const notice = await waitFor('the Restricted Mode notice', () => infos.find((entry) => entry.message.includes('swarm.config.json')));
    assert.match(notice.message, /ignored in Restricted Mode/);
    assert.match(notice.message, /Trust the folder/);
    assert.strictEqual(session.projectConfig.honoured, false);
    assert.deepStrictEqual(session.projectConfig.config, {}, 'nothing of the file is in force');
    assert.throws(() => session.resolveExecutor(), /No executor is configured/, 'the file\'s defaultExecutor is not used');
    fs.writeFileSync(configFile(), fs.readFileSync(configFile(), 'utf8') + '\n');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.strictEqual(infos.filter((entry) => entry.message.includes('swarm.config.json')).length, 1, 'said once, not on every change');
  });

  it('Swarm: Start starts no pool and no agent process, and says why', async () => {
    const session = await restrictedSession();
    // An executor in the user's settings and folder isolation: everything a trusted workspace
    // needs to start agents (the config suite starts them this way), so only trust stops it here.
    const settings = vscode.workspace.getConfiguration('agentSwarm');
    await settings.update('executor', { type: 'command', command: `touch '${marker()}'` }, vscode.ConfigurationTarget.Global);
    await settings.update('isolation', 'direct', vscode.ConfigurationTarget.Global);
    session.resolveExecutor();
    errors.length = 0;
    await vscode.commands.executeCommand('agentSwarm.start');
    const told = await waitFor('the reason Swarm: Start did nothing', () => errors.find((entry) => /Restricted Mode/.test(entry.message)));
    assert.match(told.message, /Trust the folder/);
    assert.strictEqual(session.isRunning, false);
    // Give a wrongly started pool time to fork its agents before looking for them.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const agents = descendantProcesses(process.pid).filter((child) => /agent\.js/.test(child.args));
    assert.deepStrictEqual(agents, [], `no agent.js below the extension host (pid ${process.pid})`);
    assert.strictEqual(session.isRunning, false);
    assert.strictEqual(fs.existsSync(marker()), false, 'no command from swarm.config.json ran');
  });
});
